"""What the wizard's models share: the screens and steps, the plain values the screens show
(Message, PickedFile, KeyCard, PendingRenewal, KnownKey), the last-resort handler every entry point
is guarded by, and `Step`, the base of the per-step models the navigator (WizardModel) composes.

No dead ends: every public method of the navigator and of every step model is an entry point
guarded by the wizard's one last-resort handler (``last_resort``, applied to each class by
``guard_entry_points``). Whatever a button, an effect or a background task calls, an exception that
escapes it becomes one translated line on the screen (``WizardModel.fault``): a Qoltanba error says
its own message, anything else is a bug, reported by ``wizard.reports.internal_error`` (a report
file without secrets) and said as its one line.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import QoltanbaError
from wizard.i18n import translate
from wizard.renewal.journal import BEFORE_SUBMISSION, Renewal, RenewalState

if TYPE_CHECKING:
    from wizard.ui.models.wizard import WizardModel

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


# Public methods that only compute or translate while a screen is drawn: not entry points.
NOT_ENTRY_POINTS = frozenset({"t", "notify", "format_date", "calendar_file"})


def last_resort(method: Callable[..., Any]) -> Callable[..., Any]:
    """``method`` with the wizard's last-resort handler around it: an exception that escapes it
    (not a cancellation) goes to its object's ``_fault`` and the call returns None."""
    if inspect.iscoroutinefunction(method):

        @functools.wraps(method)
        async def guarded_async(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return await method(self, *args, **kwargs)
            except Exception as exc:
                self._fault(exc)
                return None

        guarded: Callable[..., Any] = guarded_async
    else:

        @functools.wraps(method)
        def guarded_sync(self: Any, *args: Any, **kwargs: Any) -> Any:
            try:
                return method(self, *args, **kwargs)
            except Exception as exc:
                self._fault(exc)
                return None

        guarded = guarded_sync
    guarded.__last_resort__ = True  # type: ignore[attr-defined]
    return guarded


def guard_entry_points(cls: type) -> type:
    """Every public method of ``cls`` (what buttons, effects and tasks call) guarded, so that a
    method added later cannot forget it."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name in NOT_ENTRY_POINTS or not inspect.isfunction(value):
            continue
        setattr(cls, name, last_resort(value))
    return cls


class PressGuard:
    """A button pressed again while its action runs, or within ``window`` seconds after it
    ended, is dropped: the second click of a double click (queued behind the first, or landing
    once it is done) saves one download, one calendar file, one set of demo keys."""

    def __init__(self, window: float = 1.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._window, self._clock = window, clock
        self._running: set[str] = set()
        self._ended: dict[str, float] = {}

    def begin(self, key: str) -> bool:
        """True: go on (then ``end``); False: a repeat, dropped."""
        ended = self._ended.get(key)
        if key in self._running or (ended is not None and self._clock() - ended < self._window):
            return False
        self._running.add(key)
        return True

    def end(self, key: str) -> None:
        self._running.discard(key)
        self._ended[key] = self._clock()

    def failed(self, key: str) -> None:
        """The action failed: a press again ("Try again") is not a repeat."""
        self._running.discard(key)

    @contextlib.asynccontextmanager
    async def once(self, key: str):
        """``async with presses.once(key) as go: if go: ...`` (an exception out of it counts
        as ``failed``)."""
        go = self.begin(key)
        try:
            yield go
        except BaseException:
            if go:
                self.failed(key)
            raise
        if go:
            self.end(key)


class Step:
    """One step's state and what its buttons and fields do (trolli's one model per thing).

    A step starts over by being made anew (the navigator assigns a fresh instance): nothing typed,
    no error, no answer of an earlier attempt survives it. Screens only read a step's public
    attributes and call its methods, never assign them. Every change of a public attribute tells
    the navigator (``WizardModel.notify``: in the UI, Flet's Observable re-renders the screen), and
    a fault in one of its entry points is the navigator's one line (``WizardModel.fault``).
    """

    def __init__(self, wizard: WizardModel) -> None:
        self._wizard = wizard
        self._presses = PressGuard()  # made anew with the step: a new renewal's first press

    @property
    def presses(self) -> PressGuard:
        """This step's buttons pressed twice at once act once (the save row uses it too)."""
        return self._presses

    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_"):
            object.__setattr__(self, name, value)
            return
        missing = object()
        old = self.__dict__.get(name, missing)
        object.__setattr__(self, name, value)
        if old is value:
            return
        with contextlib.suppress(Exception):
            if old == value:
                return
        self._wizard.notify()

    def _fault(self, exc: Exception) -> None:
        self._wizard._fault(exc, self._secrets())

    def _secrets(self) -> tuple[str, ...]:
        """The passwords and PINs this step holds (never shown in a report)."""
        return ()
