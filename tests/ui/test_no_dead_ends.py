"""No dead ends in the wizard: every error is one translated line with a way forward, a bug
included (the last-resort handler), a renewal can be ended from wherever it is stuck, and the
renewal's lock is let go when the renewal ends or the person leaves it."""

from __future__ import annotations

import asyncio
from pathlib import Path

from wizard_steps import NEW as SECRET
from wizard_steps import (
    enter_demo_code,
    lock_is_free,
    model,
    shown,
    to_code,
    to_open,
    to_password,
)
from wizard_steps import services as _services

from wizard import reports
from wizard.errors import CertificateRefused
from wizard.i18n import translate
from wizard.ui.model import DEMO_PASSWORD, Progress


def _forget_reports(before: int) -> None:
    del reports.FIRED[before:]  # this test fired it on purpose


def test_a_bug_in_a_button_becomes_one_line_and_a_report(tmp_path, headless, monkeypatch):
    from wizard.ui import app

    def broken(self) -> None:
        raise RuntimeError(f"cannot reset, the password is {self.keys.current_password}")

    async def scenario() -> tuple[list[str], list, bool, bool]:
        async with headless(_services(tmp_path)) as w:
            await w.click(translate("home.renew", "en"))
            await w.click(translate("nav.continue", "en"))
            await w.click(translate("nav.continue", "en"))
            await w.type("open.password", SECRET)
            await w.click_tooltip(translate("app.to_home", "en"))  # the top bar: home
            monkeypatch.setattr(app.Wizard, "_fresh_keys", broken)
            await w.click(translate("home.renew", "en"))
            shown = w.texts()
            crashes = w.crashes()
            await w.click_tooltip(translate("app.fault_close", "en"))
            gone = not any("report" in text for text in w.texts())
            monkeypatch.undo()
            await w.click(translate("home.renew", "en"))  # the window still works
            works = w.shows(translate("start.title", "en"))
            return shown, crashes, gone, works

    before = len(reports.FIRED)
    try:
        shown, crashes, gone, works = asyncio.run(scenario())
        [report] = list((tmp_path / "reports").iterdir())
    finally:
        _forget_reports(before)
    assert translate("error.internal_report", "en", report=str(report)) in shown
    assert crashes == []  # no "session crashed" page
    text = report.read_text(encoding="utf-8")
    assert "RuntimeError" in text and SECRET not in text
    assert gone and works


# ---------------------------------------------------------------------------------------------
# The model, driven the way its buttons drive it


_model = model
_to_password = to_password
_to_code = to_code
_lock_is_free = lock_is_free
_view_texts = shown


def test_a_bug_in_a_renewal_step_is_one_line_and_try_again_goes_on(tmp_path, monkeypatch):
    from wizard.renewal.process import Renewer

    real_step = Renewer._offline_step

    def broken_step(self, renewal, current, details):
        raise UnicodeEncodeError("ascii", details.new_password, 0, 1, "the old e-mail bug")

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        monkeypatch.setattr(Renewer, "_offline_step", broken_step)
        await m.password.accept()
        seen = (m.screen, m.busy, m.fault, m.progress.work_actions, _view_texts(m))
        monkeypatch.setattr(Renewer, "_offline_step", real_step)
        await m.progress.run()  # "Try again"
        await m.close()
        return m, seen

    before = len(reports.FIRED)
    try:
        m, (screen, busy, fault, actions, texts) = asyncio.run(scenario())
        [report] = list((tmp_path / "reports").iterdir())
    finally:
        _forget_reports(before)
    assert screen == "work" and not busy
    line = translate("error.internal_report", "en", report=str(report))
    assert fault.text("en") == line and line in texts
    assert actions == ("retry", "home") and translate("work.retry", "en") in texts
    assert SECRET not in report.read_text(encoding="utf-8")
    assert m.screen == "code" and m.fault is None  # nothing was lost: it went on


def test_a_bug_in_the_status_screen_s_own_refresh_is_one_line_too(tmp_path, monkeypatch):

    def broken(self) -> bool:
        raise KeyError("journal row")

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        m.authority = "http://127.0.0.1:9"
        await m.password.accept()
        assert m.screen == "status"
        monkeypatch.setattr(Progress, "_ended_elsewhere", broken)
        m.keep_refreshing(0.01)  # the background task the screen starts
        for _ in range(200):
            if m.fault is not None:
                break
            await asyncio.sleep(0.01)
        task = m._refresh_task
        await m.close()
        return m, task

    before = len(reports.FIRED)
    try:
        m, task = asyncio.run(scenario())
        [report] = list((tmp_path / "reports").iterdir())
    finally:
        _forget_reports(before)
    assert m.fault.text("en") == translate("error.internal_report", "en", report=str(report))
    assert not m.busy and m.screen == "status"
    assert task.cancelled() or task.exception() is None  # the loop itself never died of it


def test_every_public_model_method_is_guarded_by_the_last_resort():
    """The navigator's and every step model's: what a button, an effect or a task calls."""
    import inspect

    from wizard.ui.app import Wizard
    from wizard.ui.model import (
        NOT_ENTRY_POINTS,
        STEP_MODELS,
        ApplicationForm,
        CancelRenewal,
        CurrentKeys,
        Done,
        NewPassword,
        WizardModel,
    )

    navigation = {"go", "refresh", "close", "start_new", "start_again", "continue_from_keys"}
    expected = {
        WizardModel: navigation,
        Wizard: navigation,
        CurrentKeys: {"set_files", "set_password", "open_keys", "make_demo_keys", "open_token"},
        ApplicationForm: {"set_email", "set_locality", "set_folder", "confirm", "submit"},
        NewPassword: {"set_new", "set_repeat", "show", "understand", "accept"},
        Progress: {"run", "set_code", "confirm_code", "choose_folder", "copy_application"},
        Done: {"ask_revoke", "keep_old_keys", "revoke_old_keys", "save_calendar"},
        CancelRenewal: {"ask", "keep", "end"},
    }
    assert set(STEP_MODELS) <= set(expected)  # every step model is checked
    for cls, needed in expected.items():
        public = [
            name
            for name, value in inspect.getmembers(cls, inspect.isfunction)
            if not name.startswith("_")
            and name not in NOT_ENTRY_POINTS
            and name not in ("subscribe",)  # Flet's Observable's own
        ]
        assert public and needed <= set(public), (cls, public)
        for name in public:
            assert getattr(getattr(cls, name), "__last_resort__", False), (cls, name)


def test_a_bug_in_a_step_model_s_method_is_the_navigator_s_one_line(tmp_path, monkeypatch):
    """A step model's entry point is guarded as the navigator's: one line in ``m.fault``, no
    exception out of the button, a report without the password that step holds."""
    from wizard.ui.model import PickedFile

    typed = "Sekret-typed-2026"

    def broken(data, password, **kwargs):
        raise RuntimeError(f"something odd happened while using {password}")

    m = _model(tmp_path)
    to_open(m)
    m.keys.set_files([PickedFile(name="x.p12", data=b"x")])
    m.keys.set_password(typed)
    monkeypatch.setattr("wizard.keys.store.open_store_bytes", broken)
    before = len(reports.FIRED)
    try:
        assert m.keys.open_keys() is None  # the button's call returns; nothing escapes it
        [report] = list((tmp_path / "reports").iterdir())
    finally:
        _forget_reports(before)
    line = translate("error.internal_report", "en", report=str(report))
    assert m.fault.text("en") == line and line in _view_texts(m)
    assert m.screen == "open" and typed not in report.read_text(encoding="utf-8")


def test_an_e_mail_the_certificate_cannot_carry_is_said_at_the_e_mail(tmp_path):
    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        # Cyrillic before "@" (the certificate's e-mail is ASCII): it used to stop the work
        # screen with no message at all (UnicodeEncodeError)
        m.form.set_email("айгерим@почта.кз")
        await m.password.accept()
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "application" and m.fault is None and m.progress.work_error is None
    said = translate("error.renewal_email_local_ascii", "en", email="айгерим@почта.кз")
    assert m.form.email_error.text("en") == said and m.form.locality_error is None
    assert said in _view_texts(m)
    m.form.set_email("aigerim@почта.кз")  # a Cyrillic domain is fine (IDNA)
    assert m.form.email_error is None
    m.form.set_locality("   ")
    m.form.submit()
    assert m.form.locality_error.text("en") == translate("error.renewal_no_locality", "en")
    assert m.form.email_error is None and m.screen == "application"


# ---------------------------------------------------------------------------------------------
# "End this renewal"


def test_ending_a_renewal_before_submission_removes_its_unsent_keys(tmp_path):
    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        m.authority = "http://127.0.0.1:9"  # nothing listens: it waits, signed, unsent
        await m.password.accept()
        assert m.screen == "status" and m.progress.offline, (m.progress.work_error, m.fault)
        assert m.progress.can_cancel and translate("cancel.button", "en") in _view_texts(m)
        pending = list(Path(m.form.folder).glob("PENDING_*.p8"))
        m.cancel.ask()
        asked = (m.cancel.asked, _view_texts(m))
        m.cancel.end()
        await m.close()
        return m, pending, asked

    m, pending, (asked, texts) = asyncio.run(scenario())
    assert len(pending) == 2 and not asked.submitted
    assert translate("cancel.before_submission", "en") in texts  # the confirmation says what
    assert m.screen == "home" and m.cancel.asked is None and not m.pending
    assert [n.text("en") for n in m.home_notices] == [
        translate("cli.cancel_before_submission", "en")
    ]
    assert translate("cli.cancel_before_submission", "en") in _view_texts(m)
    assert not any(p.exists() for p in pending)
    assert [r.state.value for r in m._journal.all()] == ["cancelled"]
    assert _lock_is_free(m)
    m.go("start")
    assert m.home_notices == []  # said once


def test_ending_a_submitted_renewal_keeps_its_number_and_a_new_one_says_so(tmp_path):
    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        number = m.progress.application
        assert m.progress.can_cancel
        assert translate("cancel.button", "en") in _view_texts(m)  # on the code screen
        m.cancel.ask()
        assert m.cancel.asked.submitted
        said = translate("cancel.after_submission", "en", application=number)
        assert said in _view_texts(m)
        m.cancel.keep()  # "no": nothing changes
        assert m.cancel.asked is None and m.screen == "code"
        m.go("home")
        assert [p.application for p in m.pending] == [number]
        m.cancel.ask(m.pending[0].id)  # from the home screen's list
        m.cancel.end()
        ended = (m.screen, [n.text("en") for n in m.home_notices], m.pending)
        # the same keys again: a new application, and the run says the old one ended
        await _to_password(m, picked=list(m.keys.picked))
        await m.password.accept()
        await m.close()
        return m, number, ended

    m, number, (screen, said, pending) = asyncio.run(scenario())
    assert screen == "home" and not pending
    assert said == [translate("cli.cancel_after_submission", "en", application=number)]
    notice = translate("notice.new_application", "en", application=number)
    assert [n.text("en") for n in m.progress.run_notices] == [notice]
    assert notice in _view_texts(m)
    # the authority still holds the old application open (until it lapses): said, with "Try
    # again"; the new renewal waits, signed, in the journal
    busy = translate("error.renewal_open_at_authority", "en", application=number)
    progress = m.progress
    assert m.screen == "work" and progress.work_error.text("en") == busy, (
        progress.work_error,
        m.fault,
    )
    assert progress.work_actions == ("retry", "home") and busy in _view_texts(m)
    states = sorted(r.state.value for r in m._journal.all())
    assert states == ["cancelled", "signed"]


def test_ending_a_renewal_another_window_works_on_says_so_and_changes_nothing(tmp_path):
    from wizard.renewal.locks import RenewalLock

    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        m.go("home")
        other_window = RenewalLock(m.keys._current.fingerprints, tmp_path)
        other_window.acquire()
        try:
            m.cancel.ask(m.pending[0].id)
            m.cancel.end()
            seen = (m.cancel.asked, m.cancel.error, _view_texts(m), m.pending)
        finally:
            other_window.release()
        m.cancel.end()  # once the other window let go: it ends
        await m.close()
        return m, seen

    m, (asked, error, texts, pending) = asyncio.run(scenario())
    busy = translate("error.renewal_busy", "en")
    assert asked is not None and error.text("en") == busy and busy in texts  # in the dialog
    assert [p.state for p in pending] == ["awaiting_code"]  # nothing changed
    assert m.cancel.asked is None and not m.pending
    assert [r.state.value for r in m._journal.all()] == ["cancelled"]


def test_a_renewal_bound_to_another_folder_can_be_ended_from_the_error(tmp_path):
    async def first():
        m = _model(tmp_path)
        await _to_code(m)
        files = list(m.keys.picked)
        await m.close()
        return files

    picked = asyncio.run(first())

    async def second():
        m = _model(tmp_path)  # another window: the journal remembers the renewal
        m.resume(m.pending[0].id)
        m.keys.set_files(picked)
        m.keys.set_password(DEMO_PASSWORD)
        m.keys.open_keys()
        m.continue_from_keys()
        assert m.screen == "password" and m.progress.can_cancel  # forgot the new password? end it
        assert translate("cancel.button", "en") in _view_texts(m)
        m.form.set_folder(str(tmp_path / "elsewhere"))  # as if another folder were asked for
        m.password.set_new(SECRET)
        await m.password.accept()
        seen = (m.screen, m.progress.work_error, m.progress.work_actions, _view_texts(m))
        m.cancel.ask()
        m.cancel.end()
        await m.close()
        return m, seen

    m, (screen, error, actions, texts) = asyncio.run(second())
    assert screen == "work" and actions == ("cancel", "home")
    assert error.text("en") in texts and translate("cancel.button", "en") in texts
    assert m.screen == "home" and not m.pending
    assert [r.state.value for r in m._journal.all()] == ["cancelled"]


def test_no_space_for_the_new_keys_goes_back_to_the_folder(tmp_path, monkeypatch):
    from wizard.errors import NoSpace
    from wizard.renewal import new_keys  # where the new-keys folder is made (FolderHome)

    def full(folder, current=()):
        raise NoSpace("output_no_space", path=str(folder))

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        monkeypatch.setattr(new_keys, "prepare_new_folder", full)
        await m.password.accept()
        seen = (m.screen, m.progress.work_error, m.progress.work_actions, _view_texts(m))
        m.progress.choose_folder()
        await m.close()
        return m, seen

    m, (screen, error, actions, texts) = asyncio.run(scenario())
    said = translate("error.output_no_space", "en", path=str(Path(m.form.folder).resolve()))
    assert screen == "work" and error.text("en") == said and said in texts
    assert actions == ("choose_folder", "retry") and translate("work.choose_folder", "en") in texts
    assert m.screen == "application" and m.form.folder_error.text("en") == said
    assert said in _view_texts(m)  # at the folder field
    m.form.set_folder(str(tmp_path / "roomier"))
    assert m.form.folder_error is None
    assert not m._journal.all()  # nothing was started


def test_qoltanba_own_folder_unusable_is_said(tmp_path, monkeypatch):
    from wizard.errors import LocalStateError
    from wizard.renewal.process import Renewer

    def unusable(self, current, details):
        raise LocalStateError(path=str(tmp_path), detail="read-only")

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        monkeypatch.setattr(Renewer, "begin", unusable)
        await m.password.accept()
        await m.close()
        return m

    m = asyncio.run(scenario())
    said = translate("error.home_unusable", "en", path=str(tmp_path), detail="read-only")
    assert m.screen == "work" and m.progress.work_error.text("en") == said and not m.busy
    assert m.progress.work_actions == () and said in _view_texts(m)


def test_the_lock_is_held_on_the_code_screen_and_let_go_on_leaving(tmp_path):
    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        held = not _lock_is_free(m)
        m.go("help")
        still = not _lock_is_free(m)  # help is not leaving
        m.back_from_help()
        m.go("home")
        left = _lock_is_free(m)
        await m.close()
        return held, still, left

    assert asyncio.run(scenario()) == (True, True, True)


def test_the_lock_is_let_go_when_the_renewal_is_done_or_the_window_closes(tmp_path):
    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        await enter_demo_code(m)
        done = (m.screen, _lock_is_free(m))
        other = _model(tmp_path / "other")
        await _to_code(other)
        await other.close()
        return done, _lock_is_free(other)

    (screen, free_after_done), free_after_close = asyncio.run(scenario())
    assert screen == "done" and free_after_done and free_after_close


# ---------------------------------------------------------------------------------------------
# Refused certificates, renewals ended elsewhere, a damaged journal


def test_a_refused_certificate_ends_the_renewal_and_offers_a_new_one(tmp_path, monkeypatch):
    from wizard.errors import CertificateRefused
    from wizard.renewal.process import Renewer

    def wrong_key(self, renewal, issued):
        raise CertificateRefused(detail="wrong_key")

    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        monkeypatch.setattr(Renewer, "verify_issued", wrong_key)
        await enter_demo_code(m)
        seen = (m.screen, m.progress.rejection, _view_texts(m), _lock_is_free(m))
        monkeypatch.undo()
        m.go("home")
        listed = list(m.pending)
        m.start_again()  # would be the button; the keys are still open
        await m.close()
        return m, seen, listed

    m, (screen, rejection, texts, free), listed = asyncio.run(scenario())
    refused = CertificateRefused(detail="wrong_key").message("en")
    assert screen == "status" and rejection.text("en") == refused and refused in texts
    assert translate("status.start_again", "en") in texts and free
    assert listed == []  # a refused renewal is not "under way"
    assert [r.state.value for r in m._journal.all()] == ["refused"]
    assert m.screen == "application" and m.keys.keys_ok


def test_a_renewal_ended_in_another_window_is_said_not_started_again(tmp_path):
    from wizard.renewal.journal import RenewalJournal, RenewalState

    async def scenario():
        m = _model(tmp_path)
        await _to_password(m)
        m.authority = "http://127.0.0.1:9"  # it waits on the status screen, signed
        await m.password.accept()
        assert m.screen == "status"
        other = RenewalJournal(tmp_path / "journal.sqlite3")  # another window's journal
        [renewal] = other.all()
        other.advance(renewal, RenewalState.CANCELLED)
        await m.refresh()  # the status screen refreshes by itself
        await m.close()
        return m

    m = asyncio.run(scenario())
    assert m.screen == "status"
    assert m.progress.rejection.text("en") == translate("status.cancelled_elsewhere", "en")
    assert [r.state.value for r in m._journal.all()] == ["cancelled"]  # no new renewal
    assert _lock_is_free(m)


def test_a_renewal_refused_in_the_journal_is_finished_like_a_rejected_one(tmp_path):
    from wizard.renewal.journal import RenewalJournal, RenewalState
    from wizard.renewal.record import Ending

    async def scenario():
        m = _model(tmp_path)
        await _to_code(m)
        m.go("status")
        journal = RenewalJournal(tmp_path / "journal.sqlite3")
        [renewal] = journal.all()
        journal.advance(renewal, RenewalState.REFUSED, ending=Ending(refused="untrusted_issuer"))
        await m.refresh()
        await m.close()
        return m

    m = asyncio.run(scenario())
    refused = CertificateRefused(detail="untrusted_issuer").message("en")
    assert "untrusted_issuer" not in refused  # said in words (a hostile tester's finding)
    assert m.screen == "status" and m.progress.rejection.text("en") == refused
    m.go("home")
    assert m.pending == []


def test_a_damaged_journal_set_aside_is_said_once_on_the_home_screen(tmp_path):
    (tmp_path / "journal.sqlite3").write_bytes(b"this is not a database" * 100)
    m = _model(tmp_path)
    [aside] = list(tmp_path.glob("journal.sqlite3.damaged-*"))
    said = translate("notice.journal_set_aside", "en", path=str(aside), files="-")
    assert [n.text("en") for n in m.home_notices] == [said]
    assert said in _view_texts(m)
    m.start_new()
    m.go("home")
    assert said not in _view_texts(m)


def test_a_home_folder_that_cannot_hold_the_journal_is_said_not_raised(tmp_path):
    home = tmp_path / "home"
    home.write_text("a file, not a folder")
    m = _model(home)
    said = m.fault.text("en")
    assert said == translate("error.home_not_folder", "en", path=str(home))
    assert m.screen == "home" and said in _view_texts(m)


# ---------------------------------------------------------------------------------------------
# The confirmation in a real session


def test_end_this_renewal_asks_in_a_dialog_then_says_how_it_ended(tmp_path, headless):
    async def first():
        m = _model(tmp_path)
        await _to_code(m)
        await m.close()
        return m.progress.application

    number = asyncio.run(first())

    def t(key: str, **params) -> str:
        return translate(key, "ru", **params)

    async def scenario():
        async with headless(_services(tmp_path), lang="ru") as w:
            assert w.shows(t("home.pending_application", application=number))
            await w.click(t("cancel.button"))
            asked = [d.title.value for d in w.dialogs()]
            explained = w.shows(t("cancel.after_submission", application=number))
            await w.click(t("cancel.keep"))  # "no"
            kept = (w.dialogs(), w.shows(t("home.pending_application", application=number)))
            await w.click(t("cancel.button"))
            await w.click(t("cancel.confirm"))  # "yes"
            ended = (
                w.dialogs(),
                w.shows(t("cli.cancel_after_submission", application=number)),
                w.buttons(t("cancel.button")),
                w.shows(t("home.pending_application", application=number)),
            )
            return asked, explained, kept, ended, w.crashes()

    asked, explained, (dialogs, still), ended, crashes = asyncio.run(scenario())
    assert asked == [t("cancel.title")] and explained
    assert dialogs == [] and still
    no_dialog, said, cancel_buttons, listed = ended
    assert no_dialog == [] and said and cancel_buttons == [] and not listed
    assert crashes == []
    from wizard.renewal.journal import RenewalJournal

    [renewal] = RenewalJournal(tmp_path / "journal.sqlite3").all()
    assert renewal.state.value == "cancelled" and renewal.application == number
