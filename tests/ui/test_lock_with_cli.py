"""The wizard and `qoltanba renew` on the same keys at once: whichever holds the renewal's lock,
the other hears "running in another window" (RenewalBusy, exit 11) and changes nothing; once it
is let go, the other goes on with the same renewal."""

from __future__ import annotations

import asyncio
import io
import os
import sys
import time
from pathlib import Path

from wizard_steps import NEW, model, to_password

from wizard import cli
from wizard.i18n import translate
from wizard.renewal.journal import RenewalJournal
from wizard.ui.model import DEMO_PASSWORD, WizardModel

_model = model
_to_password = to_password


def _renew_argv(m: WizardModel, *extra: str) -> list[str]:
    stores = [arg for p in m.keys.picked for arg in ("--store", str(p.path))]
    return [
        "--lang",
        "en",
        "renew",
        *stores,
        "--password-env",
        "QOLTANBA_TEST_P",
        "--new-password-env",
        "QOLTANBA_TEST_N",
        "--email",
        "aigerim@example.kz",
        "--locality",
        "Astana",
        "--out",
        m.form.folder,
        *extra,
    ]


def _renew(argv: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    code = cli.main(argv, out=out, err=err)
    return code, err.getvalue()


def _journal_rows(home: Path) -> list[tuple]:
    journal = RenewalJournal(home / "journal.sqlite3")
    try:
        return [(r.id, r.state.value, r.updated_at, r.record) for r in journal.all()]
    finally:
        journal.close()


def test_the_cli_holding_the_lock_makes_the_wizard_say_busy_and_change_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path))
    monkeypatch.setenv("QOLTANBA_TEST_P", DEMO_PASSWORD)
    monkeypatch.setenv("QOLTANBA_TEST_N", NEW)
    # the CLI asks its one-time code on standard input: it waits there, holding the lock
    read_end, write_end = os.pipe()
    stdin = io.TextIOWrapper(os.fdopen(read_end, "rb"), encoding="utf-8")
    monkeypatch.setattr(sys, "stdin", stdin)

    pipe_open = [True]

    def no_code_comes() -> None:
        if pipe_open[0]:
            pipe_open[0] = False
            os.close(write_end)  # the CLI reads an empty code: it ends, and lets go

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        cli_run = asyncio.create_task(asyncio.to_thread(_renew, _renew_argv(m, "--otp-stdin")))
        try:
            deadline = time.monotonic() + 120
            while not any(state == "awaiting_code" for _, state, *_ in _journal_rows(tmp_path)):
                assert time.monotonic() < deadline and not cli_run.done(), "the CLI did not start"
                await asyncio.sleep(0.05)
            before = _journal_rows(tmp_path)
            await m.password.accept()  # the wizard's run, while the CLI holds the lock
            seen = (m.screen, m.progress.work_error, m.progress.work_actions, m.fault)
            after = _journal_rows(tmp_path)
        finally:
            no_code_comes()
            code, said = await cli_run
        await m.progress.run()  # the wizard's "Try again": it takes the same renewal on
        await m.close()
        return m, seen, before, after, code, said

    m, (screen, error, actions, fault), before, after, code, said = asyncio.run(scenario())
    busy = translate("error.renewal_busy", "en")
    assert screen == "work" and fault is None
    assert error.text("en") == busy and actions == ("retry", "home")
    assert after == before and len(before) == 1  # the wizard changed nothing
    assert code == 2 and translate("error.otp_unavailable", "en") in said
    assert m.screen == "code" and m.progress.application == before[0][3].application


def test_the_wizard_holding_the_lock_makes_the_cli_exit_11(tmp_path, monkeypatch):
    monkeypatch.setenv("QOLTANBA_HOME", str(tmp_path))
    monkeypatch.setenv("QOLTANBA_TEST_P", DEMO_PASSWORD)
    monkeypatch.setenv("QOLTANBA_TEST_N", NEW)

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        await m.password.accept()
        # it waits for the person's code
        assert m.screen == "code", (m.progress.work_error, m.fault)
        before = _journal_rows(tmp_path)
        busy = await asyncio.to_thread(_renew, _renew_argv(m))
        after = _journal_rows(tmp_path)
        m.go("home")  # the person leaves the renewal: the lock is let go
        done = await asyncio.to_thread(_renew, _renew_argv(m))
        await m.close()
        return before, busy, after, done

    before, (code, said), after, (done_code, done_said) = asyncio.run(scenario())
    assert code == 11 and translate("error.renewal_busy", "en") in said
    assert after == before  # the CLI changed nothing
    assert done_code == 0, done_said  # then the CLI finishes that same renewal
    [renewal] = RenewalJournal(tmp_path / "journal.sqlite3").all()
    assert renewal.state.value == "done" and renewal.application == before[0][3].application
