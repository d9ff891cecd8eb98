"""The renewal journal: every renewal's state, kept in SQLite so that any step can be interrupted
(the window closed, the phone restarted, the authority down) and resumed exactly where it stopped.

The states and their transitions are one table (`TRANSITIONS`); an illegal transition raises and
changes nothing. The SQLite layer only persists what the table allows, one transaction per
transition, with an optimistic check that the state is still the one the caller saw.

The journal never holds a password or an unencrypted key: only public material (requests, the
signed application, certificates), the application number and the paths of the encrypted files.
"""

from __future__ import annotations

import json
import sqlite3
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

from wizard.errors import QoltanbaError


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
    CANCELLED = "cancelled"
    LAPSED = "lapsed"

    @property
    def finished(self) -> bool:
        return self in FINISHED


S = RenewalState
FINISHED = frozenset({S.DONE, S.REJECTED, S.CANCELLED, S.LAPSED})
_REMOTE = {S.AWAITING_CODE, S.AWAITING_HEAD, S.PROCESSING, S.ISSUED}
_ENDINGS = {S.CANCELLED}

# state -> the states it may move to. Remote states may be skipped forward (an authority can go
# straight from the code to issued), never backward.
TRANSITIONS: dict[RenewalState, frozenset[RenewalState]] = {
    S.CHECKED: frozenset({S.DETAILED, *_ENDINGS}),
    S.DETAILED: frozenset({S.KEYS_SAVED, *_ENDINGS}),
    S.KEYS_SAVED: frozenset({S.REQUESTS_BUILT, *_ENDINGS}),
    S.REQUESTS_BUILT: frozenset({S.SIGNED, *_ENDINGS}),
    S.SIGNED: frozenset({S.SUBMITTED, S.REJECTED, *_ENDINGS}),
    S.SUBMITTED: frozenset({*_REMOTE, S.REJECTED, S.LAPSED}),
    S.AWAITING_CODE: frozenset({S.AWAITING_HEAD, S.PROCESSING, S.ISSUED, S.REJECTED, S.LAPSED}),
    S.AWAITING_HEAD: frozenset({S.PROCESSING, S.ISSUED, S.REJECTED, S.LAPSED}),
    S.PROCESSING: frozenset({S.ISSUED, S.REJECTED}),
    S.ISSUED: frozenset({S.INSTALLED}),
    S.INSTALLED: frozenset({S.DONE}),
    S.DONE: frozenset(),
    S.REJECTED: frozenset(),
    S.CANCELLED: frozenset(),
    S.LAPSED: frozenset(),
}


class IllegalTransition(QoltanbaError):
    exit_code = 1
    default_code = "journal_illegal_transition"


class StaleRenewal(QoltanbaError):
    """Someone else (another window) moved this renewal on; read it again."""

    exit_code = 1
    default_code = "journal_stale"


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


class RenewalJournal:
    """The renewals of one Qoltanba home, in ``journal.sqlite3``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        self._db: sqlite3.Connection | None = None
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        with self._connect() as db:
            db.execute("PRAGMA journal_mode=WAL")  # persistent in the file: set once
            db.executescript(_SCHEMA)
        path.chmod(0o600)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        """The journal's one connection, opened on first use and kept (one thread at a time):
        closing the last connection to a WAL database checkpoints it, which would add writes
        and syncs to every transition. Each commit still syncs the WAL (synchronous=FULL)."""
        with self._lock:
            if self._db is None:
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

    def close(self) -> None:
        """Close the connection now (it is reopened if the journal is used again)."""
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None

    @staticmethod
    def _row(row: tuple) -> Renewal:
        id_, state, current, authority, created, updated, data = row
        return Renewal(
            id=id_,
            state=RenewalState(state),
            current=tuple(json.loads(current)),
            authority=authority,
            created_at=datetime.fromisoformat(created),
            updated_at=datetime.fromisoformat(updated),
            data=json.loads(data),
        )

    def get(self, renewal_id: str) -> Renewal:
        with self._connect() as db:
            row = db.execute("SELECT * FROM renewals WHERE id = ?", (renewal_id,)).fetchone()
        if row is None:
            raise KeyError(renewal_id)
        return self._row(row)

    def all(self) -> list[Renewal]:
        with self._connect() as db:
            rows = db.execute("SELECT * FROM renewals ORDER BY created_at").fetchall()
        return [self._row(r) for r in rows]

    def pending_for(self, current: tuple[str, ...]) -> Renewal | None:
        """The renewal of these current keys that is under way or done (never start a second);
        one that was rejected, lapsed or cancelled leaves room for a new one."""
        wanted = set(current)
        for renewal in reversed(self.all()):
            if wanted & set(renewal.current) and (
                not renewal.state.finished or renewal.state is S.DONE
            ):
                return renewal
        return None

    def start(self, current: tuple[str, ...], authority: str, **data: Any) -> Renewal:
        _check_public(data)
        now = _now()
        renewal = Renewal(
            id=str(uuid.uuid4()),
            state=S.CHECKED,
            current=tuple(current),
            authority=authority,
            created_at=now,
            updated_at=now,
            data=dict(data),
        )
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
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
            db.execute("COMMIT")
        return renewal

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
        with self._connect() as db:
            db.execute("BEGIN IMMEDIATE")
            cursor = db.execute(
                "UPDATE renewals SET state = ?, data = ?, updated_at = ?"
                " WHERE id = ? AND state = ?",
                (to.value, json.dumps(merged), now.isoformat(), renewal.id, renewal.state.value),
            )
            if cursor.rowcount != 1:
                db.execute("ROLLBACK")
                raise StaleRenewal()
            if to is not renewal.state:
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?)",
                    (renewal.id, now.isoformat(), renewal.state.value, to.value),
                )
            db.execute("COMMIT")
        return replace(renewal, state=to, data=merged, updated_at=now)

    def events(self, renewal_id: str) -> list[tuple[str | None, str]]:
        with self._connect() as db:
            rows = db.execute(
                "SELECT from_state, to_state FROM events WHERE renewal_id = ? ORDER BY rowid",
                (renewal_id,),
            ).fetchall()
        return [(a, b) for a, b in rows]
