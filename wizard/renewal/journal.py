"""The renewal journal: every renewal's state, kept in SQLite so that any step can be interrupted
(the window closed, the phone restarted, the authority down) and resumed exactly where it stopped.

The states and their transitions are one table (`TRANSITIONS`); an illegal transition raises and
changes nothing. The SQLite layer only persists what the table allows, one transaction per
transition, with an optimistic check that the state is still the one the caller saw.

The journal never holds a password or an unencrypted key: only public material (requests, the
signed application, certificates), the application number and the paths of the encrypted files.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import sqlite3
import stat
import threading
import uuid
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from wizard.errors import (
    IllegalTransition,
    LocalStateError,
    NoSpace,
    RenewalBusy,
    StaleRenewal,
)


class RenewalState(StrEnum):
    CHECKED = "checked"  # current keys opened and found renewable
    DETAILED = "detailed"  # e-mail, locality, storage and the new folder recorded
    KEYS_SAVED = "keys_saved"  # new keys generated and saved, encrypted, in the new folder
    REQUESTS_BUILT = "requests_built"
    SIGNED = "signed"  # the application signed with the current signing key
    SUBMITTED = "submitted"  # the authority gave an application number
    AWAITING_CODE = "awaiting_code"  # one-time code (SMS / eGov Mobile)
    AWAITING_HEAD = "awaiting_head"  # a legal entity's first head must approve
    PROCESSING = "processing"
    ISSUED = "issued"  # certificates downloaded and verified
    INSTALLED = "installed"  # new stores written and re-opened
    DONE = "done"
    REJECTED = "rejected"
    REFUSED = "refused"  # an issued certificate failed our checks: nothing installed, ended
    CANCELLED = "cancelled"
    LAPSED = "lapsed"

    @property
    def finished(self) -> bool:
        return self in FINISHED


S = RenewalState
FINISHED = frozenset({S.DONE, S.REJECTED, S.REFUSED, S.CANCELLED, S.LAPSED})
_REMOTE = {S.AWAITING_CODE, S.AWAITING_HEAD, S.PROCESSING, S.ISSUED}
# Every unfinished state has a way out: cancelled by the person (after submission the application
# number is kept), or refused when what the authority issued fails the checks.
_ENDINGS = {S.CANCELLED}
_REFUSALS = {S.REFUSED, S.CANCELLED}
# Before submission nothing exists at the authority: cancelling ends everything.
BEFORE_SUBMISSION = frozenset({S.CHECKED, S.DETAILED, S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED})

# state -> the states it may move to. Remote states may be skipped forward (an authority can go
# straight from the code to issued), never backward.
TRANSITIONS: dict[RenewalState, frozenset[RenewalState]] = {
    S.CHECKED: frozenset({S.DETAILED, *_ENDINGS}),
    S.DETAILED: frozenset({S.KEYS_SAVED, *_ENDINGS}),
    S.KEYS_SAVED: frozenset({S.REQUESTS_BUILT, *_ENDINGS}),
    S.REQUESTS_BUILT: frozenset({S.SIGNED, *_ENDINGS}),
    S.SIGNED: frozenset({S.SUBMITTED, S.REJECTED, *_ENDINGS}),
    S.SUBMITTED: frozenset({*_REMOTE, S.REJECTED, S.LAPSED, *_REFUSALS}),
    S.AWAITING_CODE: frozenset(
        {S.AWAITING_HEAD, S.PROCESSING, S.ISSUED, S.REJECTED, S.LAPSED, *_REFUSALS}
    ),
    S.AWAITING_HEAD: frozenset({S.PROCESSING, S.ISSUED, S.REJECTED, S.LAPSED, *_REFUSALS}),
    S.PROCESSING: frozenset({S.ISSUED, S.REJECTED, *_REFUSALS}),
    S.ISSUED: frozenset({S.INSTALLED, *_REFUSALS}),
    S.INSTALLED: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.REJECTED: frozenset(),
    S.REFUSED: frozenset(),
    S.CANCELLED: frozenset(),
    S.LAPSED: frozenset(),
}


@dataclass(frozen=True)
class Renewal:
    """One renewal as the journal keeps it. ``data`` holds JSON-able public facts only."""

    id: str
    state: RenewalState
    current: tuple[str, ...]  # SHA-256 fingerprints of the current certificates
    authority: str  # "demo" or the authority's URL
    created_at: datetime
    updated_at: datetime
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def application(self) -> str | None:
        return self.data.get("application")

    @property
    def folder(self) -> Path | None:
        folder = self.data.get("folder")
        return Path(folder) if folder else None


def _now() -> datetime:
    return datetime.now(UTC)


_SCHEMA = """
CREATE TABLE IF NOT EXISTS renewals (
    id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    current TEXT NOT NULL,
    authority TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    renewal_id TEXT NOT NULL REFERENCES renewals(id),
    at TEXT NOT NULL,
    from_state TEXT,
    to_state TEXT NOT NULL
);
"""

_FORBIDDEN_KEYS = ("password", "private")


def _check_public(data: dict[str, Any]) -> None:
    """Refuse to persist anything named like a secret: the journal holds public facts only."""
    for key in data:
        if any(word in key.lower() for word in _FORBIDDEN_KEYS):
            raise ValueError(f"the journal never stores {key!r}")


class _Damaged(Exception):
    """A journal row or file that cannot be read back (never leaves this module)."""


def _no_space(exc: BaseException) -> bool:
    text = str(exc).lower()
    return (
        "disk is full" in text
        or "readonly" in text
        or (isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EROFS))
    )


def ensure_home(home: Path) -> Path:
    """Qoltanba's own folder, created 0700 if missing; LocalStateError when it cannot be one
    (a file, a read-only mount, no permission)."""
    try:
        if home.exists() and not home.is_dir():
            raise LocalStateError("home_not_folder", path=str(home))
        created = not home.exists()
        home.mkdir(mode=0o700, parents=True, exist_ok=True)
        if not created and home.stat().st_mode & 0o077 and home != Path.home():
            home.chmod(0o700)  # an older Qoltanba made it 0755: what it holds is private
    except LocalStateError:
        raise
    except OSError as exc:
        raise LocalStateError(path=str(home), detail=exc.strerror or type(exc).__name__) from exc
    if not os.access(home, os.W_OK | os.X_OK):
        raise LocalStateError("home_read_only", path=str(home))
    return home


def _parse_row(row: tuple) -> Renewal:
    try:
        id_, state, current, authority, created, updated, data = row
        renewal = Renewal(
            id=str(id_),
            state=RenewalState(state),
            current=tuple(str(c) for c in json.loads(current)),
            authority=str(authority),
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            data=json.loads(data),
        )
    except (ValueError, TypeError, KeyError) as exc:
        raise _Damaged(str(exc)) from exc
    if not isinstance(renewal.data, dict) or renewal.created_at.tzinfo is None:
        raise _Damaged("data")
    return renewal


@dataclass(frozen=True)
class SetAside:
    """A damaged journal renamed out of the way (never deleted), and what it still told."""

    path: Path
    salvaged: int  # renewals copied into the new journal
    pending_files: tuple[Path, ...]  # new keys waiting in folders the damaged journal named


def _pending_near(folders: set[str]) -> tuple[Path, ...]:
    found: list[Path] = []
    for folder in sorted(folders):
        try:
            found += sorted(Path(folder).glob("PENDING_*.p8"))
        except OSError:
            continue
    return tuple(found)


class RenewalJournal:
    """The renewals of one Qoltanba home, in ``journal.sqlite3``.

    A journal that cannot be read (not a database, an unknown state, bad JSON) is set aside:
    renamed with a time stamp beside itself, its readable renewals copied into a new journal, and
    ``set_aside`` says so (with the pending new keys found in the folders it named).
    """

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        self.set_aside: SetAside | None = None
        self._lock = threading.RLock()
        self._aside = path
        self._db: sqlite3.Connection | None = None
        if read_only:
            return
        ensure_home(path.parent)
        from filelock import FileLock, Timeout

        # Two runs starting on a new home must not race to create the schema and switch to WAL
        # ("database is locked"): the first creates it, the second waits a moment.
        try:
            lock = FileLock(
                path.with_name(path.name + ".lock"), timeout=30, mode=0o600, thread_local=False
            )
            with lock:
                self._initialise()
        except Timeout as exc:
            raise LocalStateError(path=str(path.parent), detail="locked") from exc
        except OSError as exc:
            if _no_space(exc):
                raise NoSpace("output_no_space", path=str(path.parent)) from exc
            raise LocalStateError(path=str(path.parent), detail=exc.strerror or "") from exc

    # --- opening -------------------------------------------------------------------------------

    def _initialise(self) -> None:
        if not self._regular_or_absent():
            self._move_aside()  # a FIFO, a device or a link to one: never opened, never read
            self._create()
            self.set_aside = SetAside(path=self._aside, salvaged=0, pending_files=())
            return
        try:
            self._create()
            self._check_rows()
        except (sqlite3.DatabaseError, _Damaged) as exc:
            if isinstance(exc, sqlite3.OperationalError) and _no_space(exc):
                raise NoSpace("output_no_space", path=str(self.path.parent)) from exc
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc).lower():
                raise RenewalBusy() from exc
            self._set_aside()
        for suffix in ("", "-wal", "-shm", ".lock"):
            with contextlib.suppress(OSError):
                self.path.with_name(self.path.name + suffix).chmod(0o600)

    def _regular_or_absent(self) -> bool:
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return True
        return stat.S_ISREG(st.st_mode)

    def _move_aside(self) -> None:
        """Rename the journal (and its WAL files) with a time stamp beside itself."""
        self.close()
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        self._aside = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = self.path.with_name(self.path.name + suffix)
            if source.exists() or source.is_symlink():
                os.replace(source, self._aside.with_name(self._aside.name + suffix))

    def _create(self) -> None:
        if not self.path.exists():
            # created private before SQLite opens it: never 0644, even when what follows fails
            os.close(os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent in the file: set once
            db.executescript(_SCHEMA)

    def _check_rows(self) -> None:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM renewals").fetchall()
        for row in rows:
            _parse_row(row)

    def _set_aside(self) -> None:
        """Rename the damaged file(s) with a time stamp and start anew with what was readable."""
        self.close()
        good, folders = self._salvage()
        self._move_aside()
        aside = self._aside
        self._create()
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            for row in good:
                db.execute("INSERT INTO renewals VALUES (?, ?, ?, ?, ?, ?, ?)", row)
            db.execute("COMMIT")
        pending = _pending_near(folders)
        self.set_aside = SetAside(path=aside, salvaged=len(good), pending_files=pending)

    def _salvage(self) -> tuple[list[tuple], set[str]]:
        """The rows that still parse, and every folder any row names (best effort)."""
        good: list[tuple] = []
        folders: set[str] = set()
        try:
            db = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, timeout=1)
            try:
                rows = db.execute("SELECT * FROM renewals").fetchall()
            finally:
                db.close()
        except sqlite3.Error:
            return good, folders
        for row in rows:
            text = row[-1] if row and isinstance(row[-1], str) else ""
            for match in re.finditer(r'"folder":\s*"((?:[^"\\]|\\.)*)"', text):
                with contextlib.suppress(ValueError):
                    folders.add(json.loads(f'"{match.group(1)}"'))
            try:
                _parse_row(row)
            except _Damaged:
                continue
            good.append(tuple(row))
        return good, folders

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The journal's one connection, opened on first use and kept (one thread at a time):
        closing the last connection to a WAL database checkpoints it, which would add writes
        and syncs to every transition. Each commit still syncs the WAL (synchronous=FULL)."""
        with self._lock:
            if self._db is None:
                if self.read_only:
                    db = self._read_only_connection()
                else:
                    db = sqlite3.connect(
                        self.path, timeout=10, isolation_level=None, check_same_thread=False
                    )
                    db.execute("PRAGMA synchronous=FULL")
                weakref.finalize(self, db.close)
                self._db = db
            db = self._db
            try:
                yield db
            except BaseException:
                if db.in_transaction:  # never leave the write lock held
                    db.rollback()
                raise

    def _read_only_connection(self) -> sqlite3.Connection:
        uri = self.path.absolute().as_uri()
        try:
            db = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
            db.execute("SELECT count(*) FROM renewals").fetchone()  # the WAL is read, too
            return db
        except sqlite3.OperationalError:
            # a read-only home without the WAL's shared-memory file: the main file as it is
            return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)

    def close(self) -> None:
        """Close the connection now (it is reopened if the journal is used again)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @staticmethod
    def _row(row: tuple) -> Renewal:
        try:
            return _parse_row(row)
        except _Damaged as exc:
            raise LocalStateError("journal_damaged", path="journal.sqlite3") from exc

    # --- reading -------------------------------------------------------------------------------

    def _select(self, sql: str, params: tuple = ()) -> list[tuple]:
        if self.read_only and not self.path.exists():
            return []
        try:
            with self._connect() as db:
                return db.execute(sql, params).fetchall()
        except sqlite3.DatabaseError as exc:
            raise LocalStateError("journal_damaged", path=str(self.path)) from exc

    def get(self, renewal_id: str) -> Renewal:
        rows = self._select("SELECT * FROM renewals WHERE id = ?", (renewal_id,))
        if not rows:
            raise KeyError(renewal_id)
        return self._row(rows[0])

    def all(self) -> list[Renewal]:
        rows = self._select("SELECT * FROM renewals ORDER BY created_at")
        return [self._row(r) for r in rows]

    @staticmethod
    def _pending_among(renewals: list[Renewal], current: tuple[str, ...]) -> Renewal | None:
        wanted = set(current)
        for renewal in reversed(renewals):
            if wanted & set(renewal.current) and (
                not renewal.state.finished or renewal.state is S.DONE
            ):
                return renewal
        return None

    def pending_for(self, current: tuple[str, ...]) -> Renewal | None:
        """The renewal of these current keys that is under way or done (never start a second);
        one that was rejected, refused, lapsed or cancelled leaves room for a new one."""
        return self._pending_among(self.all(), current)

    def last_ended(self, current: tuple[str, ...]) -> Renewal | None:
        """The newest renewal of these keys that ended without new keys (rejected, refused,
        lapsed, cancelled): a new run says that it files a new application."""
        wanted = set(current)
        for renewal in reversed(self.all()):
            if wanted & set(renewal.current):
                return renewal if renewal.state.finished and renewal.state is not S.DONE else None
        return None

    # --- writing -------------------------------------------------------------------------------

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._connect() as db:
                db.execute("BEGIN IMMEDIATE")
                yield db
                db.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if _no_space(exc):
                raise NoSpace("output_no_space", path=str(self.path.parent)) from exc
            if "locked" in str(exc).lower() or "busy" in str(exc).lower():
                raise RenewalBusy() from exc
            raise LocalStateError("journal_damaged", path=str(self.path)) from exc
        except sqlite3.DatabaseError as exc:
            raise LocalStateError("journal_damaged", path=str(self.path)) from exc

    def start(self, current: tuple[str, ...], authority: str, **data: Any) -> Renewal:
        renewal, _ = self.start_or_resume(current, authority, **data)
        return renewal

    def start_or_resume(
        self, current: tuple[str, ...], authority: str, **data: Any
    ) -> tuple[Renewal, bool]:
        """The pending renewal of these keys, or a new one: checked and started in one write
        transaction, so two runs at once never both start (the second gets the first's)."""
        _check_public(data)
        now = _now()
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM renewals ORDER BY created_at").fetchall()
            pending = self._pending_among([self._row(r) for r in rows], tuple(current))
            if pending is not None:
                return pending, False
            renewal = Renewal(
                id=str(uuid.uuid4()),
                state=S.CHECKED,
                current=tuple(current),
                authority=authority,
                created_at=now,
                updated_at=now,
                data=dict(data),
            )
            db.execute(
                "INSERT INTO renewals VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    renewal.id,
                    renewal.state.value,
                    json.dumps(list(renewal.current)),
                    authority,
                    now.isoformat(),
                    now.isoformat(),
                    json.dumps(renewal.data),
                ),
            )
            db.execute(
                "INSERT INTO events VALUES (?, ?, NULL, ?)",
                (renewal.id, now.isoformat(), renewal.state.value),
            )
        return renewal, True

    def advance(self, renewal: Renewal, to: RenewalState, **data: Any) -> Renewal:
        """Move to ``to`` (recording ``data``) if the table allows it; one transaction."""
        if to not in TRANSITIONS[renewal.state]:
            raise IllegalTransition(from_state=renewal.state.value, to_state=to.value)
        return self._write(renewal, to, data)

    def record(self, renewal: Renewal, **data: Any) -> Renewal:
        """Record facts without changing the state (e.g. an attempt count, a retry time)."""
        return self._write(renewal, renewal.state, data)

    def _write(self, renewal: Renewal, to: RenewalState, data: dict[str, Any]) -> Renewal:
        _check_public(data)
        now = _now()
        merged = {**renewal.data, **data}
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE renewals SET state = ?, data = ?, updated_at = ?"
                " WHERE id = ? AND state = ?",
                (to.value, json.dumps(merged), now.isoformat(), renewal.id, renewal.state.value),
            )
            if cursor.rowcount != 1:
                raise StaleRenewal()
            if to is not renewal.state:
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?)",
                    (renewal.id, now.isoformat(), renewal.state.value, to.value),
                )
        return replace(renewal, state=to, data=merged, updated_at=now)

    def events(self, renewal_id: str) -> list[tuple[str | None, str]]:
        rows = self._select(
            "SELECT from_state, to_state FROM events WHERE renewal_id = ? ORDER BY rowid",
            (renewal_id,),
        )
        return [(a, b) for a, b in rows]
