"""The wizard's choice of authority is `qoltanba authority list`'s: every installed adapter,
unusable ones said why; the choice is recorded as the CLI records it, and the trust a renewal gets
is that adapter's (its declared roots, never trust on first use)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from wizard.authority.adapters import available_authorities
from wizard.i18n import translate
from wizard.ui.model import Services, WizardModel

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "adapters"))
from example_support import installed


def _texts(m: WizardModel) -> list[str]:
    from wizard.ui.screens import start

    found: list[str] = []
    seen: set[int] = set()

    def walk(value) -> None:
        if value is None or isinstance(value, str) or id(value) in seen:
            return
        seen.add(id(value))
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        for name in ("value", "label", "text"):
            text = getattr(value, name, None)
            if isinstance(text, str):
                found.append(text)
        for name in ("content", "controls"):
            walk(getattr(value, name, None))

    walk(start.view(m, None))
    return found


def test_the_start_step_offers_every_installed_adapter(tmp_path, monkeypatch):
    installed()
    monkeypatch.delenv("QOLTANBA_EXAMPLE_AUTHORITY", raising=False)
    m = WizardModel(Services(home=tmp_path), "ru")
    names = [c.name for c in m.authority_choices()]
    assert names == [c.name for c in available_authorities("ru")]
    assert {"demo", "mock-http", "example"} <= set(names)
    texts = _texts(m)
    example = next(c for c in m.authority_choices() if c.name == "example")
    assert not example.usable and example.title in texts
    assert translate("start.authority_unusable", "ru", reason=example.reason) in texts


def test_an_adapter_opened_by_name_needs_no_address_and_is_recorded_by_name(tmp_path, monkeypatch):
    installed()
    monkeypatch.setenv("QOLTANBA_EXAMPLE_AUTHORITY", "127.0.0.1:9")
    m = WizardModel(Services(home=tmp_path), "en")
    m.start_new()
    m.choose_authority("example")
    assert not m.authority_choice_by_address
    assert "start.authority_url" not in [getattr(c, "key", None) for c in _flat(m)]
    m.confirm_start()
    assert m.mode_error is None and m.screen == "storage" and m.authority == "example"


def test_an_address_is_checked_and_normalised_like_the_cli_does(tmp_path):
    m = WizardModel(Services(home=tmp_path), "en")
    m.start_new()
    m.choose_authority("mock-http")
    assert m.authority_choice_by_address
    m.set_authority_url("http://example.org/")  # plain http off this machine: refused
    m.confirm_start()
    assert m.mode_error is not None and m.screen != "storage"
    m.set_authority_url("http://127.0.0.1:8410/")
    m.confirm_start()
    assert m.mode_error is None and m.authority == "http://127.0.0.1:8410"


def test_the_renewal_trusts_what_the_chosen_adapter_declares(tmp_path, monkeypatch):
    installed()
    from datetime import UTC, datetime

    from wizard.authority.mock.ca import create_ca

    root = create_ca("Example declared root", datetime.now(UTC))
    der = tmp_path / "root.cer"
    der.write_bytes(root.der)
    monkeypatch.setenv("QOLTANBA_EXAMPLE_ROOTS", str(der))
    monkeypatch.setenv("QOLTANBA_EXAMPLE_AUTHORITY", "127.0.0.1:9")
    services = Services(home=tmp_path)
    assert services.trust_for("example").declared_roots == (root.der,)
    assert services.trust_for("demo").declared_roots == ()


def _flat(m: WizardModel) -> list:
    from wizard.ui.screens import start

    out: list = []

    def walk(value) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        if value is None:
            return
        out.append(value)
        for name in ("content", "controls"):
            walk(getattr(value, name, None))

    walk(start.view(m, None))
    return out


@pytest.fixture(autouse=True)
def _no_example_leftovers(monkeypatch):
    monkeypatch.delenv("QOLTANBA_EXAMPLE_ROOTS", raising=False)
