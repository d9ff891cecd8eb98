"""The wizard's state and actions in plain Python (no Flet). Every screen only reads this model and
every button calls one of its methods, so the whole flow runs in tests without a browser. The model
holds no crypto and does no I/O of its own: it calls the key store reader, the password policy and
the renewal journal.

Passwords live in this object's memory for as long as the wizard is open and are never written
anywhere; the journal keeps public facts only.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from wizard.errors import (
    ApplicationRejected,
    AuthorityUnreachable,
    QoltanbaError,
    UsageError,
    WrongPassword,
)
from wizard.i18n import DEFAULT_LANGUAGE, LANGUAGES, translate
from wizard.keys.certificate import days_until, utc_now
from wizard.keys.oids import Holder, Scheme
from wizard.keys.passwords import PasswordVerdict, check_new_password, require_acceptable
from wizard.renewal.journal import Renewal, RenewalJournal, RenewalState
from wizard.renewal.secrets import MemorySecrets, SecretStore

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
STORAGE_KINDS = ("file", "id_card", "kaztoken", "etoken", "jacarta", "akey")
DEMO_PASSWORD = "Qwerty12"  # noqa: S105 - the demo keys' password, shown on screen
# Journal states shown as the "work" screen's ticks, in order.
WORK_STAGES = (S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED, S.SUBMITTED)
# Steps that need no authority: run in a worker thread so the window stays responsive.
OFFLINE_STATES = frozenset(
    {S.CHECKED, S.DETAILED, S.KEYS_SAVED, S.REQUESTS_BUILT, S.ISSUED, S.INSTALLED}
)


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


@dataclass(frozen=True)
class PendingRenewal:
    id: str
    state: str
    application: str | None
    folder: str | None
    updated_at: datetime

    @classmethod
    def of(cls, renewal: Renewal) -> PendingRenewal:
        return cls(
            id=renewal.id,
            state=renewal.state.value,
            application=renewal.application,
            folder=renewal.data.get("folder"),
            updated_at=renewal.updated_at,
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
    max_wait: float = 3.0  # one status poll's patience before the screen refreshes by itself
    demo_days_left: int = 20

    def journal(self) -> RenewalJournal:
        return RenewalJournal(self.home / "journal.sqlite3")

    def open_authority(self, spec: str):
        from wizard.authority.connect import open_authority

        return open_authority(spec, self.home)

    def default_keys_root(self) -> Path:
        if self.keys_root is not None:
            return self.keys_root
        if os.environ.get("QOLTANBA_HOME"):
            return self.home / "keys"
        from platformdirs import user_documents_path

        return user_documents_path() / "Qoltanba"


class WizardModel:
    """Public attributes are the state the screens show; methods are what buttons do."""

    def __init__(self, services: Services, lang: str = DEFAULT_LANGUAGE) -> None:
        self._services = services
        self._journal = services.journal()
        self._authority_cm: Any = None
        self._authority: Any = None
        self._authority_spec: str | None = None
        self._stores: list[Any] = []
        self._current: Any = None
        self._renewer: Any = None
        self._renewal: Renewal | None = None
        self._refresh_task: asyncio.Task | None = None
        self._verdict: tuple[tuple[str, tuple[str, ...]], PasswordVerdict] | None = None

        self.lang = lang if lang in LANGUAGES else DEFAULT_LANGUAGE
        self.screen = "home"
        self.help_from = "home"
        self.authority = services.authority
        self.authority_url = "" if services.authority == "demo" else services.authority
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
        self.load_home()

    # --- plumbing ------------------------------------------------------------------------------

    def notify(self) -> None:
        """Overridden by the UI (Flet's Observable) to re-render; nothing to do in plain Python."""

    def t(self, key: str, **params: Any) -> str:
        return translate(key, self.lang, **params)

    @property
    def demo(self) -> bool:
        return self.authority == "demo"

    async def _open_authority(self) -> Any:
        if self._authority is not None and self._authority_spec == self.authority:
            return self._authority
        await self.close()
        self._authority_cm = self._services.open_authority(self.authority)
        self._authority = await self._authority_cm.__aenter__()
        self._authority_spec = self.authority
        return self._authority

    async def close(self) -> None:
        if self._refresh_task is not None:
            self._refresh_task.cancel()
            self._refresh_task = None
        if self._authority_cm is not None:
            cm, self._authority_cm, self._authority = self._authority_cm, None, None
            with contextlib.suppress(Exception):
                await cm.__aexit__(None, None, None)

    # --- navigation ----------------------------------------------------------------------------

    def set_language(self, lang: str) -> None:
        """Switch language at any step; everything typed stays."""
        if lang in LANGUAGES:
            self.lang = lang

    def go(self, screen: str) -> None:
        if screen not in SCREENS:
            raise ValueError(screen)
        if screen == "help":
            self.help_from = self.screen if self.screen != "help" else self.help_from
        if screen == "home":
            self.load_home()
        self.screen = screen

    def back_from_help(self) -> None:
        self.screen = self.help_from

    def start_new(self) -> None:
        """Begin a renewal from the first step, forgetting any earlier attempt in this window."""
        self.resuming = None
        self._reset_keys()
        self._reset_renewal()
        self.screen = "start"

    def _reset_keys(self) -> None:
        self.picked = []
        self.current_password = ""
        self.cards = []
        self.open_error = None
        self.keys_ok = False
        self.demo_keys_note = None
        self._stores = []
        self._current = None

    def _reset_renewal(self) -> None:
        self.application_ok = False
        self.new_password = ""
        self.new_password2 = ""
        self.understood = False
        self.password_error = None
        self.details_error = None
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
            if renewal.state is S.DONE and renewal.data.get("not_after"):
                not_after = datetime.fromisoformat(renewal.data["not_after"])
                known.append(
                    KnownKey(
                        folder=renewal.data.get("folder", ""),
                        files=tuple(renewal.data.get("files", [])),
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
        self.resuming = match[0]
        self.authority = renewal.authority
        self.authority_url = "" if renewal.authority == "demo" else renewal.authority
        self.application = renewal.application
        self.screen = "open"

    # --- step: language and mode ---------------------------------------------------------------

    def set_mode(self, demo: bool) -> None:
        self.mode_error = None
        self.authority = "demo" if demo else (self.authority_url.strip() or "")

    def set_authority_url(self, url: str) -> None:
        self.authority_url = url
        if not self.demo:
            self.authority = url.strip()

    def confirm_start(self) -> None:
        if not self.demo:
            from wizard.authority.connect import check_url

            try:
                self.authority = check_url(self.authority_url.strip())
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

    # --- step: open the current keys ----------------------------------------------------------

    def set_files(self, files: list[PickedFile]) -> None:
        self.picked = list(files)
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
            self.demo_keys_note = Message("open.demo_made", {"password": DEMO_PASSWORD})
        except QoltanbaError as error:
            self.open_error = Message.of(error)
        finally:
            self.busy = False

    def open_keys(self) -> None:
        """Open every picked store with the password and show the key list with verdicts."""
        from wizard.keys.store import open_store_bytes
        from wizard.renewal.process import current_keys

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
            facts = store.facts
            verdict = store.verdict(now)
            stores.append(store)
            cards.append(
                KeyCard(
                    file_name=picked.name,
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
                )
            )
        self.cards = cards
        self._stores = stores
        self.open_error = None
        if not all(card.renewable for card in cards):
            return
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
        if not self.keys_ok:
            return
        pending = self._journal.pending_for(self._current.fingerprints)
        if pending is not None and pending.state is not S.CHECKED:
            # An interrupted renewal of these keys: its details are recorded; only the new
            # password (to unlock the new keys saved encrypted) is needed to go on.
            self._renewal = pending
            self.application = pending.application
            self.folder = pending.data.get("folder", self.folder)
            self.email = pending.data.get("email", self.email)
            self.locality = pending.data.get("locality", self.locality)
            self.resuming = PendingRenewal.of(pending)
            if pending.state is S.DONE:
                self._show_done(pending)
                return
            self.screen = "password"
            return
        self.resuming = None
        self.screen = "application"

    # --- step: the application -----------------------------------------------------------------

    def submit_application(self) -> None:
        from wizard.renewal.process import check_details

        details = self._details()
        try:
            check_details(details)
            if not self.folder.strip():
                raise UsageError("renewal_no_folder")
            self._check_folder(details.folder)
        except QoltanbaError as error:
            self.details_error = Message.of(error)
            return
        if not self.application_ok:
            self.details_error = Message("application.confirm_needed")
            return
        self.details_error = None
        self.screen = "password"

    def _check_folder(self, folder: Path) -> None:
        from wizard.keys.files import check_new_folder

        check_new_folder(folder, [s.path for s in self._stores if s.path is not None])

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
        if self.resuming is not None and self._renewal is not None:
            return bool(self.new_password)
        return self.password_verdict.acceptable and self.passwords_match and self.understood

    async def accept_password(self) -> None:
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

        return RenewalDetails(
            email=self.email,
            locality=self.locality,
            folder=Path(self.folder.strip()).expanduser(),
            new_password=self.new_password,
            storage=self.new_storage,
        )

    async def _no_code(self, number: str, attempts_left: int | None) -> str:
        return self.code

    def _on_progress(self, renewal: Renewal) -> None:
        self._renewal = renewal
        self.stage = renewal.state.value
        done = [s.value for s in WORK_STAGES if _reached(renewal.state, s)]
        self.stages_done = done
        self.application = renewal.application
        self.notify()

    async def run(self) -> None:
        """Carry the renewal forward as far as it goes without the person: stops at the one-time
        code, at a wait for the authority (status screen), at the end or at an error."""
        from wizard.renewal.process import RenewalWaiting, Renewer

        self.busy = True
        self.work_error = None
        if self.screen not in ("work", "status"):
            self.screen = "work"
        self.notify()
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
                )
            details = self._details()
            renewal = self._renewer.begin(self._current, details)
            self._on_progress(renewal)
            while not renewal.state.finished:
                if renewal.state is S.AWAITING_CODE and not self.code:
                    await self._show_code_screen(authority, renewal)
                    return
                await asyncio.sleep(0)  # let the screen show the progress so far
                step = self._renewer.step(renewal, self._current, details, self._no_code)
                if renewal.state in OFFLINE_STATES:
                    # key generation, signing, writing stores: off the UI's loop
                    renewal = await asyncio.to_thread(asyncio.run, step)
                else:
                    renewal = await step
                self.code = ""
                self.offline = False
                self._on_progress(renewal)
            self._finished(renewal)
        except WrongPassword as error:
            # the new password typed when resuming does not unlock the saved new keys
            self.password_error = Message.of(error)
            self.screen = "password"
        except AuthorityUnreachable:
            self.offline = True
            self.checked_at = self._services.clock()
            self.remote_state = self._renewal.state.value if self._renewal else ""
            self.screen = "status"
        except RenewalWaiting:
            self.offline = False
            self.checked_at = self._services.clock()
            self.remote_state = self._renewal.state.value if self._renewal else ""
            self.screen = "status"
        except ApplicationRejected as error:
            self.rejection = Message.of(error)
            self.screen = "status"
        except QoltanbaError as error:
            if error.code == "code_wrong":
                self.code = ""
                self.code_error = Message.of(error)
                self.screen = "code"
            else:
                self.work_error = Message.of(error)
        finally:
            self.busy = False

    async def _show_code_screen(self, authority: Any, renewal: Renewal) -> None:
        self.application = renewal.application
        self.demo_sms = None
        if self.demo and renewal.application:
            with contextlib.suppress(QoltanbaError):
                codes = await authority.demo_codes(renewal.application)
                self.demo_sms = codes[-1] if codes else None
        self.screen = "code"

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
            if self.screen == "status":
                await self.refresh()

    async def refresh(self) -> None:
        """The status screen's refresh (by itself every few seconds, or the button)."""
        if self.busy or self._current is None or self.rejection is not None:
            return
        await self.run()

    def _finished(self, renewal: Renewal) -> None:
        if renewal.state is S.DONE:
            self._show_done(renewal)
        elif renewal.state in (S.REJECTED, S.LAPSED):
            reason = renewal.data.get("reason") or renewal.state.value
            self.rejection = Message("status.rejected", {"reason": reason})
            self.screen = "status"

    def _show_done(self, renewal: Renewal) -> None:
        folder = renewal.data.get("folder", "")
        self.result = {
            "folder": folder,
            "files": list(renewal.data.get("files", [])),
            "not_after": renewal.data.get("not_after"),
            "application": renewal.application,
        }
        self.application = renewal.application
        self.screen = "done"

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
        return format_date(day, format="long", locale=locale)


def _reached(state: RenewalState, stage: RenewalState) -> bool:
    order = list(RenewalState)
    if state in (S.REJECTED, S.CANCELLED, S.LAPSED):
        return False
    return order.index(state) >= order.index(stage)
