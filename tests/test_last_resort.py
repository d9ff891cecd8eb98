"""The last-resort handler: an exception nobody expected is one translated line, exit 1, and a
report that holds the traceback but no secret."""

from __future__ import annotations

import io

import pytest

import wizard.cli as cli
from wizard import reports
from wizard.i18n import translate


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_an_unexpected_exception_is_one_line_and_a_report_without_the_password(
    home, monkeypatch, tmp_path
):
    secret = "Sekret2026pass"
    monkeypatch.setenv("QOLTANBA_TEST_PW", secret)

    def broken(store, password, **kwargs):
        raise RuntimeError(f"something odd happened while using {password}")

    monkeypatch.setattr("wizard.keys.store.open_store", broken)
    store = tmp_path / "x.p12"
    store.write_bytes(b"x")
    out, err = io.StringIO(), io.StringIO()
    before = len(reports.FIRED)
    code = cli.main(
        ["--lang", "ru", "inspect", str(store), "--password-env", "QOLTANBA_TEST_PW"],
        out=out,
        err=err,
    )
    assert code == 1
    lines = err.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("qoltanba: ")
    assert "Traceback" not in err.getvalue() and out.getvalue() == ""
    report = reports.FIRED[-1]
    assert len(reports.FIRED) == before + 1
    assert lines[0] == "qoltanba: " + translate("error.internal_report", "ru", report=str(report))
    text = report.read_text(encoding="utf-8")
    assert "RuntimeError" in text and "Traceback" in text
    assert secret not in text and "***" in text
    assert report.stat().st_mode & 0o777 == 0o600 and report.parent == home / "reports"


def test_json_output_names_the_internal_error(home, monkeypatch):
    def broken(args, lang, out):
        raise KeyError("boom")

    monkeypatch.setattr(cli, "cmd_status", broken)
    out, err = io.StringIO(), io.StringIO()
    assert cli.main(["status", "--json"], out=out, err=err) == 1
    assert '"error": "internal_report"' in out.getvalue()


def test_a_password_that_is_not_utf8_is_a_usage_error(home, monkeypatch, tmp_path):
    monkeypatch.setenv("QOLTANBA_TEST_PW", "Qwerty\udcff12")  # what os.environ makes of \xff
    store = tmp_path / "x.p12"
    store.write_bytes(b"x")
    out, err = io.StringIO(), io.StringIO()
    before = len(reports.FIRED)
    code = cli.main(["inspect", str(store), "--password-env", "QOLTANBA_TEST_PW"], out=out, err=err)
    assert code == 2 and len(err.getvalue().splitlines()) == 1
    assert err.getvalue().strip() == "qoltanba: " + translate("error.password_undecodable", "en")
    assert len(reports.FIRED) == before


class _StrictAscii(io.StringIO):
    encoding = "ascii"

    def write(self, text):
        text.encode("ascii")  # a strict terminal
        return super().write(text)


def test_output_never_fails_on_what_it_prints(home):
    out, err = _StrictAscii(), _StrictAscii()
    assert cli.main(["--lang", "kk", "status"], out=out, err=err) == 0
    assert "?" in out.getvalue()  # Kazakh letters replaced, not a UnicodeEncodeError
    safe = cli._SafeText(_StrictAscii())
    safe.write("file \udcff name")
    assert safe.getvalue() == "file ??? name"


def test_a_reader_that_goes_away_is_not_an_internal_error(tmp_path):
    """`qoltanba status --json | head -c0`: the pipe closes before Qoltanba writes."""
    import os
    import subprocess
    import sys

    home = tmp_path / "home"
    env = {**os.environ, "QOLTANBA_HOME": str(home)}
    read, write = os.pipe()
    os.close(read)  # the reader is gone before the first byte
    try:
        done = subprocess.run(
            [sys.executable, "-m", "wizard", "status", "--json"],
            stdout=write,
            stderr=subprocess.PIPE,
            env=env,
            timeout=60,
        )
    finally:
        os.close(write)
    assert done.returncode == 0, done.stderr
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr
    assert not (home / "reports").exists()
