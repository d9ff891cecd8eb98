"""The wizard's state and actions in plain Python (no Flet). Every screen only reads this model and
every button calls one of its methods, so the whole flow runs in tests without a browser. The model
holds no crypto and does no I/O of its own: it calls the key store reader, the password policy and
the renewal journal.

Passwords live in this object's memory for as long as the wizard is open and are never written
anywhere; the journal keeps public facts only.

No dead ends: every public method is an entry point guarded by the wizard's one last-resort
handler (``_last_resort``, applied to the class by ``_guard_entry_points``). Whatever a button, an
effect or a background task calls, an exception that escapes it becomes one translated line on the
screen (``fault``): a Qoltanba error says its own message, anything else is a bug, reported by
``wizard.reports.internal_error`` (a report file without secrets) and said as its one line.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import inspect
import logging
import os
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from wizard.errors import (
    ApplicationRejected,
    AuthorityUnreachable,
    CertificateRefused,
    CodeWrong,
    DetailsInvalid,
    LocalStateError,
    OutputRefused,
    QoltanbaError,
    RenewalBusy,
    RenewalElsewhere,
    TokenAbsent,
    UsageError,
    WrongPassword,
)
from wizard.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from wizard.keys.certificate import days_until, utc_now
from wizard.keys.oids import Holder, Scheme
from wizard.keys.passwords import PasswordVerdict, check_new_password, require_acceptable
from wizard.renewal.journal import BEFORE_SUBMISSION, Renewal, RenewalJournal, RenewalState
from wizard.renewal.secrets import MemorySecrets, SecretStore
from wizard.ui.token_step import TOKEN_KINDS, TokenStep

logger = logging.getLogger(__name__)

S = RenewalState

SCREENS = (
    "home",
    "start",
    "storage",
    "open",
    "application",
    "password",
    "work",
    "code",
    "status",
    "done",
    "help",
)
# The steps of the official flow, in order, as the step indicator shows them.
STEPS = ("start", "storage", "open", "application", "password", "work", "code", "status", "done")
# The number the step indicator shows for each: what a person goes through, one at a time. Making
# the new keys and sending them belong to the password's step ("work" passes by in seconds), the
# wait for the authority to the code's (issue #11: the bar jumped 5 → 7 → 9).
STEP_NUMBERS = {
    "start": 1,
    "storage": 2,
    "open": 3,
    "application": 4,
    "password": 5,
    "work": 5,
    "code": 6,
    "status": 6,
    "done": 7,
}
STORAGE_KINDS = ("file", "id_card", "kaztoken", "etoken", "jacarta", "akey")
DEMO_PASSWORD = "Qwerty12"  # noqa: S105 - the demo keys' password, shown on screen
DEMO_EMAIL = "demo@example.kz"  # the demo application's e-mail, pre-filled (it can be changed)
# Journal states shown as the "work" screen's ticks, in order.
WORK_STAGES = (S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED, S.SUBMITTED)


@dataclass(frozen=True)
class Message:
    """Something to tell the person, translated when shown (so a language switch re-translates)."""

    key: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    error: QoltanbaError | None = None

    def text(self, lang: str) -> str:
        if self.error is not None:
            return self.error.message(lang)
        return translate(self.key, lang, **self.params)

    @classmethod
    def of(cls, error: QoltanbaError) -> Message:
        return cls(key=f"error.{error.code}", params=dict(error.params), error=error)


@dataclass(frozen=True)
class PickedFile:
    name: str
    data: bytes = field(repr=False)
    path: Path | None = None


@dataclass(frozen=True)
class KeyCard:
    """One key as NCALayer's "refresh the key list" shows it, with a verdict."""

    file_name: str
    name: str
    iin: str
    bin: str
    organization: str
    holder: str
    usage: tuple[str, ...]
    algorithm: str
    not_after: datetime
    days_left: int
    renewable: bool
    reason: str | None
    # wizard.keys.revocation.Revocation: good / revoked / unknown, its source and why
    revocation: Any = None


@dataclass(frozen=True)
class PendingRenewal:
    id: str
    state: str
    application: str | None
    folder: str | None
    updated_at: datetime
    cancellable: bool = False  # it can be ended here (every unfinished state but "installed")
    submitted: bool = False  # the authority has it (ending it keeps the application number)

    @classmethod
    def of(cls, renewal: Renewal) -> PendingRenewal:
        return cls(
            id=renewal.id,
            state=renewal.state.value,
            application=renewal.application,
            folder=str(renewal.folder) if renewal.folder else None,
            updated_at=renewal.updated_at,
            cancellable=not renewal.state.finished and renewal.state is not S.INSTALLED,
            submitted=renewal.state not in BEFORE_SUBMISSION,
        )


@dataclass(frozen=True)
class KnownKey:
    """A key from a finished renewal: where it is and when it expires (home screen)."""

    folder: str
    files: tuple[str, ...]
    not_after: datetime
    days_left: int


@dataclass
class Services:
    """What the model needs from the outside world; tests pass their own."""

    home: Path
    authority: str = "demo"  # "demo" or a URL
    secrets: SecretStore = field(default_factory=MemorySecrets)
    clock: Callable[[], datetime] = utc_now
    keys_root: Path | None = None  # where new folders are proposed
    token_modules: tuple[Path, ...] | None = None  # PKCS#11 modules; None: the known paths
    max_wait: float = 3.0  # one status poll's patience before the screen refreshes by itself
    demo_days_left: int = 20

    def journal(self) -> RenewalJournal:
        return RenewalJournal(self.home / "journal.sqlite3")

    def open_authority(self, spec: str):
        from wizard.authority.connect import open_authority

        return open_authority(spec, self.home)

    def authorities(self, lang: str) -> list[Any]:
        """The installed authority adapters (`qoltanba authority list`'s), usable ones first."""
        from wizard.authority.adapters import available_authorities

        return available_authorities(lang)

    def resolve(self, spec: str) -> Any:
        """The adapter ``spec`` names or whose address it is (UsageError when none)."""
        from wizard.authority.adapters import resolve

        return resolve(spec)

    def trust_for(self, spec: str) -> Any:
        """What certificates from ``spec``'s authority must chain to: the demo's DEMO roots, or
        the pinned NCA roots and those the adapter declares (renewal/trust.py)."""
        from wizard.renewal.trust import RenewalTrust

        return RenewalTrust(declared_roots=self.resolve(spec).roots())

    def saved_language(self) -> str | None:
        """The language the person chose here before (prefs.json under the home), if any."""
        from wizard.renewal.prefs import saved_language

        return saved_language(self.home)

    def remember_language(self, lang: str) -> None:
        from wizard.renewal.prefs import save_language

        save_language(self.home, lang)

    def default_keys_root(self) -> Path:
        if self.keys_root is not None:
            return self.keys_root
        if os.environ.get("QOLTANBA_HOME"):
            return self.home / "keys"
        from platformdirs import user_documents_path

        return user_documents_path() / "Qoltanba"


# Public methods that only compute or translate while a screen is drawn: not entry points.
NOT_ENTRY_POINTS = frozenset({"t", "notify", "format_date", "calendar_file"})


def _last_resort(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with the wizard's last-resort handler around it: an exception that escapes it
    (not a cancellation) goes to ``WizardModel._fault`` and the call returns None."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def guarded_async(self: WizardModel, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as exc:
                self._fault(exc)
                return None

        guarded: Callable[..., Any] = guarded_async
    else:

        @functools.wraps(method)
        def guarded_sync(self: WizardModel, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                self._fault(exc)
                return None

        guarded = guarded_sync
    guarded.__last_resort__ = True  # type: ignore[attr-defined]
    return guarded


def _guard_entry_points(cls: type) -> type:
    """Every public method of ``cls`` (what buttons, effects and tasks call) guarded, so that a
    method added later cannot forget it."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name in NOT_ENTRY_POINTS or not inspect.isfunction(value):
            continue
        setattr(cls, name, _last_resort(value))
    return cls


@_guard_entry_points
class WizardModel:
    """Public attributes are the state the screens show; methods are what buttons do."""

    def __init__(self, services: Services, lang: str = DEFAULT_LANGUAGE) -> None:
        self._services = services
        self._authority_cm: Any = None
        self._authority: Any = None
        self._authority_spec: str | None = None
        self._stores: list[Any] = []
        self._current: Any = None
        self._renewer: Any = None
        self._renewal: Renewal | None = None
        self._refresh_task: asyncio.Task | None = None
        self._verdict: tuple[tuple[str, tuple[str, ...]], PasswordVerdict] | None = None
        self._running = False  # run() is carrying the renewal on
        self._leaving = False  # the person left the renewal while run() was under way

        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.screen = "home"
        self.help_from = "home"
        self.authority = services.authority
        self.authority_url = "" if services.authority == "demo" else services.authority
        self._chosen_adapter: str | None = None
        self.mode_error: Message | None = None
        self.storage_kind = "file"
        self.picked: list[PickedFile] = []
        self.current_password = ""
        self.show_current_password = False
        self.cards: list[KeyCard] = []
        self.open_error: Message | None = None
        self.keys_ok = False
        self.busy = False
        self.demo_keys_note: Message | None = None
        self.resuming: PendingRenewal | None = None
        self.identity: dict[str, str] = {}
        self.email = ""
        self.locality = ""
        self.folder = ""
        self.new_storage = "pkcs12"
        self.application_ok = False
        self.details_error: Message | None = None
        self.new_password = ""
        self.new_password2 = ""
        self.show_password = False
        self.understood = False
        self.password_error: Message | None = None
        self.stage = ""
        self.stages_done: list[str] = []
        self.work_error: Message | None = None
        self.application: str | None = None
        self.demo_sms: str | None = None
        self.code = ""
        self.code_error: Message | None = None
        self.remote_state = ""
        self.offline = False
        self.checked_at: datetime | None = None
        self.rejection: Message | None = None
        self.result: dict[str, Any] = {}
        self.pending: list[PendingRenewal] = []
        self.known: list[KnownKey] = []
        # the last-resort line: what an entry point could not handle itself
        self.fault: Message | None = None
        # said on the home screen once (a journal set aside, how a cancel ended)
        self.home_notices: list[Message] = []
        # what the renewal run tells besides its result ("this files a new application")
        self.run_notices: list[Message] = []
        self.email_error: Message | None = None
        self.locality_error: Message | None = None
        self.folder_error: Message | None = None
        # "End this renewal": the renewal the confirmation asks about, and what ending it said
        self.cancel_asked: PendingRenewal | None = None
        self.cancel_error: Message | None = None
        # step 3 asks the authority whether the keys are revoked (issue #12); the done screen
        # offers to revoke the old keys there
        self.revocation_checking = False
        self.old_keys_revoked: Message | None = None
        self.revoke_error: Message | None = None
        # keys on a token (issue #13): the tokens here, the PIN typed (dropped once used)
        self.tokens = TokenStep(services.token_modules)
        self.token_pin = ""
        self.token_notice: Message | None = None
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
        """Overridden by the UI (Flet's Observable) to re-render; nothing to do in plain Python."""

    def _fault(self, exc: Exception) -> None:
        """The last resort, for every entry point: one translated line on the screen, never a
        traceback or a frozen window. A bug also leaves a report (``wizard.reports``) in which
        every password this window holds is blotted out."""
        if isinstance(exc, QoltanbaError):
            error = exc
        else:
            from wizard.reports import internal_error, remember_secret

            for secret in (
                self.current_password,
                self.new_password,
                self.new_password2,
                self.token_pin,
            ):
                remember_secret(secret)
            error = internal_error(exc, self._services.home)
            report = error.params.get("report", "-")
            logger.error("internal error %s; report: %s", type(exc).__name__, report)
        self.fault = Message.of(error)

    def dismiss_fault(self) -> None:
        self.fault = None

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, **params)

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
        """The window closes: stop refreshing, let go of the renewal's lock, close the client
        (and the token's session, unless ``tokens`` is False)."""
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None
        if self._renewer is not None:
            self._renewer.release()
        if tokens:
            self.tokens.close()
        if self._authority_cm is not None:
            cm, self._authority_cm, self._authority = self._authority_cm, None, None
            with contextlib.suppress(Exception):
                await cm.__aexit__(None, None, None)

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
        if screen == "home":
            self._leave()  # back home, the renewal is left: another window may take it on
            self.load_home()
        elif self.screen == "home":
            self.home_notices = []  # said once
        self.screen = screen

    def back_from_help(self) -> None:
        self.screen = self.help_from

    def start_new(self) -> None:
        """Begin a renewal from the first step, forgetting any earlier attempt in this window."""
        self.resuming = None
        self._reset_keys()
        self._reset_renewal()
        self.home_notices = []
        self.fault = None
        self.screen = "start"

    def start_again(self) -> None:
        """After a renewal ended without new keys (rejected, refused, lapsed, ended elsewhere): a
        new one of the same current keys, from the application step (details kept)."""
        keys_open = self.keys_ok and self._current is not None
        self.resuming = None
        self._reset_renewal()
        if not keys_open:
            self.start_new()
            return
        self.continue_from_keys()

    def _reset_keys(self) -> None:
        self.picked = []
        self.current_password = ""
        self.show_current_password = False
        self.cards = []
        self.open_error = None
        self.keys_ok = False
        self.demo_keys_note = None
        self._stores = []
        self._current = None
        self.token_pin = ""
        self.token_notice = None
        self.tokens.close()

    def _leave(self) -> None:
        """The person left this renewal (home, start over, another renewal): release its lock, at
        once or, while a step is under way, when that step is recorded (the run stops there)."""
        if self._renewer is None:
            return
        if self._running:
            self._leaving = True
        else:
            self._renewer.release()

    def _release(self) -> None:
        """The renewal finished or ended: other windows may work on these keys again."""
        if self._renewer is not None:
            self._renewer.release()

    def _to(self, screen: str) -> None:
        """Show ``screen`` as a run's outcome, unless the person has left the renewal meanwhile."""
        if not self._leaving:
            self.screen = screen

    def _reset_renewal(self) -> None:
        self._leave()
        self.application_ok = False
        self.new_password = ""
        self.new_password2 = ""
        self.understood = False
        self.password_error = None
        self.details_error = None
        self.email_error = None
        self.locality_error = None
        self.folder_error = None
        self.cancel_asked = None
        self.cancel_error = None
        self.run_notices = []
        self.stage = ""
        self.stages_done = []
        self.work_error = None
        self.application = None
        self.demo_sms = None
        self.code = ""
        self.code_error = None
        self.remote_state = ""
        self.offline = False
        self.rejection = None
        self.result = {}
        self._renewal = None
        self._renewer = None

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
        """Continue an interrupted renewal: open the same current keys again, then it goes on
        from exactly the recorded step (nothing is filed twice)."""
        match = [p for p in self.pending if p.id == renewal_id]
        if not match:
            return
        renewal = self._journal.get(renewal_id)
        self._reset_keys()
        self._reset_renewal()
        self.home_notices = []
        self.resuming = match[0]
        self.authority = renewal.authority
        self.authority_url = "" if renewal.authority == "demo" else renewal.authority
        self._chosen_adapter = None
        if not self.demo:
            with contextlib.suppress(QoltanbaError):
                self._chosen_adapter = self._services.resolve(renewal.authority).name
        self.application = renewal.application
        details = renewal.record.details
        if renewal.record.origin.token and details is not None:  # its new keys are on a token
            kinds = [k for k, storage in TOKEN_KINDS.items() if storage == details.storage]
            self.storage_kind = kinds[0] if kinds else "kaztoken"
            self.find_tokens()
        self.screen = "open"

    # --- step: language and mode ---------------------------------------------------------------

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
        self.screen = "storage"

    # --- step: where the keys are --------------------------------------------------------------

    def choose_storage(self, kind: str) -> None:
        if kind in STORAGE_KINDS:
            self.storage_kind = kind

    def confirm_storage(self) -> None:
        if self.storage_kind == "file":
            self.screen = "open"
        elif self.token_mode:
            self.find_tokens()
            self.screen = "open"

    # --- step: keys on a token (issue #13; the token itself: ui/token_step.py) ----------------

    @property
    def token_mode(self) -> bool:
        """The kind chosen is a token Qoltanba renews on, and tokens can be used here."""
        return self.storage_kind in TOKEN_KINDS and self.tokens.supported()

    def find_tokens(self) -> None:
        """Look for the tokens plugged in (and what each says of its PIN); the keys read before
        are forgotten (the PIN is asked again)."""
        self.open_error = None
        self.cards, self.keys_ok, self._stores, self._current = [], False, [], None
        try:
            self.tokens.scan()
        except QoltanbaError as error:
            self.open_error = Message.of(error)

    def choose_token(self, serial: str) -> None:
        self.tokens.choose(serial)
        self.cards, self.keys_ok, self._stores, self._current = [], False, [], None

    def set_token_pin(self, value: str) -> None:
        self.token_pin = value
        self.open_error = None

    async def open_token(self) -> None:
        """Log in with the PIN (in a worker thread: a token may be slow) and show the NCA keys to
        renew with their verdicts. The PIN is dropped at once: the session stays logged in."""
        from wizard.renewal.token_home import current_keys_on_token

        self.cards, self.keys_ok, self._stores, self._current = [], False, [], None
        self.token_notice = None
        if self.tokens.chosen is None:
            self.find_tokens()
            if self.tokens.chosen is None:
                self.open_error = Message("token.ui.none_found")
                return
        if not self.token_pin:
            self.open_error = Message("token.ui.no_pin")
            return
        pin, self.token_pin = self.token_pin, ""
        self.busy = True
        self.notify()
        try:
            stores = await asyncio.to_thread(self.tokens.login, pin)
            info = self.tokens.session.token
            current = current_keys_on_token(self._journal, stores, info)
        except QoltanbaError as error:
            with contextlib.suppress(QoltanbaError):
                self.tokens.scan()  # what the token says of its PIN now
            self.open_error = Message.of(error)
            return
        finally:
            self.busy = False
        if self.tokens.factory_typed:
            self.token_notice = Message("token.ui.factory_after", {"token": info.name})
        now = self._services.clock()
        self._stores = list(current.stores.values())
        self.cards = [_card(s.label or s.object_id.hex(), s, now) for s in self._stores]
        self.open_error = None
        self._keys_checked()

    # --- step: open the current keys ----------------------------------------------------------

    def set_files(self, files: list[PickedFile]) -> None:
        self.picked = list(files)
        self.show_current_password = False  # shown only for the demo keys made here
        self.cards = []
        self.keys_ok = False
        self.open_error = None

    def remove_file(self, name: str) -> None:
        self.set_files([f for f in self.picked if f.name != name])

    async def make_demo_keys(self, holder: str = "individual") -> None:
        """Demo mode: have the demo authority issue this demo holder's current keys."""
        from wizard.keys.files import free_folder
        from wizard.keys.store import read_store_file
        from wizard.renewal.demo import issue_demo_keys

        self.busy = True
        self.open_error = None
        self.notify()
        try:
            authority = await self._open_authority()
            folder = free_folder(self._services.home / "demo-keys", holder)
            demo = await issue_demo_keys(
                authority,
                folder,
                DEMO_PASSWORD,
                scheme=Scheme.RSA,
                holder=Holder(holder),
                days_left=self._services.demo_days_left,
            )
            self.set_files(
                [PickedFile(name=p.name, data=read_store_file(p), path=p) for p in demo.files]
            )
            self.demo_keys_note = Message(
                "open.demo_made", {"password": DEMO_PASSWORD, "folder": str(demo.folder)}
            )
        except QoltanbaError as error:
            self.open_error = Message.of(error)
            return
        finally:
            self.busy = False
        # The keys are opened at once: the password the app has just set is shown and filled in
        # (nothing to type, nothing more to press), then the authority is asked about them.
        self.current_password = DEMO_PASSWORD
        self.show_current_password = True
        if not self.email:
            self.email = DEMO_EMAIL  # a demo holder's certificate carries no e-mail address
        self.open_keys()
        if self.keys_ok:
            await self.check_revocation()

    def open_keys(self) -> None:
        """Open every picked store with the password and show the key list with verdicts (the
        revocation as far as the CRLs at hand tell; `check_revocation` then asks the authority)."""
        from wizard.keys.store import open_store_bytes

        self.cards = []
        self.keys_ok = False
        self._stores = []
        self._current = None
        if not self.picked:
            self.open_error = Message("open.none_picked")
            return
        if not self.current_password:
            self.open_error = Message("open.no_password")
            return
        now = self._services.clock()
        stores, cards = [], []
        for picked in self.picked:
            try:
                store = open_store_bytes(picked.data, self.current_password, path=picked.path)
            except WrongPassword as error:
                self.open_error = Message.of(error)
                return
            except QoltanbaError as error:
                self.open_error = Message(
                    "open.file_error",
                    {"file": picked.name, "detail": error.message(self.lang)},
                    None,
                )
                return
            stores.append(store)
            cards.append(_card(picked.name, store, now))
        self.cards = cards
        self._stores = stores
        self.open_error = None
        self._keys_checked()

    async def check_revocation(self) -> None:
        """Ask whether the opened keys are revoked (OCSP, then CRLs: wizard.authority.revocation)
        in a worker thread, and show the answer on each card; a revoked key cannot go on."""
        from wizard.authority.revocation import RevocationOptions, check_stores

        stores = list(self._stores)
        if not stores or self.revocation_checking:
            return
        options = RevocationOptions.from_environment(
            home=self._services.home, clock=self._services.clock, engine_in_thread=False
        )
        self.revocation_checking = True
        self.notify()
        try:
            checked = await asyncio.to_thread(asyncio.run, check_stores(stores, options))
        finally:
            self.revocation_checking = False
        if [id(s) for s in self._stores] != [id(s) for s in stores]:
            return  # other keys were opened meanwhile: this answer is not theirs
        now = self._services.clock()
        self._stores = checked
        names = [card.file_name for card in self.cards]
        self.cards = [_card(name, s, now) for name, s in zip(names, checked, strict=True)]
        self._keys_checked()

    def _keys_checked(self) -> None:
        """keys_ok and the renewal's identity from the opened stores and their cards."""
        from wizard.renewal.process import current_keys

        self.keys_ok = False
        self._current = None
        if not all(card.renewable for card in self.cards):
            return
        stores = self._stores
        try:
            self._current = current_keys(stores)
        except QoltanbaError as error:
            self.open_error = Message.of(error)
            return
        self.keys_ok = True
        facts = self._current.signer.facts
        self.identity = {
            "name": facts.full_name,
            "iin": facts.iin,
            "bin": facts.bin,
            "organization": facts.organization,
            "holder": facts.holder.value,
        }
        self.email = self.email or facts.email
        self.locality = self.locality or facts.locality
        if not self.folder:
            self.folder = str(self._propose_folder())

    def _propose_folder(self) -> Path:
        from wizard.keys.files import free_folder

        day = self._services.clock().date().isoformat()
        return free_folder(self._services.default_keys_root(), f"keys-{day}")

    def continue_from_keys(self) -> None:
        if not self.keys_ok or self.revocation_checking:
            return
        if any(store.revocation.revoked for store in self._current.stores.values()):
            from wizard.errors import NotRenewable

            self.keys_ok = False  # a revoked key never goes on: a new application instead
            self.open_error = Message.of(NotRenewable(reason="revoked"))
            return
        pending = self._journal.pending_for(self._current.fingerprints)
        if pending is not None and pending.state is not S.CHECKED:
            # An interrupted renewal of these keys: its details are recorded; only the new
            # password (to unlock the new keys saved encrypted) is needed to go on.
            self._renewal = pending
            self.application = pending.application
            if pending.folder is not None:
                self.folder = str(pending.folder)
            if pending.record.details is not None:
                self.email = pending.record.details.email
                self.locality = pending.record.details.locality
            self.resuming = PendingRenewal.of(pending)
            if pending.state is S.DONE:
                self._show_done(pending)
                return
            self.screen = "password"
            return
        self.resuming = None
        self.screen = "application"

    # --- step: the application -----------------------------------------------------------------

    def set_email(self, value: str) -> None:
        self.email = value
        self.email_error = None

    def set_locality(self, value: str) -> None:
        self.locality = value
        self.locality_error = None

    def set_folder(self, value: str) -> None:
        self.folder = value
        self.folder_error = None

    def submit_application(self) -> None:
        from wizard.renewal.process import normal_details

        self.email_error = self.locality_error = self.folder_error = self.details_error = None
        if not self.email.strip():  # said at the field, in words of its own (not "…address: -")
            self.email_error = Message("application.email_empty")
            return
        details = self._details()
        try:
            normal_details(details)
        except DetailsInvalid as error:
            self._details_invalid(error)
            return
        try:
            if not self.token_mode and not self.folder.strip():
                raise UsageError("renewal_no_folder")
            if details.folder is not None:
                self._check_folder(details.folder)
        except QoltanbaError as error:
            self.folder_error = Message.of(error)
            return
        if not self.application_ok:
            self.details_error = Message("application.confirm_needed")
            return
        self.details_error = None
        self.screen = "password"

    def _details_invalid(self, error: DetailsInvalid) -> None:
        """Put the message at the field it is about: the e-mail when the e-mail alone is refused,
        else the locality (or the storage, said under the form)."""
        from wizard.renewal.process import STORAGES, normal_email

        message = Message.of(error)
        try:
            normal_email(self.email)
        except DetailsInvalid:
            self.email_error = message
            return
        if self.new_storage not in STORAGES:
            self.details_error = message
        else:
            self.locality_error = message

    def _check_folder(self, folder: Path) -> None:
        from wizard.keys.files import check_new_folder

        check_new_folder(folder, [s.path for s in self._stores if s.path is not None])

    # --- why "Continue" cannot be pressed yet (said beside the disabled button) -------------------

    @property
    def why_not_continue(self) -> Message | None:
        """What the current step still needs before its forward button can be pressed, or None."""
        if self.busy:
            return None
        if self.screen == "open" and not self.token_mode:
            if self.keys_ok or (self.cards and self.open_error is None):
                return None  # open: it goes on; refused: the cards say why
            if self.open_error is not None:
                return None  # the error above says what to do
            return Message("open.why_not_continue")
        if self.screen == "application" and not self.application_ok:
            return Message("application.confirm_needed")
        if self.screen == "password" and not self.token_mode and self.resuming is None:
            if self.can_accept_password:
                return None
            if not self.new_password or not self.password_verdict.acceptable:
                return Message("password.why_rules")
            if not self.passwords_match:
                return Message("password.why_repeat")
            return Message("password.understand_needed")
        return None

    # --- step: the new password ----------------------------------------------------------------

    @property
    def password_verdict(self) -> PasswordVerdict:
        """The policy's verdict on the new password, judged once per password typed (the screen
        and its button both ask, on every keystroke; zxcvbn is the costly part)."""
        identity = self._current.identity() if self._current is not None else ()
        asked = (self.new_password, identity)
        if self._verdict is None or self._verdict[0] != asked:
            self._verdict = (asked, check_new_password(self.new_password, identity=identity))
        return self._verdict[1]

    @property
    def passwords_match(self) -> bool:
        return bool(self.new_password) and self.new_password == self.new_password2

    @property
    def can_accept_password(self) -> bool:
        if self.token_mode:
            return self.tokens.session is not None  # no new password: the PIN protects them
        if self.resuming is not None and self._renewal is not None:
            return bool(self.new_password)
        return self.password_verdict.acceptable and self.passwords_match and self.understood

    async def accept_password(self) -> None:
        if self.token_mode:
            self.password_error = None
            await self.run()
            return
        if self.resuming is None or self._renewal is None:
            identity = self._current.identity() if self._current is not None else ()
            try:
                require_acceptable(self.new_password, identity=identity)
            except QoltanbaError as error:
                self.password_error = Message.of(error)
                return
            if not self.passwords_match:
                self.password_error = Message("password.confirm_mismatch")
                return
            if not self.understood:
                self.password_error = Message("password.understand_needed")
                return
        self.password_error = None
        await self.run()

    # --- the renewal itself --------------------------------------------------------------------

    def _details(self):
        from wizard.renewal.process import RenewalDetails

        if self.token_mode:  # the new keys go on the token: no folder, no password
            storage = TOKEN_KINDS[self.storage_kind]
            return RenewalDetails(self.email, self.locality, None, "", storage=storage)
        return RenewalDetails(
            email=self.email,
            locality=self.locality,
            folder=Path(self.folder.strip()).expanduser(),
            new_password=self.new_password,
            storage=self.new_storage,
        )

    async def _typed_code(self, number: str, attempts_left: int | None) -> str | None:
        """The code typed on the code screen, taken once; None before one is typed (the driver
        stops at the code, and the code screen is shown)."""
        code, self.code = self.code, ""
        return code or None

    def _on_progress(self, renewal: Renewal) -> None:
        if self._renewer is not None:
            self._take_notices(self._renewer)
        self.offline = False
        self._renewal = renewal
        self.stage = renewal.state.value
        done = [s.value for s in WORK_STAGES if _reached(renewal.state, s)]
        self.stages_done = done
        self.application = renewal.application
        self.notify()

    async def run(self) -> None:
        """Carry the renewal forward as far as it goes without the person: stops at the one-time
        code, at a wait for the authority (status screen), at the end or at an error. Every
        Qoltanba error is said with a way forward (``work_actions``)."""
        from wizard.errors import RenewalWaiting
        from wizard.renewal.process import Renewer

        if self._ended_elsewhere():
            return
        self.busy = True
        self._running = True
        self._leaving = False
        self.work_error = None
        self.fault = None
        if self.screen not in ("work", "status"):
            self.screen = "work"
        self.notify()
        renewer = None
        try:
            authority = await self._open_authority()
            if self._renewer is None:
                self._renewer = Renewer(
                    self._journal,
                    authority,
                    self.authority,
                    clock=self._services.clock,
                    max_wait=self._services.max_wait,
                    secrets=self._services.secrets,
                    home=self._services.home,
                    progress=self._on_progress,
                    trust=self._services.trust_for(self.authority),
                    new_keys=self.tokens.new_keys() if self.token_mode else None,
                )
            renewer = self._renewer
            # The one driver the command line uses too; it holds these keys' lock from here
            # (let go when the renewal ends or the person leaves), runs key generation, signing
            # and writing off this loop, and stops between steps when the person went elsewhere.
            renewal = await renewer.drive(
                self._current,
                self._details(),
                self._typed_code,
                stop=lambda: self._leaving,
                hold=True,
            )
            if self._leaving:
                return  # the person went elsewhere: the journal keeps this step
            if renewal.state is S.AWAITING_CODE:
                await self._show_code_screen(authority, renewal)
                return
            if renewal.state.finished:
                self._finished(renewal)
        except WrongPassword as error:
            # the new password typed when resuming does not unlock the saved new keys
            self.password_error = Message.of(error)
            self._to("password")
        except DetailsInvalid as error:
            # an e-mail or locality the request cannot carry: said at its field
            self._details_invalid(error)
            self._to("application")
        except RenewalWaiting:  # before its parent, AuthorityUnreachable
            self.offline = False
            self.checked_at = self._services.clock()
            self.remote_state = self._renewal.state.value if self._renewal else ""
            self._to("status")
        except AuthorityUnreachable:
            self.offline = True
            self.checked_at = self._services.clock()
            self.remote_state = self._renewal.state.value if self._renewal else ""
            self._to("status")
        except CodeWrong as error:  # before its parent, ApplicationRejected
            self.code = ""
            self.code_error = Message.of(error)
            self._to("code")
        except ApplicationRejected as error:
            self._release()
            self.rejection = Message.of(error)
            self._to("status")
        except CertificateRefused as error:
            # the journal ended this renewal as refused: nothing installed, a new one may start
            self._release()
            self.rejection = Message.of(error)
            self._to("status")
        except TokenAbsent as error:
            # unplugged meanwhile: the journal keeps the step; plugged in and the PIN typed
            # again on the keys screen, the same renewal goes on from there
            self.tokens.close()
            self._renewer = None
            self.cards, self.keys_ok = [], False
            self.open_error = Message.of(error)
            self._to("open")
        except QoltanbaError as error:
            # RenewalBusy, RenewalElsewhere, OutputRefused, LocalStateError, ...: said on the
            # screen with what can be done (work_actions)
            self.work_error = Message.of(error)
        finally:
            self.busy = False
            self._running = False
            if self._leaving:
                self._leaving = False
                if renewer is not None:
                    renewer.release()

    def _take_notices(self, renewer: Any) -> None:
        notices = []
        for key, params in renewer.notices:
            message = Message(key, dict(params))
            if message not in notices:
                notices.append(message)
        self.run_notices = notices

    def _ended_elsewhere(self) -> bool:
        """The renewal this window follows was ended meanwhile (another window cancelled it, or
        it was refused): say so instead of starting a new renewal behind the person's back."""
        if self._renewal is None or self._renewal.state.finished:
            return False
        try:
            latest = self._journal.get(self._renewal.id)
        except KeyError:
            return False
        if not latest.state.finished or latest.state is S.DONE:
            return False
        self._renewal = latest
        self._finished(latest)
        return True

    @property
    def work_actions(self) -> tuple[str, ...]:
        """What the work and status screens offer with their error, by the error's class:
        "retry", "back" (to the password), "cancel", "choose_folder", "home"."""
        error = self.work_error.error if self.work_error is not None else None
        if error is None:
            return ("retry", "home") if self.fault is not None else ()
        if isinstance(error, RenewalBusy):
            return ("retry", "home")  # another window works on it: when it is done
        if isinstance(error, RenewalElsewhere):
            return ("cancel", "home")
        if isinstance(error, OutputRefused):  # NoSpace too
            return ("choose_folder", "retry")
        if isinstance(error, LocalStateError):
            return ()  # its message says what to do (QOLTANBA_HOME)
        return ("retry", "back")

    def choose_folder(self) -> None:
        """Back to the application step, the folder's problem said at the folder."""
        self.folder_error = self.work_error
        self.work_error = None
        self.screen = "application"

    async def _show_code_screen(self, authority: Any, renewal: Renewal) -> None:
        self.application = renewal.application
        self.demo_sms = None
        if self.demo and renewal.application:
            with contextlib.suppress(QoltanbaError):
                codes = await authority.demo_codes(renewal.application)
                self.demo_sms = codes[-1] if codes else None
            if self.demo_sms and not self.code:
                self.code = self.demo_sms  # the demo's "SMS" is shown: filled in, not retyped
        self._to("code")

    async def confirm_code(self) -> None:
        code = self.code.strip()
        if not code:
            self.code_error = Message("code.empty")
            return
        self.code = code
        self.code_error = None
        await self.run()

    def keep_refreshing(self, seconds: float) -> None:
        """While the status screen is shown, refresh it every ``seconds``: one loop at most,
        however often the screen asks (close() stops it)."""
        if self.screen != "status" or (self._refresh_task and not self._refresh_task.done()):
            return
        self._refresh_task = asyncio.create_task(self._refresh_loop(seconds))

    async def _refresh_loop(self, seconds: float) -> None:
        while self.screen == "status" and self.rejection is None:
            await asyncio.sleep(seconds)
            if self.screen == "status" and self.cancel_asked is None:
                await self.refresh()

    async def refresh(self) -> None:
        """The status screen's refresh (by itself every few seconds, or the button)."""
        if self.busy or self._current is None or self.rejection is not None:
            return
        await self.run()

    def _finished(self, renewal: Renewal) -> None:
        """The renewal is over: its lock let go, and the outcome shown (new keys, or why there
        are none, with "Start a new renewal")."""
        self._release()
        if renewal.state is S.DONE:
            self._show_done(renewal)
            return
        if renewal.state is S.REFUSED:
            ending = renewal.record.ending
            detail = (ending.refused if ending else "") or "-"
            self.rejection = Message.of(CertificateRefused(detail=detail))
        elif renewal.state is S.CANCELLED:
            self.rejection = Message("status.cancelled_elsewhere")
        elif renewal.state in (S.REJECTED, S.LAPSED):
            reason = (renewal.record.ending.reason if renewal.record.ending else "") or (
                renewal.state.value
            )
            self.rejection = Message("status.rejected", {"reason": reason})
        else:
            return
        self._to("status")

    def _show_done(self, renewal: Renewal) -> None:
        installed = renewal.record.installed
        not_after = installed.not_after if installed else None
        self.result = {
            "folder": str(renewal.folder or ""),
            "files": list(installed.files if installed else ()),
            "not_after": not_after.isoformat() if not_after else None,
            "application": renewal.application,
        }
        if renewal.record.origin.token:  # the new keys are on a token: the done screen names it
            chosen = self.tokens.chosen
            name = chosen.name if chosen is not None else ""
            self.result["token"] = {"serial": renewal.record.origin.token, "name": name}
        self.application = renewal.application
        self._to("done")

    # --- after: revoke the old keys at the authority (the NCA's advice) -------------------------

    @property
    def can_revoke_old(self) -> bool:
        """The old keys are open in this window and have not been revoked here yet."""
        return (
            self._current is not None
            and self.old_keys_revoked is None
            and any(s.private_key is not None for s in self._current.stores.values())
        )

    async def revoke_old_keys(self) -> None:
        """Revoke the current (old) keys at the authority, signed with them; its OCSP and CRLs
        then say "revoked" for them."""
        from wizard.authority.interface import RevokingAuthority
        from wizard.authority.revocation import signed_revocation
        from wizard.errors import AuthorityProtocolError

        if not self.can_revoke_old or self.busy:
            return
        self.busy = True
        self.revoke_error = None
        self.notify()
        try:
            authority = await self._open_authority()
            if not isinstance(authority, RevokingAuthority):
                raise AuthorityProtocolError("revocation_unavailable")
            stores = list(self._current.stores.values())
            request = await asyncio.to_thread(signed_revocation, stores)
            serials = await authority.revoke(request)
            self.old_keys_revoked = Message("done.revoked_old", {"count": len(serials)})
        except QoltanbaError as error:
            self.revoke_error = Message.of(error)
        finally:
            self.busy = False

    # --- ending a renewal ("End this renewal") -------------------------------------------------

    @property
    def can_cancel(self) -> bool:
        """The renewal this window follows can be ended here (status, code, password screens)."""
        renewal = self._renewal
        return (
            renewal is not None
            and self.rejection is None
            and PendingRenewal.of(renewal).cancellable
        )

    def _cancel_target(self, renewal_id: str | None) -> Renewal | None:
        with contextlib.suppress(KeyError):
            if renewal_id is not None:
                return self._journal.get(renewal_id)
            if self._current is not None:
                pending = self._journal.pending_for(self._current.fingerprints)
                if pending is not None:
                    return pending
            if self._renewal is not None:
                return self._journal.get(self._renewal.id)
        return None

    def ask_cancel(self, renewal_id: str | None = None) -> None:
        """Ask to confirm ending a renewal (the one listed, or the one this window follows)."""
        renewal = self._cancel_target(renewal_id)
        self.cancel_error = None
        if renewal is None or not PendingRenewal.of(renewal).cancellable:
            self.cancel_asked = None
            self.load_home()
            return
        self.cancel_asked = PendingRenewal.of(renewal)

    def keep_renewal(self) -> None:
        """The confirmation answered "no": nothing changes."""
        self.cancel_asked = None
        self.cancel_error = None

    def end_renewal(self) -> None:
        """The confirmation answered "yes": end the renewal (wizard.renewal.process.cancel), say
        how it ended and go home. Another window working on it (RenewalBusy) is said instead."""
        from wizard.renewal.process import cancel

        asked = self.cancel_asked
        if asked is None or self.busy:
            return
        renewal = self._cancel_target(asked.id)
        if renewal is None:
            self.keep_renewal()
            return
        if self._renewer is not None:
            self._renewer.release()  # this window's own lock must not stop its own cancel
        try:
            session = self.tokens.session
            on_token = session is not None and renewal.record.origin.token == session.token.serial
            outcome = cancel(
                self._journal,
                renewal,
                home=self._services.home,
                new_keys=self.tokens.new_keys() if on_token else None,  # its new pair removed
            )
        except QoltanbaError as error:  # RenewalBusy, or it ended meanwhile (cancel_finished)
            self.cancel_error = Message.of(error)
            self.load_home()
            return
        if outcome.application:
            said = Message("cli.cancel_after_submission", {"application": outcome.application})
        else:
            said = Message("cli.cancel_before_submission")
        self.resuming = None
        self._reset_renewal()
        self.go("home")
        self.home_notices = [said]

    # --- what the device does for a button (behind ui.platform, replaceable in tests) ----------

    async def pick_files(self, pick: Callable[[], Awaitable[list[PickedFile]]]) -> None:
        """The person chose key files (the platform's picker)."""
        try:
            files = await pick()
        except QoltanbaError as error:  # a file that cannot be read as a key store
            self.open_error = Message.of(error)
            return
        if files:
            self.set_files(files)

    async def copy_application(self, copy: Callable[[str], Awaitable[Any]]) -> bool:
        await copy(self.application or "")
        return True

    async def save_calendar(self, save: Callable[[str, bytes], Awaitable[bool]]) -> bool:
        """Offer the expiry reminders (.ics) to save; True once saved."""
        name, data = self.calendar_file()
        return bool(await save(name, data))

    @property
    def new_not_after(self) -> datetime | None:
        value = self.result.get("not_after")
        return datetime.fromisoformat(value) if value else None

    def calendar_file(self) -> tuple[str, bytes]:
        """The expiry reminders (.ics) of the new keys: a month, two weeks and a week before."""
        from wizard.renewal.reminders import expiry_calendar

        not_after = self.new_not_after
        if not_after is None:
            raise UsageError("no_result")
        data = expiry_calendar(
            not_after,
            title=self.t("done.calendar_title"),
            description=self.t("done.calendar_description", date=self.format_date(not_after)),
            key_id=self.result.get("application") or "",
            now=self._services.clock(),
        )
        return f"qoltanba-{not_after.date().isoformat()}.ics", data

    def format_date(self, moment: date | datetime) -> str:
        from babel.dates import format_date

        locale = {"kk": "kk_KZ", "ru": "ru_RU", "en": "en_GB"}[self.lang]
        day = moment.date() if isinstance(moment, datetime) else moment
        if self.lang == "ru":
            # "1 декабря 2027 года", not CLDR's "1 декабря 2027 г.": a sentence ending with the
            # date would end in "г.." (issue #11)
            return format_date(day, format="d MMMM y 'года'", locale=locale)
        return format_date(day, format="long", locale=locale)


def _card(file_name: str, store: Any, now: datetime) -> KeyCard:
    """A store as its card shows it: who, what for, until when, the verdict, the revocation."""
    facts = store.facts
    verdict = store.verdict(now)
    return KeyCard(
        file_name=file_name,
        name=facts.full_name,
        iin=facts.iin,
        bin=facts.bin,
        organization=facts.organization,
        holder=facts.holder.value,
        usage=facts.usage,
        algorithm=facts.algorithm,
        not_after=facts.not_after,
        days_left=facts.days_left(now),
        renewable=verdict.renewable,
        reason=verdict.reason,
        revocation=store.revocation,
    )


def _reached(state: RenewalState, stage: RenewalState) -> bool:
    order = list(RenewalState)
    if state in (S.REJECTED, S.REFUSED, S.CANCELLED, S.LAPSED):
        return False
    return order.index(state) >= order.index(stage)
