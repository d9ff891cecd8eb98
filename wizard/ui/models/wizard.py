"""The wizard's navigator: which screen is shown, the language, the authority chosen and where
the keys are, the home screen's lists, the last-resort line, and the step models it composes,
one per step (trolli's models, one per file): ``keys`` (step 3), ``form`` (the application),
``password`` (the new password), ``progress`` (the run, the code, the status), ``done`` and
``cancel`` ("End this renewal"). A step starts over by being made anew, never by clearing
fields: nothing stale (an error, an answer, a tick) survives "start a new renewal".

All in plain Python (no Flet): every screen only reads these models and every button calls one of
their methods, so the whole flow runs in tests without a browser. They hold no crypto and do no
I/O of their own: they call the key store reader, the password policy and the renewal journal.
Passwords live in the step models' memory for as long as the wizard is open and are never written
anywhere; the journal keeps public facts only. Every public method is an entry point guarded by
the last resort (models/common.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from datetime import date, datetime
from typing import Any

from wizard.errors import QoltanbaError
from wizard.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from wizard.keys.certificate import days_until
from wizard.renewal.journal import RenewalJournal, RenewalState
from wizard.ui.models.application import ApplicationForm
from wizard.ui.models.cancel import CancelRenewal
from wizard.ui.models.common import (
    SCREENS,
    STORAGE_KINDS,
    KnownKey,
    Message,
    PendingRenewal,
    guard_entry_points,
)
from wizard.ui.models.done import Done
from wizard.ui.models.keys import CurrentKeys
from wizard.ui.models.password import NewPassword
from wizard.ui.models.progress import Progress
from wizard.ui.models.services import Services
from wizard.ui.token_step import TOKEN_KINDS, TokenStep

logger = logging.getLogger(__name__)

S = RenewalState
CLOSE_PATIENCE = 5.0  # seconds a closing window waits for a run to stop at its next step


@guard_entry_points
class WizardModel:
    """Public attributes are the state the screens show; methods are what buttons do."""

    def __init__(self, services: Services, lang: str = DEFAULT_LANGUAGE) -> None:
        self._services = services
        self._authority_cm: Any = None
        self._authority: Any = None
        self._authority_spec: str | None = None
        self._refresh_task: asyncio.Task | None = None
        self._running = False  # a run (Progress.run) is carrying the renewal on
        self._leaving = False  # the person left the renewal while that run was under way
        self._closing = False  # the window is closing: a run's late trouble is nobody's to see
        self._run_idle: asyncio.Event | None = None  # set when no run is under way
        self._chosen_adapter: str | None = None

        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.screen = "home"
        self.help_from = "home"
        # the answer Help opens with, expanded and scrolled to (issue #11); None: Help's top
        self.help_topic: str | None = None
        self.authority = services.authority
        self.authority_url = "" if services.authority == "demo" else services.authority
        self.mode_error: Message | None = None
        self.storage_kind = "file"
        self.busy = False
        self.resuming: PendingRenewal | None = None
        self.pending: list[PendingRenewal] = []
        self.known: list[KnownKey] = []
        # the last-resort line: what an entry point could not handle itself
        self.fault: Message | None = None
        # said on the home screen once (a journal set aside, how a cancel ended)
        self.home_notices: list[Message] = []
        # the tokens here (issue #13): found once, their session kept while a renewal uses it
        self.tokens = TokenStep(services.token_modules)
        # the steps, each made anew when it starts over
        self.keys = CurrentKeys(self)
        self.form = ApplicationForm(self)
        self.password = NewPassword(self)
        self.progress = Progress(self)
        self.done = Done(self)
        self.cancel = CancelRenewal(self)
        self._journal = self._open_journal()
        self.load_home()

    def _open_journal(self) -> RenewalJournal:
        try:
            journal = self._services.journal()
        except Exception as exc:  # its home unusable (LocalStateError), or worse: said, not raised
            self._fault(exc)
            return RenewalJournal(self._services.home / "journal.sqlite3", read_only=True)
        aside = journal.set_aside
        if aside is not None:
            files = ", ".join(str(p) for p in aside.pending_files) or "-"
            self.home_notices = [
                Message("notice.journal_set_aside", {"path": str(aside.path), "files": files})
            ]
        return journal

    # --- plumbing ------------------------------------------------------------------------------

    def notify(self) -> None:
        """Re-render: the UI's subclass is Flet's Observable, whose notify this is (ui/app.py's
        Wizard); nothing to do in plain Python. The step models call it on every change."""

    def _fault(self, exc: Exception, secrets: Iterable[str] = ()) -> None:
        """The last resort, for every entry point: one translated line on the screen, never a
        traceback or a frozen window. A bug also leaves a report (``wizard.reports``) in which
        every password this window holds is blotted out (``secrets``: a step's own, should it be
        one left behind)."""
        if isinstance(exc, QoltanbaError):
            error = exc
        else:
            from wizard.reports import internal_error, remember_secret

            held = (*self.keys._secrets(), *self.password._secrets(), *secrets)
            for secret in held:
                remember_secret(secret)
            error = internal_error(exc, self._services.home)
            report = error.params.get("report", "-")
            logger.error("internal error %s; report: %s", type(exc).__name__, report)
        self.fault = Message.of(error)

    def dismiss_fault(self) -> None:
        self.fault = None

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, **params)

    def format_date(self, moment: date | datetime) -> str:
        from babel.dates import format_date

        locale = {"kk": "kk_KZ", "ru": "ru_RU", "en": "en_GB"}[self.lang]
        day = moment.date() if isinstance(moment, datetime) else moment
        if self.lang == "ru":
            # "1 декабря 2027 года", not CLDR's "1 декабря 2027 г.": a sentence ending with the
            # date would end in "г.." (issue #11)
            return format_date(day, format="d MMMM y 'года'", locale=locale)
        return format_date(day, format="long", locale=locale)

    @property
    def demo(self) -> bool:
        return self.authority == "demo"

    async def _open_authority(self) -> Any:
        if self._authority is not None and self._authority_spec == self.authority:
            return self._authority
        await self.close(tokens=False)  # another authority: a token's open session stays
        self._authority_cm = self._services.open_authority(self.authority)
        self._authority = await self._authority_cm.__aenter__()
        self._authority_spec = self.authority
        return self._authority

    async def close(self, *, tokens: bool = True) -> None:
        """The window closes: stop refreshing, let a run under way stop at its next step (up to
        CLOSE_PATIENCE; the journal keeps the step), let go of the renewal's lock, close the
        client (and the token's session, unless ``tokens`` is False)."""
        if self._running and tokens:
            self._closing = self._leaving = True
            idle = self._run_idle
            if idle is not None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(idle.wait(), CLOSE_PATIENCE)
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None
        self.progress._release()
        if tokens:
            self.tokens.close()
        if self._authority_cm is not None:
            cm, self._authority_cm, self._authority = self._authority_cm, None, None
            with contextlib.suppress(Exception):
                await cm.__aexit__(None, None, None)

    def disconnected(self) -> None:
        """The page lost its browser (the tab closed; a reload connects again): a renewal that
        waits for the person (the one-time code, the authority's answer) lets go of its lock, so
        that a new tab can carry it on; this window takes it again when it goes on. A run under
        way keeps it until its step is recorded."""
        if not self._running:
            self.progress._release()

    # --- navigation ----------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Switch language at any step; everything typed stays. The choice is remembered: the
        next start opens in it."""
        if lang in LANGUAGES:
            self.lang = lang
            self._services.remember_language(lang)

    def use_device_language(self, lang: str | None) -> None:
        """The device's own language, when nothing was chosen yet (not remembered: only a
        choice the person makes is)."""
        if lang in LANGUAGES:
            self.lang = lang

    def go(self, screen: str) -> None:
        if screen not in SCREENS:
            raise ValueError(screen)
        self.fault = None  # said where it happened; a new screen starts clean
        if screen == "help":
            self.help_from = self.screen if self.screen != "help" else self.help_from
            self.help_topic = None  # Help from its button: at its top
        if screen == "home":
            self._leave()  # back home, the renewal is left: another window may take it on
            self.load_home()
        elif self.screen == "home":
            self.home_notices = []  # said once
        self.screen = screen

    def back_from_help(self) -> None:
        self.screen = self.help_from

    def help_with(self, message: Message | None = None, reason: str | None = None) -> None:
        """A "What does this mean?" link: Help opened at the answer for what the screen shows
        (an error ``message``, or a key card's verdict ``reason``: wizard.ui.help_topics), then
        "Back" returns here."""
        topic = help_topic_for(message, reason)
        self.go("help")
        self.help_topic = topic

    def start_new(self) -> None:
        """Begin a renewal from the first step, forgetting any earlier attempt in this window."""
        self.resuming = None
        self._fresh_keys()
        self._fresh_renewal()
        self.home_notices = []
        self.fault = None
        self.screen = "start"

    def start_again(self) -> None:
        """After a renewal ended without new keys (rejected, refused, lapsed, ended elsewhere): a
        new one of the same current keys, from the application step (details kept)."""
        keys_open = self.keys.keys_ok and self.keys._current is not None
        self.resuming = None
        self._fresh_renewal(keep_details=True)
        if not keys_open:
            self.start_new()
            return
        self.continue_from_keys()

    def _fresh_keys(self) -> None:
        """Step 3 from nothing: no file, password, PIN or card (the token logged out)."""
        self.tokens.close()
        self.keys = CurrentKeys(self)

    def _fresh_renewal(self, *, keep_details: bool = False) -> None:
        """Steps 4 on from nothing (the application's details kept if asked): the renewal this
        window followed is left, its lock let go."""
        self._leave()
        self.form = self.form.kept() if keep_details else ApplicationForm(self)
        self.password = NewPassword(self)
        self.progress = Progress(self)
        self.done = Done(self)
        self.cancel = CancelRenewal(self)

    def _leave(self) -> None:
        """The person left this renewal (home, start over, another renewal): release its lock, at
        once or, while a step is under way, when that step is recorded (the run stops there)."""
        renewer = self.progress._renewer
        if renewer is None:
            return
        if self._running:
            self._leaving = True
        else:
            renewer.release()

    # --- home ----------------------------------------------------------------------------------

    def load_home(self) -> None:
        now = self._services.clock()
        pending, known = [], []
        for renewal in self._journal.all():
            installed = renewal.record.installed
            if renewal.state is S.DONE and installed and installed.not_after:
                not_after = installed.not_after
                known.append(
                    KnownKey(
                        folder=str(renewal.folder or ""),
                        files=installed.files,
                        not_after=not_after,
                        days_left=days_until(not_after, now),
                    )
                )
            elif not renewal.state.finished:
                pending.append(PendingRenewal.of(renewal))
        self.pending = pending
        self.known = sorted(known, key=lambda k: k.not_after)

    def resume(self, renewal_id: str) -> None:
        """Continue an interrupted renewal: open the same current keys again (chosen again when
        their files are at hand, opened at once when they are the demo keys made here), then it
        goes on from exactly the recorded step (nothing is filed twice)."""
        match = [p for p in self.pending if p.id == renewal_id]
        if not match:
            return
        renewal = self._journal.get(renewal_id)
        self._fresh_keys()
        self._fresh_renewal()
        self.home_notices = []
        self.resuming = match[0]
        self.authority = renewal.authority
        self.authority_url = "" if renewal.authority == "demo" else renewal.authority
        self._chosen_adapter = None
        if not self.demo:
            with contextlib.suppress(QoltanbaError):
                self._chosen_adapter = self._services.resolve(renewal.authority).name
        self.progress.application = renewal.application
        details = renewal.record.details
        if renewal.record.origin.token and details is not None:  # its new keys are on a token
            kinds = [k for k, storage in TOKEN_KINDS.items() if storage == details.storage]
            self.storage_kind = kinds[0] if kinds else "kaztoken"
            self.keys.find_tokens()
        else:  # key files: the same ones, chosen again where they are at hand (issue #11)
            self.storage_kind = "file"
            origin = renewal.record.origin
            self.keys._reselect(origin.current_files, self._services.home / "demo-keys")
        self.screen = "open"

    async def resume_checked(self, renewal_id: str) -> None:
        """Home's "Continue": ``resume``, then, for keys opened again at once, what the authority
        says of them, as when "Open keys" is pressed (their revocation: not "not checked")."""
        self.resume(renewal_id)
        if self.screen == "open" and self.keys.cards:
            await self.keys.check_with_authority()

    # --- step 1: who issues the new keys -------------------------------------------------------

    def authority_choices(self) -> list[Any]:
        """The authorities to choose from: the same list as ``qoltanba authority list``."""
        try:
            return self._services.authorities(self.lang)
        except Exception:  # a broken plug-in never hides the demo (the list marks it unusable)
            return []

    @property
    def authority_choice(self) -> str:
        """The adapter chosen: "demo", an adapter opened by name, or one chosen by address."""
        if self.demo:
            return "demo"
        return self._chosen_adapter or "mock-http"

    def set_mode(self, demo: bool) -> None:
        self.choose_authority("demo" if demo else "mock-http")

    def choose_authority(self, name: str) -> None:
        self.mode_error = None
        self._chosen_adapter = name
        choice = next((c for c in self.authority_choices() if c.name == name), None)
        if name == "demo":
            self.authority = "demo"
        elif choice is not None and choice.opens_by_name:
            self.authority = name
        else:
            self.authority = self.authority_url.strip()

    def set_authority_url(self, url: str) -> None:
        self.authority_url = url
        self.mode_error = None  # said at the field: gone once it is changed
        if not self.demo and self.authority_choice_by_address:
            self.authority = url.strip()

    @property
    def authority_choice_by_address(self) -> bool:
        """The chosen adapter is reached at an address the person types."""
        if self.demo:
            return False
        name = self.authority_choice
        choice = next((c for c in self.authority_choices() if c.name == name), None)
        return choice is None or not choice.opens_by_name

    def confirm_start(self) -> None:
        if not self.demo:
            from wizard.authority.connect import check_url

            if self.authority_choice_by_address and not self.authority_url.strip():
                self.mode_error = Message("start.authority_url_empty")
                return
            try:
                if self.authority_choice_by_address:
                    self.authority = check_url(self.authority_url.strip())
                chosen = self._services.resolve(self.authority)
                self.authority = chosen.spec  # what the journal records, as the CLI does
            except QoltanbaError as error:
                self.mode_error = Message.of(error)
                return
        self.mode_error = None
        self.keys._authority_chosen()
        self.screen = "storage"

    # --- step 2: where the keys are ------------------------------------------------------------

    def choose_storage(self, kind: str) -> None:
        if kind in STORAGE_KINDS:
            self.storage_kind = kind

    def confirm_storage(self) -> None:
        if self.storage_kind == "file":
            self.screen = "open"
        elif self.token_mode:
            self.keys.find_tokens()
            self.screen = "open"

    @property
    def token_mode(self) -> bool:
        """The kind chosen is a token Qoltanba renews on, and tokens can be used here."""
        return self.storage_kind in TOKEN_KINDS and self.tokens.supported()

    # --- from step 3 on ------------------------------------------------------------------------

    def continue_from_keys(self) -> None:
        """Step 3's "Continue": on to the application, or, for keys with a renewal under way, to
        the password that unlocks its new keys (its details are recorded)."""
        keys = self.keys
        if not keys.keys_ok or keys.asking:
            return
        if keys._refuse_revoked():
            return
        pending = self._journal.pending_for(keys._current.fingerprints)
        if pending is not None and pending.state is not S.CHECKED:
            # An interrupted renewal of these keys: its details are recorded; only the new
            # password (to unlock the new keys saved encrypted) is needed to go on.
            self.progress._renewal = pending
            self.progress.application = pending.application
            self.form._resumed(pending.record.details, pending.folder)
            self.resuming = PendingRenewal.of(pending)
            if pending.state is S.DONE:
                self.progress._show_done(pending)
                return
            self.screen = "password"
            return
        self.resuming = None
        self.screen = "application"

    @property
    def why_not_continue(self) -> Message | None:
        """What the current step still needs before its forward button can be pressed, or None
        (said beside the disabled button)."""
        if self.busy:
            return None
        keys, password = self.keys, self.password
        if self.screen == "open" and keys.asking:
            return Message("verdict_ui.why_checking")  # Continue waits for the authority's word
        if self.screen == "open" and keys.issuer_refusal is not None:
            return _why_issuer(keys.issuer_refusal)
        if self.screen == "open" and not self.token_mode:
            if keys.keys_ok or (keys.cards and keys.open_error is None):
                return None  # open: it goes on; refused: the cards say why
            if keys.open_error is not None:
                return None  # the error above says what to do
            return Message("open.why_not_continue")
        if self.screen == "application" and not self.form.application_ok:
            return Message("application.confirm_needed")
        if self.screen == "password" and not self.token_mode and self.resuming is None:
            if password.can_accept:
                return None
            if not password.new_password or not password.verdict.acceptable:
                return Message("password.why_rules")
            if not password.passwords_match:
                return Message("password.why_repeat")
            return Message("password.understand_needed")
        return None

    def keep_refreshing(self, seconds: float) -> None:
        """While the status screen is shown, refresh it every ``seconds``: one loop at most,
        however often the screen asks (close() stops it)."""
        if self.screen != "status" or (self._refresh_task and not self._refresh_task.done()):
            return
        self._refresh_task = asyncio.create_task(self._refresh_loop(seconds))

    async def _refresh_loop(self, seconds: float) -> None:
        while self.screen == "status" and self.progress.rejection is None:
            await asyncio.sleep(seconds)
            if self.screen == "status" and self.cancel.asked is None:
                await self.refresh()

    async def refresh(self) -> None:
        """The status screen's refresh (by itself every few seconds, or the button)."""
        if self.busy or self.keys._current is None or self.progress.rejection is not None:
            return
        await self.progress.run()


def _why_issuer(refusal: Message) -> Message:
    """Beside the disabled Continue: this authority does not renew keys of this issuer (what to
    do is said above, with the keys)."""
    params = refusal.params
    if params.get("advice") in DEMO_ADVICE:  # the demo's own name is English: said in words
        return Message("verdict_ui.why_issuer_demo", {"issuer": params.get("issuer", "-")})
    return Message(
        "verdict_ui.why_issuer",
        {"authority": params.get("authority", "-"), "issuer": params.get("issuer", "-")},
    )


DEMO_ADVICE = frozenset({"demo_trust", "demo_keys"})  # wizard.renewal.acceptance: a demo's refusal


def help_topic_for(message: Message | None, reason: str | None = None) -> str | None:
    """The help topic for what a screen shows (wizard.ui.help_topics), or None (Help's top)."""
    from wizard.ui.help_topics import HELP_FOR_CLASS, HELP_FOR_CODE, HELP_FOR_REASON

    error = message.error if message is not None else None
    if reason is None and error is not None:
        reason = error.params.get("reason")
    if reason is not None and reason in HELP_FOR_REASON:
        return HELP_FOR_REASON[reason]
    if error is not None:
        if error.code in HELP_FOR_CODE:
            return HELP_FOR_CODE[error.code]
        return HELP_FOR_CLASS.get(type(error).__name__)
    if message is None:
        return None
    # a message that wraps an error's words (open.file_error) names its code and class
    code = message.params.get("code") or message.key.removeprefix("error.")
    return HELP_FOR_CODE.get(code) or HELP_FOR_CLASS.get(message.params.get("kind", ""))
