"""The second hostile review's findings, each through the real command line: what used to end in
exit 1, a traceback, a wrong code or a way forward that could not be followed."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from cli_cases_support import OLD_VAR, Qoltanba, fails, renew_argv

from wizard.i18n import translate


@pytest.fixture
def q(tmp_path) -> Qoltanba:
    return Qoltanba(tmp_path)


def _stores(q: Qoltanba, name: str = "current") -> list[Path]:
    return q.demo_keys(q.tmp / name, scheme="rsa")


def test_a_one_time_code_that_never_comes_is_a_usage_error_not_an_internal_one(q):
    stores = _stores(q)
    run = q(*renew_argv(stores, q.tmp / "new"), "--otp-stdin", stdin=b"")
    line = fails(run, 2)
    assert line == "qoltanba: " + translate("error.otp_unavailable", "en")
    assert run.json()["application"]  # stdout holds the JSON only: the prompt went to stderr
    again = q(*renew_argv(stores, q.tmp / "new"))  # the demo code is read: it completes
    assert again.code == 0, again


def test_a_name_too_long_for_the_file_system(q):
    stores = _stores(q)
    fails(q.renew(stores, q.tmp / ("x" * 300)), 9)
    long_home = q.tmp / ("h" * 300)
    run = q("status", env={"QOLTANBA_HOME": str(long_home)})
    assert fails(run, 12)


@pytest.mark.parametrize(
    "url", ["http://[::1", "http://127.0.0.1:99999", "https://user:secret@ca.example.kz"]
)
def test_an_unusable_authority_address_changes_nothing(q, url):
    stores = _stores(q)
    run = q(*renew_argv(stores, q.tmp / "new"), "--authority", url)
    fails(run, 2)
    assert q.status() == []  # nothing recorded, so nothing is bound to that address


def test_output_on_a_full_disk_is_not_an_internal_error(q):
    import subprocess

    with open("/dev/full", "wb") as full:
        run = subprocess.run(
            [sys.executable, "-m", "wizard", "status", "--json"],
            stdout=full,
            stderr=subprocess.PIPE,
            env=q.env,
            timeout=60,
            check=False,
        )
    assert run.returncode == 0 and b"Traceback" not in run.stderr, run
    assert not (q.home / "reports").exists()


def test_cancel_finds_a_renewal_started_with_relative_paths(q):
    stores = _stores(q)
    relative = [str(p.relative_to(q.tmp)) for p in stores]
    waiting = q(*renew_argv(relative, "new"), "--authority", "http://127.0.0.1:9", "--max-wait",
                "0.2")  # fmt: skip
    assert waiting.code == 6, waiting
    cancel = q("cancel", "--store", relative[0], "--json")
    assert cancel.code == 0, cancel
    assert cancel.json()["status"] == "cancelled"


def test_control_characters_in_a_name_stay_on_one_line(q):
    name = q.tmp / "no\nsuch\x1b]0;pwned\x07.p12"
    run = q("inspect", name, "--password-env", OLD_VAR)
    line = fails(run, 4)
    assert "\x1b" not in line and "\\x1b" in line and "\\n" in line


@pytest.mark.parametrize("kind", ["fifo", "dev_zero"])
def test_a_journal_that_is_not_a_file_is_set_aside(q, kind):
    q.home.mkdir(mode=0o700)
    journal = q.home / "journal.sqlite3"
    if kind == "fifo":
        os.mkfifo(journal)
    else:
        journal.symlink_to("/dev/zero")
    run = q("status", timeout=20)
    assert run.code == 0, run
    notice = run.notices()
    assert len(notice) == 1 and "damaged-" in notice[0]
    assert journal.is_file() and not journal.is_symlink()


def test_password_rules_are_said_with_their_numbers(q):
    stores = _stores(q)
    run = q(*renew_argv(stores, q.tmp / "new"), env={"QOLTANBA_TEST_NEW_PASSWORD": "abc"})
    line = fails(run, 8)
    assert "{" not in line and "6" in line


def test_a_refusal_reason_is_said_in_words(q, tmp_path):
    # Keys the demo does not trust are refused at once (wizard.renewal.acceptance), in words and
    # with what to do; the authority's own late refusal is said in words too (test_error_codes).
    g = Path(__file__).resolve().parents[2].parent / "shared" / "nca-test-material"
    store = g / "gost2015-2026" / "individual_valid.p12"
    env = {OLD_VAR: "Qwerty12"}
    run = q(*renew_argv([store], tmp_path / "new"), lang="ru", env=env)
    line = fails(run, 5)
    assert "issuer_not_accepted" not in line and "certificate_untrusted" not in line
    if "истёк" not in line:  # the NCA GOST test batch expires on 2027-05-08
        assert "QOLTANBA_TRUST" in line


def test_a_finished_renewal_is_not_called_under_way(q):
    stores = _stores(q)
    assert q.renew(stores, q.tmp / "first").code == 0
    line = fails(q.renew(stores, q.tmp / "second"), 2)
    expected = translate("error.renewal_done_elsewhere", "en", folder=str(q.tmp / "first"))
    assert line == "qoltanba: " + expected


def test_status_says_when_the_home_is_a_file(q):
    q.home.write_text("not a folder")
    line = fails(q("status"), 12)
    assert line == "qoltanba: " + translate("error.home_not_folder", "en", path=str(q.home))


def test_the_new_keys_never_go_around_qoltanbas_own_records(q):
    stores = _stores(q)
    fails(q.renew(stores, q.home.parent), 9)  # --out would contain QOLTANBA_HOME
    assert not list(q.home.parent.glob("PENDING_*"))


@pytest.mark.parametrize("days", ["100000", "-100000"])
def test_demo_keys_outside_their_range_are_a_usage_error(q, days):
    out = q.tmp / "demo"
    run = q("demo-keys", "--out", out, "--password-env", OLD_VAR, "--days-left", days)
    fails(run, 2)
    assert not out.exists()


@pytest.mark.parametrize("crl", ["missing.crl", "fifo.crl"])
def test_a_crl_named_on_the_command_line_must_be_a_file(q, crl):
    stores = _stores(q)
    if crl == "fifo.crl":
        os.mkfifo(q.tmp / crl)
    run = q("inspect", stores[0], "--password-env", OLD_VAR, "--crl", q.tmp / crl, timeout=20)
    # a usage error about the list, never "your key store is damaged" (exit 4)
    line = fails(run, 2)
    assert "--crl" in line and str(q.tmp / crl) in line


def test_a_journal_that_could_not_be_created_is_still_private(q, monkeypatch):
    """The journal file is made 0600 before SQLite opens it: even a failed first run leaves
    nothing wider behind."""
    from wizard.renewal.journal import RenewalJournal

    journal = RenewalJournal(q.home / "journal.sqlite3")
    journal.close()
    assert (q.home / "journal.sqlite3").stat().st_mode & 0o777 == 0o600
    report = json.loads(q("status", "--json").out)
    assert report == {"renewals": []}
