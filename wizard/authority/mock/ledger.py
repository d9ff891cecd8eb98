"""The mock authority's books, in one SQLite file: its CAs, login challenges, sessions,
applications, issued certificates, revocations, the demo SMS outbox and idempotency records.

One connection per app, guarded by a lock (the in-process transport and test runners may call from
another thread); each change is one transaction. Times are stored as ISO 8601 UTC text. Secrets
are kept as digests only: session tokens, login challenges and one-time codes.

The file does hold the DEMO CAs' private keys unencrypted, so it is private to its owner: the data
folder is created 0700 (an existing one already holding the books is tightened to 0700; any other
existing folder is left as it is), and the database file, with SQLite's -journal, -wal and -shm
beside it, is 0600 (created so, and tightened if an older version left it wider).
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from wizard.errors import UsageError

DATABASE_NAME = "authority.sqlite3"
FOLDER_MODE = 0o700
FILE_MODE = 0o600
# SQLite's companions of the database file: they hold the same pages, so the same secrets.
COMPANIONS = ("-journal", "-wal", "-shm")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS authorities (
    role TEXT PRIMARY KEY,          -- root, issuing, gost-root, gost-issuing, evil
    certificate BLOB NOT NULL,      -- DER
    private_key BLOB NOT NULL       -- PKCS#8 PEM, unencrypted: DEMO CAs only, trusted by nobody
);
CREATE TABLE IF NOT EXISTS challenges (
    digest TEXT PRIMARY KEY,        -- SHA-256 of the challenge bytes
    expires_at TEXT NOT NULL,
    used INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS sessions (
    digest TEXT PRIMARY KEY,        -- SHA-256 of the bearer token; the token itself is not kept
    subject BLOB NOT NULL,          -- DER Name of the holder who logged in
    certificate BLOB NOT NULL,      -- the AUTH certificate that signed the challenge
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS applications (
    number TEXT PRIMARY KEY,
    subject BLOB NOT NULL,
    signer BLOB NOT NULL,           -- the current SIGN certificate that signed the application
    signer_key TEXT NOT NULL,       -- issuer and serial of that certificate, for "one pending"
    holder TEXT NOT NULL,
    storage TEXT NOT NULL,
    email TEXT NOT NULL,
    locality TEXT NOT NULL,
    document BLOB NOT NULL,         -- the signed application JSON
    current TEXT NOT NULL,          -- JSON [{"usage", "certificate"}] from the document
    requests TEXT NOT NULL,         -- JSON [{"usage", "csr"}] from the document
    state TEXT NOT NULL,
    reason TEXT,
    code_digest TEXT,               -- HMAC-SHA-256 of the one-time code under code_salt
    code_salt TEXT,
    attempts_left INTEGER NOT NULL,
    reject_at_processing TEXT,      -- a fault's reason, applied when processing ends
    submitted_at TEXT NOT NULL,
    code_sent_at TEXT,
    confirmed_at TEXT,
    processing_since TEXT,
    issued_at TEXT,
    downloaded_at TEXT
);
CREATE TABLE IF NOT EXISTS submissions (
    subject_digest TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    content_digest TEXT NOT NULL,   -- SHA-256 of the signed document
    number TEXT NOT NULL,
    PRIMARY KEY (subject_digest, idempotency_key)
);
CREATE TABLE IF NOT EXISTS confirmations (
    number TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    body_digest TEXT NOT NULL,
    status INTEGER NOT NULL,
    response TEXT NOT NULL,
    PRIMARY KEY (number, idempotency_key)
);
CREATE TABLE IF NOT EXISTS certificates (
    serial TEXT PRIMARY KEY,        -- hex
    number TEXT,                    -- the application, or NULL for a demo holder's current keys
    position INTEGER NOT NULL,
    usage TEXT NOT NULL,
    certificate BLOB NOT NULL,
    issued_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocations (
    serial TEXT PRIMARY KEY,        -- hex, of any issuer (serials are random 159-bit numbers)
    revoked_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS revocation_reasons (
    serial TEXT PRIMARY KEY,        -- a serial of revocations, revoked for this CRLReason
    reason TEXT NOT NULL            -- key_compromise, superseded, ... (RFC 5280 names)
);
CREATE TABLE IF NOT EXISTS outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    number TEXT NOT NULL,
    sent_at TEXT NOT NULL,
    text TEXT NOT NULL,             -- the demo "SMS": the phone it would reach is this table
    code TEXT NOT NULL
);
"""


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat()


def parse_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _private_folder(folder: Path, database: Path) -> None:
    """``folder``, made 0700 when created here; tightened when it already holds the books."""
    try:
        folder.mkdir(mode=FOLDER_MODE, parents=True)
    except FileExistsError:
        if not folder.is_dir():
            raise
        if database.exists():
            _tighten(folder, FOLDER_MODE)
        return
    _tighten(folder, FOLDER_MODE)  # exactly 0700, whatever the umask took away


def _private_file(path: Path) -> None:
    """The database file, created empty with 0600 before SQLite opens it (SQLite then makes its
    -journal and -wal files with the database's own mode)."""
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
    os.close(os.open(path, flags, FILE_MODE))
    _tighten(path, FILE_MODE)


def _tighten(path: Path, mode: int) -> None:
    """``mode`` on ``path`` when it exists (POSIX; elsewhere the folder's ACL decides)."""
    if os.name != "posix":
        return
    with contextlib.suppress(FileNotFoundError):
        if path.stat().st_mode & 0o777 != mode:
            os.chmod(path, mode)


@dataclass
class ApplicationRecord:
    """One row of ``applications``, times as aware datetimes."""

    number: str
    subject: bytes
    signer: bytes
    signer_key: str
    holder: str
    storage: str
    email: str
    locality: str
    document: bytes
    current: str
    requests: str
    state: str
    reason: str | None
    code_digest: str | None
    code_salt: str | None
    attempts_left: int
    reject_at_processing: str | None
    submitted_at: datetime
    code_sent_at: datetime | None
    confirmed_at: datetime | None
    processing_since: datetime | None
    issued_at: datetime | None
    downloaded_at: datetime | None

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> ApplicationRecord:
        values = dict(row)
        for name in values:
            if name.endswith("_at") or name == "processing_since":
                values[name] = parse_iso(values[name])
        return cls(**values)

    def as_row(self) -> dict[str, Any]:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        for name, value in values.items():
            if isinstance(value, datetime):
                values[name] = iso(value)
        return values

    def requests_list(self) -> list[dict[str, str]]:
        return json.loads(self.requests)

    def current_list(self) -> list[dict[str, str]]:
        return json.loads(self.current)


class Ledger:
    """The SQLite file ``authority.sqlite3`` in the authority's data folder."""

    def __init__(self, data_dir: Path) -> None:
        path = data_dir / DATABASE_NAME
        try:
            _private_folder(data_dir, path)
            _private_file(path)
            self._db = sqlite3.connect(path, check_same_thread=False)
            self._db.row_factory = sqlite3.Row
            with self._db:
                self._db.executescript(_SCHEMA)
            for suffix in COMPANIONS:  # left wider by an older version, or by a crash
                _tighten(path.with_name(path.name + suffix), FILE_MODE)
        except (OSError, sqlite3.Error) as exc:
            raise UsageError(detail=f"the authority cannot keep its books in {data_dir}") from exc
        self._lock = threading.RLock()

    @property
    def lock(self) -> threading.RLock:
        """Held across a read-decide-write sequence that must not interleave with another."""
        return self._lock

    def close(self) -> None:
        with self._lock:
            self._db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change, serialised with every other use of this ledger."""
        with self._lock, self._db:
            yield self._db

    def one(self, sql: str, *args: Any) -> sqlite3.Row | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def all(self, sql: str, *args: Any) -> list[sqlite3.Row]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    # Applications -------------------------------------------------------------------------------

    def application(self, number: str) -> ApplicationRecord | None:
        row = self.one("SELECT * FROM applications WHERE number = ?", number)
        return ApplicationRecord.from_row(row) if row else None

    def save_application(self, db: sqlite3.Connection, record: ApplicationRecord) -> None:
        values = record.as_row()
        names = ", ".join(values)
        marks = ", ".join(f":{name}" for name in values)
        db.execute(f"INSERT OR REPLACE INTO applications ({names}) VALUES ({marks})", values)  # noqa: S608
