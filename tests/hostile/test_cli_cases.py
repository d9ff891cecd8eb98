"""The hostile review's command-line cases, each driven through the real `qoltanba` command (a child
process with its own environment; in this process where a fault has to be monkeypatched in).

Every failure must be exactly one translated ``qoltanba: `` line on stderr, no traceback, the exit
code of README's table, nothing changed on disk that should not be, and the last-resort handler
never firing (checked on every run by cli_cases_support).

2  e-mail and locality: refused before any key is made; a Cyrillic domain carried as IDNA;
   bytes that are not UTF-8; a renewal stopped with bad details continues with corrected ones.
3  FIFOs and devices where a store, a CRL or a CA certificate is expected.
4  a password that is not UTF-8; a full disk; a damaged journal; an unusable QOLTANBA_HOME;
   an --out that cannot be resolved; non-UTF-8 file names on a strict UTF-8 stdout.
5  a refused certificate ends that renewal once; `cancel` before and after submission; another
   authority for a pending renewal; a renewal moved on elsewhere (exit 11).
6  no temporary file or pending key survives a finished renewal; unknown pending keys stay.
9  QOLTANBA_HOME and the new keys' folder are private (0700 / 0600).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import resource
import secrets
import shutil
import sqlite3
import stat
import subprocess
import time
from dataclasses import replace
from pathlib import Path

import idna
import pytest
from cli_cases_support import (
    MATERIAL_PASSWORD,
    NEW_VAR,
    OLD_VAR,
    ROOT,
    Qoltanba,
    completed,
    enospc_under,
    fails,
    fill,
    last_resort_silent,
    leftovers,
    prepared_renewal,
    read_only_bind,
    read_only_under,
    renew_argv,
    run_in_process,
    tmpfs,
    translated,
)
from test_cli import _one_line
from test_served_cli import Scenario

from wizard.errors import CertificateRefused
from wizard.i18n import translate
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.renewal.record import Details, Ending

S = RenewalState


@pytest.fixture
def cli(tmp_path) -> Qoltanba:
    return Qoltanba(tmp_path)


@pytest.fixture(scope="module")
def gost_holder(tmp_path_factory) -> Path:
    """Made once per module by `qoltanba demo-keys` (a child process, checked like every run):
    a folder with the holder's ``home`` (its demo authority's books) and ``current`` stores."""
    folder = tmp_path_factory.mktemp("gost-holder")
    Qoltanba(folder).demo_keys(folder / "current", scheme="gost")
    return folder


@pytest.fixture
def holder(cli, tmp_path, gost_holder) -> list[Path]:
    """A demo holder's current GOST store, issued by the demo authority of ``cli``'s home: the
    module's one, copied with that home (as crash_support.Case copies its template)."""
    assert not cli.home.exists()
    shutil.copytree(gost_holder / "home", cli.home)
    shutil.copytree(gost_holder / "current", tmp_path / "current")
    return sorted((tmp_path / "current").glob("*.p12"))


@pytest.fixture
def g_store(material) -> Path:
    """G: the real NCA GOST test store of an individual (password Qwerty12)."""
    return material / "gost2015-2026" / "individual_valid.p12"


def _nothing_started(cli: Qoltanba, out: Path) -> None:
    """No new key was made: the folder is absent or empty, no renewal got past "checked"."""
    assert not out.exists() or not list(out.iterdir()), sorted(os.listdir(out))
    assert all(r["status"] == "checked" for r in cli.status()), cli.status()


# ---------------------------------------------------------------------------------------------
# 2. E-mail and locality


def test_an_email_with_non_latin_letters_before_the_at_is_refused_before_any_key(
    cli, holder, tmp_path
):
    out = tmp_path / "new-keys"
    email = "айгерим@почта.кз"
    run = cli.renew(holder, out, email=email)
    line = fails(run, 2)
    assert line == f"qoltanba: {translate('error.renewal_email_local_ascii', 'en', email=email)}"
    assert "for example aigerim@mail.kz" in line
    assert run.json()["error"] == "renewal_email_local_ascii"
    russian = fails(cli.renew(holder, out, email=email, lang="ru"), 2)
    assert russian == (
        f"qoltanba: {translate('error.renewal_email_local_ascii', 'ru', email=email)}"
    )
    translated(line, russian)
    _nothing_started(cli, out)


def test_an_email_with_a_cyrillic_domain_is_carried_in_idna_form(cli, holder, tmp_path):
    report = completed(cli.renew(holder, tmp_path / "new-keys", email="aigerim@почта.кз"))
    [store] = [f for f in report["files"] if f.endswith(".p12")]
    inspect = cli("inspect", store, "--password-env", NEW_VAR, "--json")
    assert inspect.code == 0 and inspect.stderr == b"", inspect
    email = inspect.json()["email"]
    assert email == "aigerim@" + idna.encode("почта.кз", uts46=True).decode("ascii")
    assert email.startswith("aigerim@xn--")


@pytest.mark.parametrize(
    "field, value, code",
    [
        ("email", b"\xff\xfe@mail.kz", "renewal_bad_email"),
        ("locality", b"Alma\xffty", "renewal_bad_locality"),
    ],
)
def test_details_that_are_not_utf8_exit_2(cli, holder, tmp_path, field, value, code):
    out = tmp_path / "new-keys"
    run = cli.renew(holder, out, **{field: value})
    line = fails(run, 2)
    assert run.json()["error"] == code, run
    translated(line, fails(cli.renew(holder, out, lang="ru", **{field: value}), 2))
    _nothing_started(cli, out)


def test_a_renewal_stopped_with_a_bad_email_continues_with_a_corrected_one(cli, holder, tmp_path):
    """A renewal recorded with an e-mail the certificate cannot carry (an older Qoltanba let it
    through), stopped after its new keys were saved: the same command with a corrected --email
    carries that very renewal to the end."""
    out = tmp_path / "new-keys"
    bad = "айгерим@почта.кз"
    prepared = prepared_renewal(cli.home, holder, out, S.KEYS_SAVED)
    assert prepared.renewal.record.details is not None
    old = replace(prepared.renewal.record.details, email=bad)
    renewal = prepared.journal.record(prepared.renewal, details=old)
    prepared.journal.close()
    pending = leftovers(out)
    assert len(pending) == 1 and pending[0].startswith("PENDING_"), pending

    fails(cli.renew(holder, out, email=bad), 2)  # still refused, and nothing moves
    assert [(r["renewal"], r["status"]) for r in cli.status()] == [(renewal.id, "keys_saved")]
    assert leftovers(out) == pending

    report = completed(cli.renew(holder, out, email="aigerim@example.kz"))
    assert report["renewal"] == renewal.id, "the stopped renewal continued, no second one"
    assert leftovers(out) == []
    [store] = [f for f in report["files"] if f.endswith(".p12")]
    inspect = cli("inspect", store, "--password-env", NEW_VAR, "--json")
    assert inspect.code == 0 and inspect.json()["email"] == "aigerim@example.kz", inspect


# ---------------------------------------------------------------------------------------------
# 3. FIFOs and devices


def test_a_fifo_as_the_store_is_refused_at_once(cli, tmp_path):
    fifo = tmp_path / "AUTH_RSA256_fifo.p12"
    os.mkfifo(fifo)
    out = tmp_path / "new-keys"
    started = time.monotonic()
    inspect = cli("inspect", fifo, "--password-env", OLD_VAR, timeout=10)
    line = fails(inspect, 4)
    assert line == f"qoltanba: {translate('error.store_not_regular', 'en', path=str(fifo))}"
    russian = cli("inspect", fifo, "--password-env", OLD_VAR, "--json", lang="ru", timeout=10)
    translated(line, fails(russian, 4))
    assert russian.json()["error"] == "store_not_regular"
    fails(cli.renew([fifo], out, timeout=10), 4)
    assert time.monotonic() - started < 20
    assert not out.exists()
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def _address_space_cap() -> None:  # in the child, before exec: a flood would be a MemoryError
    cap = 1 << 30
    resource.setrlimit(resource.RLIMIT_AS, (cap, cap))


def test_fifos_and_dev_zero_beside_a_store_neither_hang_nor_flood_inspect(
    cli, g_store, material, tmp_path
):
    keys = tmp_path / "keys"
    (keys / "ca").mkdir(parents=True)
    (keys / "crl").mkdir()
    store = keys / g_store.name
    shutil.copyfile(g_store, store)
    for name in ("x.crl", "x.cer", "ca/x.cer", "ca/x.crl", "crl/x.crl"):
        os.mkfifo(keys / name)
    for name in ("z.crl", "ca/z.cer", "crl/z.crl"):
        (keys / name).symlink_to("/dev/zero")
    # The real CA certificates and CRLs beside them still count.
    for path in (material / "gost2015-2026" / "ca").glob("*.cer"):
        shutil.copy(path, keys / "ca")
    for path in (material / "gost2015-2026" / "crl").glob("*.crl"):
        shutil.copy(path, keys / "crl")
    started = time.monotonic()
    run = cli(
        *("inspect", store, "--password-env", OLD_VAR, "--json"),
        env={OLD_VAR: MATERIAL_PASSWORD},
        timeout=20,
        preexec_fn=_address_space_cap,
    )
    assert run.code == 0 and run.stderr == b"", run
    assert time.monotonic() - started < 20
    report = run.json()
    assert report["iin"] == "123456789011"
    # The real CRL beside the store was read and verified: it predates the certificate, so it
    # says nothing of it (issue #12), which only a CRL read, and checked under its CA, can tell.
    assert report["revocation"]["detail"] == "crl_before_certificate", report["revocation"]


# ---------------------------------------------------------------------------------------------
# 4(a). A password that is not UTF-8


def test_a_password_that_is_not_utf8_exits_2(cli, g_store, tmp_path):
    expected = f"qoltanba: {translate('error.password_undecodable', 'en')}"
    in_env = cli("inspect", g_store, "--password-env", OLD_VAR, env={OLD_VAR: b"\xff\xfeQwerty12"})
    assert fails(in_env, 2) == expected
    on_stdin = cli("inspect", g_store, "--password-stdin", stdin=b"\xff\xfe\n")
    assert fails(on_stdin, 2) == expected
    russian = cli("inspect", g_store, "--password-stdin", stdin=b"\xff\xfe\n", lang="ru")
    assert fails(russian, 2) == f"qoltanba: {translate('error.password_undecodable', 'ru')}"
    translated(expected, russian.line())
    out = tmp_path / "new-keys"
    new_password = cli.renew(
        [g_store], out, env={OLD_VAR: MATERIAL_PASSWORD, NEW_VAR: b"Renewed\xff2026cd"}
    )
    assert fails(new_password, 2) == expected
    assert not out.exists() and not cli.home.exists()


# ---------------------------------------------------------------------------------------------
# 4(b). No space left for the new keys


def _statuses(cli: Qoltanba) -> list[tuple[str, str]]:
    return [(r["renewal"], r["status"]) for r in cli.status()]


def test_no_space_for_the_new_keys_exits_9_and_leaves_nothing_partial(
    cli, holder, tmp_path, monkeypatch
):
    """--out on a full tmpfs (64 KiB, filled to the last byte); where this machine cannot mount,
    the monkeypatched variant below runs instead."""
    with tmpfs(tmp_path / "small") as small:
        if small is None:
            _no_space_monkeypatched(cli, holder, tmp_path, monkeypatch)
            return
        out = small / "new-keys"
        filler = fill(small)
        run = cli.renew(holder, out)
        line = fails(run, 9)
        assert line.startswith(f"qoltanba: Not enough space in {out}"), line
        assert run.json()["error"] == "output_no_space"
        assert not out.exists() or list(out.iterdir()) == [], "nothing partial was left"
        before = _statuses(cli)
        assert [state for _, state in before] in ([], ["checked"], ["detailed"]), before
        translated(line, fails(cli.renew(holder, out, lang="ru"), 9))

        filler.unlink()  # space again: the same command completes that renewal
        report = completed(cli.renew(holder, out))
        assert leftovers(out) == []
        assert [renewal for renewal, _ in before] in ([], [report["renewal"]])


def _no_space_monkeypatched(cli: Qoltanba, holder, tmp_path: Path, monkeypatch) -> None:
    out = tmp_path / "new-keys"
    argv = renew_argv(holder, out)
    with monkeypatch.context() as patch:
        enospc_under(patch, out)
        run = run_in_process(patch, cli.home, *argv)
    assert run.code == 9, run
    line = run.line()
    assert line.startswith(f"qoltanba: Not enough space in {out}"), line
    assert not out.exists() or list(out.iterdir()) == [], sorted(os.listdir(out))
    states = [r["status"] for r in cli.status()]
    assert states in ([], ["checked"], ["detailed"]), states
    again = run_in_process(monkeypatch, cli.home, *argv)
    assert again.code == 0, again
    assert json.loads(again.out)["status"] == "done"
    assert leftovers(out) == []


def test_no_space_monkeypatched(cli, holder, tmp_path, monkeypatch):
    """The variant for machines that cannot mount a full file system: ENOSPC from fsync."""
    _no_space_monkeypatched(cli, holder, tmp_path, monkeypatch)


# ---------------------------------------------------------------------------------------------
# 4(c). A damaged journal is set aside, never deleted


def _set_aside(home: Path) -> Path:
    [aside] = [
        p for p in home.glob("journal.sqlite3.damaged-*") if not p.name.endswith(("-wal", "-shm"))
    ]
    return aside


@pytest.mark.parametrize("damage", ["garbage", "unknown-state", "bad-json"])
def test_a_damaged_journal_is_set_aside_and_the_command_carries_on(cli, holder, tmp_path, damage):
    first = completed(cli.renew(holder, tmp_path / "new-keys"))
    journal = cli.home / "journal.sqlite3"
    if damage == "garbage":
        journal.write_bytes(b"\x00not a database, not SQLite at all\xff" * 200)
        salvaged: list[str] = []
    else:
        with contextlib.closing(sqlite3.connect(journal)) as db:
            row = list(db.execute("SELECT * FROM renewals").fetchone())
            row[0] = "a-damaged-row"
            if damage == "unknown-state":
                row[1] = "half-eaten"
            else:
                row[6] = row[6][: len(row[6]) // 2]  # the JSON cut short
            db.execute("INSERT INTO renewals VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            db.commit()
        salvaged = [first["renewal"]]
    assert not journal.with_name("journal.sqlite3-wal").exists()
    damaged = journal.read_bytes()

    if damage == "garbage":  # set aside by the command that meets it: here a renewal
        other = cli.demo_keys(tmp_path / "other", scheme="gost")
        run = cli.renew(other, tmp_path / "other-new")
        salvaged.append(completed(run)["renewal"])
    else:
        run = cli("status", "--json")
        assert run.code == 0, run
        assert [r["renewal"] for r in run.json()["renewals"]] == salvaged
    [notice] = run.notices()
    aside = _set_aside(cli.home)
    said = translate("notice.journal_set_aside", "en", path=str(aside), files="-")
    assert notice == f"qoltanba: {said}", notice  # no pending keys in the folders it named
    assert aside.read_bytes() == damaged, "set aside byte for byte, never deleted"

    again = cli("status", "--json")
    assert again.code == 0 and again.stderr == b"", again  # said once
    assert [r["renewal"] for r in again.json()["renewals"]] == salvaged
    if damage != "garbage":  # the salvaged renewal is still done: nothing filed a second time
        rerun = completed(cli.renew(holder, tmp_path / "new-keys"))
        assert rerun["application"] == first["application"]
        other = cli.demo_keys(tmp_path / "other", scheme="gost")
        completed(cli.renew(other, tmp_path / "other-new"))
    assert _set_aside(cli.home).read_bytes() == damaged


# ---------------------------------------------------------------------------------------------
# 4(d). An unusable QOLTANBA_HOME


def test_a_home_that_is_a_file_exits_12(tmp_path, g_store):
    home = tmp_path / "home-file"
    home.write_bytes(b"not a folder\n")
    cli = Qoltanba(tmp_path, home)
    current = tmp_path / "current"
    demo = cli("demo-keys", "--out", current, "--password-env", OLD_VAR)
    line = fails(demo, 12)
    assert str(home) in line
    translated(line, fails(cli("demo-keys", "--out", current, "--password-env", OLD_VAR,
                               lang="ru"), 12))  # fmt: skip
    assert not current.exists()
    out = tmp_path / "new-keys"
    fails(cli.renew([g_store], out, env={OLD_VAR: MATERIAL_PASSWORD}), 12)
    assert not out.exists()
    status = cli("status", "--json")
    if status.code == 0:  # nothing can be recorded there: there are no renewals
        assert status.json() == {"renewals": []} and status.stderr == b"", status
    else:
        fails(status, 12)
    assert home.read_bytes() == b"not a folder\n"


def _tree(folder: Path) -> dict[str, bytes | None]:
    return {
        str(p.relative_to(folder)): (p.read_bytes() if p.is_file() else None)
        for p in sorted(folder.rglob("*"))
    }


def test_a_read_only_home_still_lists_renewals_and_renew_exits_12(
    cli, holder, tmp_path, monkeypatch
):
    first = completed(cli.renew(holder, tmp_path / "new-keys"))
    other = cli.demo_keys(tmp_path / "other", scheme="gost")
    before = _tree(cli.home)
    with read_only_bind(cli.home) as read_only:
        if read_only is None:  # no mount here: os.access says what a read-only mount says
            read_only_under(monkeypatch, cli.home)
            status = run_in_process(monkeypatch, cli.home, "status", "--json")
            assert status.code == 0 and status.err == "", status
            assert [r["renewal"] for r in json.loads(status.out)["renewals"]] == [first["renewal"]]
            renew = run_in_process(monkeypatch, cli.home, *renew_argv(other, tmp_path / "o"))
            assert renew.code == 12, renew
            assert str(cli.home) in renew.line()
            return
        status = cli("status", "--json")
        assert status.code == 0 and status.stderr == b"", status
        [listed] = status.json()["renewals"]
        assert (listed["renewal"], listed["status"]) == (first["renewal"], "done")
        text = cli("status")
        assert text.code == 0 and first["application"] in text.out, text
        out = tmp_path / "other-new"
        line = fails(cli.renew(other, out), 12)
        assert str(cli.home) in line
        translated(line, fails(cli.renew(other, out, lang="ru"), 12))
        assert not out.exists()
        fails(cli("demo-keys", "--out", tmp_path / "more", "--password-env", OLD_VAR), 12)
        assert not (tmp_path / "more").exists()
    assert _tree(cli.home) == before


def test_an_empty_read_only_home_says_there_are_no_renewals(tmp_path, g_store, monkeypatch):
    with tmpfs(tmp_path / "ro-home", read_only=True) as home:
        if home is None:  # no mount here: os.access says what a read-only mount says
            home = tmp_path / "ro-home"
            read_only_under(monkeypatch, home)
            status = run_in_process(monkeypatch, home, "status")
            assert status.code == 0, status
            assert status.out == translate("cli.status_empty", "en") + "\n"
            return
        cli = Qoltanba(tmp_path, home)
        status = cli("status")
        assert status.code == 0 and status.stderr == b"", status
        assert status.out == translate("cli.status_empty", "en") + "\n"
        as_json = cli("status", "--json")
        assert as_json.code == 0 and as_json.json() == {"renewals": []}, as_json
        out = tmp_path / "new-keys"
        fails(cli.renew([g_store], out, env={OLD_VAR: MATERIAL_PASSWORD}), 12)
        assert not out.exists() and os.listdir(home) == []


# ---------------------------------------------------------------------------------------------
# 4(f). An --out that cannot be resolved


@pytest.mark.parametrize("where", ["symlink-loop", "no-such-user"])
def test_an_out_folder_that_cannot_be_resolved_exits_9(cli, holder, tmp_path, where):
    if where == "symlink-loop":
        loop = tmp_path / "loop"
        loop.symlink_to("loop")
        out = str(loop)
    else:
        out = "~qoltanba-no-such-user/new-keys"
    run = cli.renew(holder, out)
    line = fails(run, 9)
    assert run.json()["error"] == "output_bad_path", run
    translated(line, fails(cli.renew(holder, out, lang="ru"), 9))
    assert all(r["status"] == "checked" for r in cli.status())
    assert not (tmp_path / "~qoltanba-no-such-user").exists()


# ---------------------------------------------------------------------------------------------
# 4(g). File names that are not UTF-8, on a strict UTF-8 stdout


def test_file_names_that_are_not_utf8_give_valid_json_on_a_strict_utf8_stdout(cli, tmp_path):
    strict = {"PYTHONIOENCODING": "utf-8:strict"}
    base = os.fsencode(tmp_path)
    current, new = base + b"/current-\xff", base + b"/new-\xff\xfe"

    def valid_json(run, code: int = 0) -> dict:
        assert run.code == code, run
        assert b"Traceback" not in run.stderr and b"UnicodeEncodeError" not in run.stderr, run
        return run.json()  # stdout decodes strictly as UTF-8 and parses

    demo = cli("demo-keys", "--out", current, "--password-env", OLD_VAR, "--scheme", "gost",
               "--json", env=strict)  # fmt: skip
    assert len(valid_json(demo)["files"]) == 1
    [name] = [n for n in os.listdir(current) if n.endswith(b".p12")]
    store = current + b"/" + name
    assert valid_json(cli("inspect", store, "--password-env", OLD_VAR, "--json", env=strict))[
        "renewable"
    ]
    renewed = valid_json(cli.renew([store], new, env=strict))
    assert renewed["status"] == "done"
    [listed] = valid_json(cli("status", "--json", env=strict))["renewals"]
    assert listed["status"] == "done"
    text = cli("status", env=strict)
    assert text.code == 0 and renewed["application"] in text.out, text
    [fresh] = [n for n in os.listdir(new) if n.endswith(b".p12")]
    valid_json(cli("inspect", new + b"/" + fresh, "--password-env", NEW_VAR, "--json", env=strict))
    missing = cli("inspect", base + b"/missing-\xff.p12", "--password-env", OLD_VAR, "--json",
                  env=strict)  # fmt: skip
    assert valid_json(missing, 4)["error"] == "store_missing"
    missing.line()


# ---------------------------------------------------------------------------------------------
# 5. Refused certificates, cancel, another authority, a renewal moved on elsewhere


@pytest.fixture
def served(tmp_path):
    """A holder's demo keys from `qoltanba authority serve --test-faults` on 127.0.0.1."""
    scenario = Scenario(tmp_path)
    scenario.server.start()
    try:
        scenario.demo_keys()
        yield scenario
    finally:
        scenario.server.stop(kill=True)


def _checked(scenario: Scenario, run: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    last_resort_silent(run.stderr, scenario.home)
    return run


def _renew(scenario: Scenario, **command) -> subprocess.CompletedProcess:
    run = subprocess.run(
        scenario.renew_command(**command),
        env=scenario.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return _checked(scenario, run)


def _renewals(scenario: Scenario) -> list[dict]:
    run = _checked(scenario, scenario.qoltanba("status", "--json"))
    assert run.returncode == 0, run
    return json.loads(run.stdout)["renewals"]


@pytest.mark.parametrize(
    "fault, detail", [("wrong_key", "wrong_key"), ("foreign_ca", "untrusted_issuer")]
)
def test_a_refused_certificate_ends_that_renewal_once_and_the_next_run_files_anew(
    served, fault, detail
):
    served.server.faults(**{fault: 1})  # the next issuance only
    refused = _renew(served)
    assert refused.returncode == 10, refused
    line = _one_line(refused.stderr)
    assert line == f"qoltanba: {CertificateRefused(detail=detail).message('en')}"
    assert detail not in line  # the check that failed, said in words
    answer = json.loads(refused.stdout)
    assert answer["error"] == "certificate_refused" and answer["application"], answer
    first = answer["application"]
    assert served.journal() == [("refused", first)]
    assert leftovers(served.out) == []
    assert not any(p.suffix == ".p12" for p in served.out.glob("*")), "nothing installed"

    again = _renew(served)  # the very same command: a new application, which completes
    assert again.returncode == 0, again
    notice = translate("notice.new_application", "en", application=first)
    assert again.stderr.splitlines() == [f"qoltanba: {notice}"]
    report = json.loads(again.stdout)
    assert report["status"] == "done" and report["application"] != first
    assert served.journal() == [("refused", first), ("done", report["application"])]
    assert leftovers(served.out) == []


def test_cancel_before_submission_removes_the_unsent_keys(served):
    served.server.stop()  # the authority is down: the renewal waits, signed
    queued = _renew(served)
    assert queued.returncode == 6, queued
    _one_line(queued.stderr)
    [pending] = _renewals(served)
    assert (pending["status"], pending["application"]) == ("signed", None)
    unsent = leftovers(served.out)
    assert len(unsent) == 2 and all(n.startswith("PENDING_") for n in unsent), unsent

    # The same keys with another authority while this renewal is pending: refused, named.
    elsewhere = _renew(served, authority="demo")
    assert elsewhere.returncode == 2, elsewhere
    line = _one_line(elsewhere.stderr)
    assert served.server.url in line and "qoltanba cancel" in line, line
    assert [r["status"] for r in _renewals(served)] == ["signed"]

    stores = [arg for store in served.stores for arg in ("--store", str(store))]
    cancel = _checked(served, served.qoltanba("cancel", *stores, "--json"))
    assert cancel.returncode == 0 and cancel.stderr == "", cancel
    report = json.loads(cancel.stdout)
    assert (report["status"], report["application"]) == ("cancelled", None), report
    assert sorted(report["removed"]) == unsent
    assert report["message"] == translate("cli.cancel_before_submission", "en")
    assert leftovers(served.out) == []
    assert [(r["renewal"], r["status"]) for r in _renewals(served)] == [
        (pending["renewal"], "cancelled")
    ]

    served.server.start()
    done = _renew(served)  # starts afresh
    assert done.returncode == 0, done
    renewed = json.loads(done.stdout)
    assert renewed["status"] == "done" and renewed["renewal"] != pending["renewal"]
    assert served.server.applications() == [(renewed["application"], "downloaded")]


def test_cancel_after_submission_keeps_the_application_number(served):
    served.server.faults(stuck=True)  # processing never ends
    waiting = _renew(served)
    assert waiting.returncode == 6, waiting
    _one_line(waiting.stderr)
    number = json.loads(waiting.stdout)["application"]
    assert number and served.journal() == [("processing", number)]

    cancel = _checked(served, served.qoltanba("cancel", "--json"))
    assert cancel.returncode == 0 and cancel.stderr == "", cancel
    report = json.loads(cancel.stdout)
    assert (report["status"], report["application"]) == ("cancelled", number), report
    assert number in report["message"]
    assert report["message"] == translate("cli.cancel_after_submission", "en", application=number)
    assert served.journal() == [("cancelled", number)]

    # While the application stays open at the authority (still processing), a new renew of
    # these keys is told so, naming it (README: exit 11), and never installs anything.
    again = _renew(served)
    assert again.returncode == 11, again
    opened = translate("error.renewal_open_at_authority", "en", application=number)
    assert again.stderr.splitlines()[-1] == f"qoltanba: {opened}", again
    assert all(line.startswith("qoltanba: ") for line in again.stderr.splitlines()), again
    assert json.loads(again.stdout)["error"] == "renewal_open_at_authority"
    assert not any(p.suffix == ".p12" for p in served.out.glob("*"))

    # Once that application has ended at the authority (issued, never installed here), the
    # same command files a new application and completes: no dead end.
    served.server.faults()
    later = _renew(served)
    assert later.returncode == 0, later
    assert json.loads(later.stdout)["application"] != number


def test_a_renewal_moved_on_elsewhere_exits_11(tmp_path, monkeypatch):
    """StaleRenewal: another window moved the renewal on while this one worked (the journal
    advanced behind a Renewer's back): exit 11, as README's table says."""
    from wizard.errors import StaleRenewal
    from wizard.renewal.process import Renewer

    home = tmp_path / "home"
    stores = {}
    for name in ("api", "cli"):
        made = run_in_process(monkeypatch, home, "demo-keys", "--out", str(tmp_path / name),
                              "--password-env", OLD_VAR, "--scheme", "gost")  # fmt: skip
        assert made.code == 0, made
        stores[name] = sorted((tmp_path / name).glob("*.p12"))

    # The Python API: a step taken on a renewal someone else has already moved on.
    prepared = prepared_renewal(home, stores["api"], tmp_path / "api-new", S.CHECKED)
    RenewalJournal(home / "journal.sqlite3").advance(
        prepared.renewal, S.DETAILED, details=Details("aigerim@example.kz", "Almaty", "pkcs12")
    )
    renewer = Renewer(prepared.journal, None, "demo", home=home)  # type: ignore[arg-type]
    with pytest.raises(StaleRenewal) as caught:
        asyncio.run(
            renewer.step(prepared.renewal, prepared.current, prepared.details, None)  # type: ignore[arg-type]
        )
    assert caught.value.exit_code == 11

    # The command line: the same, while `qoltanba renew` runs.
    original = Renewer._offline_step

    def moved_on_behind_its_back(self, renewal, current, details):
        if renewal.state is S.CHECKED:
            RenewalJournal(self.journal.path).advance(
                renewal, S.DETAILED, details=Details("aigerim@example.kz", "Almaty", "pkcs12")
            )
        return original(self, renewal, current, details)

    argv = renew_argv(stores["cli"], tmp_path / "cli-new")
    with monkeypatch.context() as patch:
        patch.setattr(Renewer, "_offline_step", moved_on_behind_its_back)
        run = run_in_process(patch, home, *argv)
    assert run.code == 11, run
    assert run.line() == f"qoltanba: {translate('error.journal_stale', 'en')}"
    assert json.loads(run.out)["error"] == "journal_stale"
    again = run_in_process(monkeypatch, home, *argv)  # read again, it carries on
    assert again.code == 0 and json.loads(again.out)["status"] == "done", again

    table = re.findall(r"^\| (\d+) \| (.+) \|$", (ROOT / "README.md").read_text(), re.M)
    meanings = dict(table)
    assert "another window or process" in meanings["11"], meanings


# ---------------------------------------------------------------------------------------------
# 6. Leftovers


def test_no_temporary_file_or_pending_key_survives_a_finished_renewal(cli, tmp_path):
    """A renewal killed after its key step wrote a pending key but before the journal recorded
    it, beside a temporary file an older killed write left 20 minutes ago: the same command
    finishes it, and the folder then holds the new stores and CA certificates, nothing else."""
    stores = cli.demo_keys(tmp_path / "current", scheme="rsa")
    out = tmp_path / "new-keys"
    prepared = prepared_renewal(cli.home, stores, out, S.DETAILED)
    prepared.journal.close()
    stale = out / ".RSA256_x.p12.0123456789ab.tmp"
    stale.write_bytes(b"half of a store")
    long_ago = time.time() - 20 * 60
    os.utime(stale, (long_ago, long_ago))
    orphan = out / f"PENDING_SIGN_{secrets.token_hex(20)}.p8"
    orphan.write_bytes(b"an encrypted key written just before the kill")
    report = completed(cli.renew(stores, out))
    assert report["renewal"] == prepared.renewal.id
    assert leftovers(out) == []


def test_a_rejected_renewals_pending_keys_are_gone_when_the_next_one_finishes(cli, tmp_path):
    """A renewal rejected (and killed before its pending keys were removed) in the same folder."""
    stores = cli.demo_keys(tmp_path / "current", scheme="rsa")
    out = tmp_path / "new-keys"
    prepared = prepared_renewal(cli.home, stores, out, S.SIGNED)
    rejected = prepared.journal.advance(
        prepared.renewal, S.REJECTED, ending=Ending(reason="a test rejection")
    )
    prepared.journal.close()
    assert len(leftovers(out)) == 2
    run = cli.renew(stores, out)
    report = completed(run)
    assert report["renewal"] != rejected.id
    assert run.notices() == [f"qoltanba: {translate('notice.new_renewal', 'en')}"]
    assert leftovers(out) == []


def test_pending_keys_no_journal_knows_of_are_never_deleted(cli, tmp_path):
    """A renewal whose row was damaged (its journal is set aside): its pending keys may be the only
    copy of a submitted renewal's keys, so a new renewal in that folder leaves them alone."""
    stores = cli.demo_keys(tmp_path / "current", scheme="rsa")
    out = tmp_path / "new-keys"
    prepared = prepared_renewal(cli.home, stores, out, S.KEYS_SAVED)
    prepared.journal.close()
    kept = {p.name: p.read_bytes() for p in out.glob("PENDING_*")}
    assert len(kept) == 2
    with contextlib.closing(sqlite3.connect(cli.home / "journal.sqlite3")) as db:
        db.execute("UPDATE renewals SET state = 'mangled'")
        db.commit()
    run = cli.renew(stores, out)
    assert run.code == 0, run
    [notice] = run.notices()
    assert str(_set_aside(cli.home)) in notice
    assert all(name in notice for name in kept), notice
    report = run.json()
    assert report["status"] == "done"
    assert {p.name: p.read_bytes() for p in out.glob("PENDING_*")} == kept
    assert all(Path(f).exists() for f in report["files"])
    assert not list(out.glob(".*.tmp"))


# ---------------------------------------------------------------------------------------------
# 9. Permissions


def test_the_home_and_the_new_keys_are_private(cli, tmp_path):
    current, out = tmp_path / "current", tmp_path / "new-keys"
    made = cli("demo-keys", "--out", current, "--password-env", OLD_VAR, "--json", umask=0o022)
    assert made.code == 0, made
    stores = sorted(current.glob("*.p12"))
    completed(cli.renew(stores, out, umask=0o022))
    wrong, seen = [], set()
    for place in (cli.home, out, current):
        for folder, _, files in os.walk(place):
            if stat.S_IMODE(os.lstat(folder).st_mode) != 0o700:
                wrong.append(f"{folder}: {oct(stat.S_IMODE(os.lstat(folder).st_mode))}")
            for name in files:
                path = Path(folder) / name
                seen.add(path)
                if stat.S_IMODE(path.lstat().st_mode) != 0o600:
                    wrong.append(f"{path}: {oct(stat.S_IMODE(path.lstat().st_mode))}")
    assert cli.home / "demo-authority" / "authority.sqlite3" in seen
    assert cli.home / "journal.sqlite3" in seen
    assert wrong == []
