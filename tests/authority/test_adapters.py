"""The adapter registry (wizard.authority.adapters): names and URLs resolved to the adapter that
claims them, the built-ins found without reading any metadata, and keyring's "fail" idea: an
adapter that cannot load, is no adapter, takes a taken name or says it is unusable is listed with
its reason and refused only when chosen, never a crash. The last test plants a real distribution
on sys.path and asks the real command line."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

from wizard.authority.adapters import (
    AuthorityAdapter,
    OpenOptions,
    available_authorities,
    installed_adapters,
    resolve,
)
from wizard.authority.builtin import DemoAdapter, MockHttpAdapter
from wizard.authority.client import HttpAuthority
from wizard.authority.connect import open_authority
from wizard.errors import UsageError

ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class FakeDistribution:
    name: str = "qoltanba-fake"
    version: str = "1.0"


@dataclass
class FakeEntryPoint:
    """What importlib.metadata gives: a name, its target, the distribution, and load()."""

    name: str
    target: object
    dist: FakeDistribution = FakeDistribution()  # frozen: one instance serves all

    @property
    def value(self) -> str:
        return f"fake_module:{self.name}"

    def load(self) -> object:
        if isinstance(self.target, Exception):
            raise self.target
        return self.target


class BankAdapter(AuthorityAdapter):
    title = "A bank's CA"
    url_schemes = ("https",)
    priority = 2.0

    def claims(self, spec: str) -> bool:
        return spec.startswith("https://ca.bank.kz")

    def open(self, spec, options):
        return HttpAuthority(spec)


class Sulky(AuthorityAdapter):
    title = "Needs a token"

    def usable(self) -> str | None:
        return "plug in the token first"


class Crashing(AuthorityAdapter):
    title = "Crashes when asked"

    def usable(self) -> str | None:
        raise RuntimeError("boom")


def points(*entries: FakeEntryPoint):
    return lambda: list(entries)


def never():
    raise AssertionError("the entry points were read")


def test_built_in_names_are_resolved_without_reading_any_metadata(tmp_path):
    demo = resolve("demo", entry_points=never)
    assert (demo.name, demo.spec) == ("demo", "demo") and isinstance(demo.adapter, DemoAdapter)
    authority = demo.open(OpenOptions(home=tmp_path))
    assert isinstance(authority, HttpAuthority)
    asyncio.run(authority.aclose())


def test_a_url_goes_to_the_adapter_that_claims_it_by_priority():
    bank = FakeEntryPoint("bank", BankAdapter)
    chosen = resolve("https://ca.bank.kz/renew", entry_points=points(bank))
    assert chosen.name == "bank" and chosen.spec == "https://ca.bank.kz/renew"
    other = resolve("https://other.example.kz/", entry_points=points(bank))
    assert other.name == "mock-http" and other.spec == "https://other.example.kz"
    served = resolve("http://127.0.0.1:8410", entry_points=points(bank))
    assert served.name == "mock-http" and isinstance(served.adapter, MockHttpAdapter)


@pytest.mark.parametrize(
    ("spec", "code"),
    [
        ("nonesuch", "authority_unknown"),
        ("ftp://127.0.0.1/", "authority_unclaimed"),
        ("http://example.kz/", "authority_bad_url"),  # mock-http's own rule: http on loopback
        ("mock-http", "authority_needs_url"),
        ("sulky", "authority_unusable"),
        ("crashing", "authority_unusable"),
        ("broken", "authority_unusable"),
    ],
)
def test_what_cannot_be_used_is_a_usage_error(spec, code):
    entries = points(
        FakeEntryPoint("sulky", Sulky),
        FakeEntryPoint("crashing", Crashing()),
        FakeEntryPoint("broken", ImportError("No module named 'pkcs11'")),
    )
    with pytest.raises(UsageError) as refused:
        resolve(spec, entry_points=entries)
    assert refused.value.code == code
    assert refused.value.exit_code == 2


def test_the_list_says_why_each_unusable_adapter_is_unusable():
    entries = installed_adapters(
        points(
            FakeEntryPoint("sulky", Sulky),
            FakeEntryPoint("crashing", Crashing),
            FakeEntryPoint("broken", ImportError("No module named 'pkcs11'")),
            FakeEntryPoint("notone", object()),
            FakeEntryPoint("demo", BankAdapter, FakeDistribution("squatter")),
            FakeEntryPoint("Bad_Name", BankAdapter),
            FakeEntryPoint("bank", BankAdapter),
        )
    )
    by_name = {(e.name, e.origin): e for e in entries}
    reasons = {
        name: e.unusable.message("en") if e.unusable else None for (name, _), e in by_name.items()
    }
    assert reasons["sulky"] == "plug in the token first"
    assert "RuntimeError: boom" in reasons["crashing"]
    assert "No module named 'pkcs11'" in reasons["broken"]
    assert "not an authority adapter" in reasons["notone"]
    assert "Bad_Name" in reasons and "lower-case" in reasons["Bad_Name"]
    assert reasons["bank"] is None
    squatter = by_name[("demo", "squatter 1.0")]
    assert not squatter.usable and "qoltanba" in squatter.unusable.message("en")
    assert by_name[("demo", "qoltanba")].usable  # the built-in keeps its name
    # The same, as the wizard will offer it: usable ones first, each with its reason.
    choices = available_authorities("ru", points(FakeEntryPoint("sulky", Sulky)))
    assert [c.name for c in choices] == ["demo", "mock-http", "sulky"]
    assert choices[-1].reason == "plug in the token first" and not choices[-1].usable
    assert choices[0].title.startswith("Демонстрационный")
    assert choices[1].opens_by_name is False


def test_open_authority_still_opens_names_and_urls(tmp_path):
    demo = open_authority("demo", tmp_path)
    served = open_authority("http://127.0.0.1:9", max_wait=0.5)
    assert isinstance(demo, HttpAuthority) and isinstance(served, HttpAuthority)
    assert served.call_deadline == 5.0
    asyncio.run(demo.aclose())
    asyncio.run(served.aclose())
    with pytest.raises(UsageError) as refused:
        open_authority("nonesuch", tmp_path)
    assert refused.value.code == "authority_unknown"


def _plant_distribution(site: Path) -> None:
    """A real installed distribution, as pip would leave it: metadata and a module."""
    info = site / "qoltanba_fussy-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: qoltanba-fussy\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        textwrap.dedent(
            """\
            [qoltanba.authorities]
            missing = qoltanba_no_such_module:Adapter
            sulky = fussy_adapters:Sulky
            notone = fussy_adapters:NOT_AN_ADAPTER
            """
        )
    )
    (site / "fussy_adapters.py").write_text(
        textwrap.dedent(
            """\
            from wizard.authority.adapters import AuthorityAdapter

            NOT_AN_ADAPTER = 42

            class Sulky(AuthorityAdapter):
                title = "Needs its token"

                def usable(self):
                    return "plug in the token first"
            """
        )
    )


def test_the_command_lists_broken_plug_ins_with_their_reasons(tmp_path):
    site = tmp_path / "site"
    _plant_distribution(site)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(site), str(ROOT)]),
        "QOLTANBA_HOME": str(tmp_path / "home"),
    }

    def qoltanba(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "wizard", "--lang", "en", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    listed = qoltanba("authority", "list", "--json")
    assert listed.returncode == 0, listed.stderr
    adapters = {a["name"]: a for a in json.loads(listed.stdout)["adapters"]}
    assert adapters["demo"]["usable"] and adapters["mock-http"]["usable"]
    assert "qoltanba_no_such_module" in adapters["missing"]["reason"]
    assert adapters["sulky"]["reason"] == "plug in the token first"
    assert "fussy_adapters:NOT_AN_ADAPTER" in adapters["notone"]["reason"]
    assert not any(adapters[n]["usable"] for n in ("missing", "sulky", "notone"))
    text = qoltanba("authority", "list")
    assert text.returncode == 0 and "why: plug in the token first" in text.stdout
    chosen = qoltanba("gui", "--authority", "sulky")
    assert chosen.returncode == 2
    assert chosen.stderr.strip() == (
        "qoltanba: The authority adapter sulky cannot be used: plug in the token first"
    )


def test_an_adapter_that_crashes_or_makes_junk_on_opening_is_said_as_its_own_failure(tmp_path):
    """A hostile tester's case: an adapter's bug is exit 2 naming the adapter, not Qoltanba's
    last-resort report (which tells the person to write to Qoltanba's developers)."""
    from wizard.authority.adapters import AuthorityAdapter, OpenOptions, Resolved
    from wizard.errors import UsageError

    class Crashing(AuthorityAdapter):
        title = "crashing"

        def open(self, spec, options):
            raise ZeroDivisionError("SECRET=hunter2")

    class Junk(AuthorityAdapter):
        title = "junk"

        def open(self, spec, options):
            return 42

    options = OpenOptions(home=tmp_path)
    with pytest.raises(UsageError) as crashed:
        Resolved("crashing", "crashing", Crashing()).open(options)
    assert crashed.value.code == "authority_open_failed" and crashed.value.exit_code == 2
    assert "ZeroDivisionError" in crashed.value.message("ru") and "hunter2" not in str(
        crashed.value.message("en")
    )
    with pytest.raises(UsageError) as junk:
        Resolved("junk", "junk", Junk()).open(options)
    assert junk.value.code == "authority_not_an_authority"
    assert "junk" in junk.value.message("kk")
