"""The renewal journal: every renewal's state, kept in SQLite so that any step can be interrupted
(the window closed, the phone restarted, the authority down) and resumed exactly where it stopped.

The states and their transitions are one table (`TRANSITIONS`); an illegal transition raises and
changes nothing. The SQLite layer only persists what the table allows, one transaction per
transition, with an optimistic check that the state is still the one the caller saw.

The journal never holds a password or an unencrypted key: only public material (requests, the
signed application, certificates), the application number and the paths of the encrypted files.
What it holds is typed (`record.Record`); this module alone turns it to and from JSON, and migrates
what older versions wrote (schema 1: one flat JSON object) when it opens a journal.
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
from base64 import b64decode, b64encode
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, NamedTuple

from wizard.errors import (
    IllegalTransition,
    LocalStateError,
    NoSpace,
    RenewalBusy,
    StaleRenewal,
)
from wizard.renewal.record import (
    RECORD_FIELDS,
    Confirmation,
    Details,
    Ending,
    Installed,
    Issued,
    Origin,
    PendingKey,
    Record,
    Submission,
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


class Step(NamedTuple):
    """What carries a renewal out of a state: the Renewer's method ``name``; ``remote`` when it
    talks to the authority (bounded by the run's deadline), else offline (run off the UI loop)."""

    name: str
    remote: bool


# state -> its one step (beside TRANSITIONS: where the step may lead). Finished states have none.
STEPS: dict[RenewalState, Step] = {
    S.CHECKED: Step("record_details", remote=False),
    S.DETAILED: Step("save_new_keys", remote=False),
    S.KEYS_SAVED: Step("build_requests", remote=False),
    S.REQUESTS_BUILT: Step("sign_application", remote=False),
    S.SIGNED: Step("submit", remote=True),
    S.SUBMITTED: Step("wait", remote=True),
    S.AWAITING_CODE: Step("confirm", remote=True),
    S.AWAITING_HEAD: Step("wait", remote=True),
    S.PROCESSING: Step("wait", remote=True),
    S.ISSUED: Step("install", remote=False),
    S.INSTALLED: Step("finish", remote=False),
}


@dataclass(frozen=True)
class Renewal:
    """One renewal as the journal keeps it: its identity and state, and its typed ``record``."""

    id: str
    state: RenewalState
    current: tuple[str, ...]  # SHA-256 fingerprints of the current certificates
    authority: str  # "demo" or the authority's URL
    created_at: datetime
    updated_at: datetime
    record: Record = field(default_factory=Record)

    @property
    def application(self) -> str | None:
        return self.record.application

    @property
    def folder(self) -> Path | None:
        return self.record.origin.folder


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

SCHEMA_VERSION = 2  # PRAGMA user_version; 0 or 1: rows of schema 1, migrated on opening


def _check_fields(changes: dict[str, Any]) -> None:
    """Only the record's own fields are recorded: nothing else (a password, a private key, a
    misspelt field) can reach the journal."""
    for key in changes:
        if key not in RECORD_FIELDS:
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
            record=record_from_json(json.loads(data)),
        )
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _Damaged(str(exc)) from exc
    if renewal.created_at.tzinfo is None:
        raise _Damaged("created_at")
    return renewal


# --- the record as JSON (this module only) ---------------------------------------------------


def _b64(data: bytes) -> str:
    return b64encode(data).decode("ascii")


def _bytes(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError("base64 text expected")
    return b64decode(value, validate=True)


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError("text expected")
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _texts(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        raise TypeError("list expected")
    return tuple(_text(v) for v in value)


def _blobs(value: Any) -> tuple[bytes, ...]:
    if not isinstance(value, list):
        raise TypeError("list expected")
    return tuple(_bytes(v) for v in value)


def _by_usage(value: Any) -> tuple[tuple[str, bytes], ...]:
    if not isinstance(value, dict):
        raise TypeError("object expected")
    return tuple(sorted((_text(k), _bytes(v)) for k, v in value.items()))


def _int(value: Any, *, optional: bool = False) -> int | None:
    if value is None and optional:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("integer expected")
    return value


def _section(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise TypeError("object expected")
    return value


def record_to_json(record: Record) -> dict[str, Any]:
    """The record as schema 2's JSON object."""
    origin = record.origin
    out: dict[str, Any] = {
        "v": SCHEMA_VERSION,
        "origin": {
            "scheme": origin.scheme,
            "subject": _b64(origin.subject),
            "folder": str(origin.folder) if origin.folder is not None else None,
            "current_files": list(origin.current_files),
            "token": origin.token,
        },
        "details": None,
        "keys": [
            {"usage": k.usage, "spki": _b64(k.spki), "file": k.file, "token_object": k.token_object}
            for k in record.keys
        ],
        "requests": {usage: _b64(der) for usage, der in record.requests},
        "application_cms": _b64(record.application_cms) if record.application_cms else None,
        "application": record.application,
        "submission": None,
        "confirmation": {
            "code_attempts": record.confirmation.code_attempts,
            "attempts_left": record.confirmation.attempts_left,
        },
        "issued": None,
        "installed": None,
        "ending": None,
    }
    if record.details is not None:
        d = record.details
        out["details"] = {"email": d.email, "locality": d.locality, "storage": d.storage}
    if record.submission is not None:
        sub = record.submission
        out["submission"] = {
            "ca_certificates": [_b64(c) for c in sub.ca_certificates],
            "anchors": None if sub.anchors is None else [_b64(c) for c in sub.anchors],
            "authority_display": sub.authority_display,
            "demo": sub.demo,
        }
    if record.issued is not None:
        out["issued"] = {
            "certificates": {usage: _b64(der) for usage, der in record.issued.certificates},
            "chain": [_b64(c) for c in record.issued.chain],
        }
    if record.installed is not None:
        not_after = record.installed.not_after
        out["installed"] = {
            "files": list(record.installed.files),
            "not_after": not_after.isoformat() if not_after else None,
        }
    if record.ending is not None:
        e = record.ending
        out["ending"] = {
            "reason": e.reason,
            "refused": e.refused,
            "refused_certificates": {usage: _b64(der) for usage, der in e.refused_certificates},
            "cancelled_after_submission": e.cancelled_after_submission,
        }
    return out


def record_from_json(data: Any) -> Record:
    """Schema 2's object, or schema 1's flat one (migrated); TypeError/ValueError when damaged."""
    if not isinstance(data, dict):
        raise TypeError("object expected")
    version = data.get("v", 1)
    if version == 1:
        return _record_from_schema_1(data)
    if version != SCHEMA_VERSION:
        raise ValueError(f"record schema {version!r}")
    o = _section(data["origin"]) or {}
    folder = _optional_text(o.get("folder"))
    record = Record(
        origin=Origin(
            scheme=_text(o.get("scheme", "")),
            subject=_bytes(o.get("subject", "")),
            folder=Path(folder) if folder else None,
            current_files=_texts(o.get("current_files", [])),
            token=_text(o.get("token", "")),
        ),
        keys=tuple(
            PendingKey(
                usage=_text(k["usage"]),
                spki=_bytes(k["spki"]),
                file=_text(k.get("file", "")),
                token_object=_text(k.get("token_object", "")),
            )
            for k in data.get("keys", [])
        ),
        requests=_by_usage(data.get("requests", {})),
        application_cms=_bytes(data["application_cms"]) if data.get("application_cms") else None,
        application=_optional_text(data.get("application")),
    )
    if (d := _section(data.get("details"))) is not None:
        details = Details(_text(d["email"]), _text(d["locality"]), _text(d["storage"]))
        record = replace(record, details=details)
    if (sub := _section(data.get("submission"))) is not None:
        anchors = sub.get("anchors")
        submission = Submission(
            ca_certificates=_blobs(sub["ca_certificates"]),
            anchors=None if anchors is None else _blobs(anchors),
            authority_display=_text(sub.get("authority_display", "")),
            demo=bool(sub.get("demo", False)),
        )
        record = replace(record, submission=submission)
    if (c := _section(data.get("confirmation"))) is not None:
        confirmation = Confirmation(
            code_attempts=_int(c.get("code_attempts", 0)) or 0,
            attempts_left=_int(c.get("attempts_left"), optional=True),
        )
        record = replace(record, confirmation=confirmation)
    if (i := _section(data.get("issued"))) is not None:
        issued = Issued(certificates=_by_usage(i["certificates"]), chain=_blobs(i.get("chain", [])))
        record = replace(record, issued=issued)
    if (n := _section(data.get("installed"))) is not None:
        not_after = _optional_text(n.get("not_after"))
        installed = Installed(
            files=_texts(n["files"]),
            not_after=datetime.fromisoformat(not_after) if not_after else None,
        )
        record = replace(record, installed=installed)
    if (e := _section(data.get("ending"))) is not None:
        ending = Ending(
            reason=_text(e.get("reason", "")),
            refused=_text(e.get("refused", "")),
            refused_certificates=_by_usage(e.get("refused_certificates", {})),
            cancelled_after_submission=bool(e.get("cancelled_after_submission", False)),
        )
        record = replace(record, ending=ending)
    return record


def _record_from_schema_1(data: dict[str, Any]) -> Record:
    """Schema 1 (Qoltanba before the typed record): one flat object of what each step added."""
    folder = _optional_text(data.get("folder"))
    keys = data.get("keys") or {}
    if not isinstance(keys, dict):
        raise TypeError("keys")
    record = Record(
        origin=Origin(
            scheme=_text(data.get("scheme", "")),
            subject=_bytes(data.get("subject", "")),
            folder=Path(folder) if folder else None,
            current_files=_texts(data.get("current_files", [])),
        ),
        keys=tuple(
            PendingKey(usage=_text(usage), spki=_bytes(entry["spki"]), file=_text(entry["file"]))
            for usage, entry in sorted(keys.items())
        ),
        requests=_by_usage(data.get("requests") or {}),
        application_cms=_bytes(data["application_cms"]) if data.get("application_cms") else None,
        application=_optional_text(data.get("application")),
        confirmation=Confirmation(
            code_attempts=_int(data.get("code_attempts", 0)) or 0,
            attempts_left=_int(data.get("attempts_left"), optional=True),
        ),
    )
    if "email" in data:
        details = Details(
            email=_text(data["email"]),
            locality=_text(data.get("locality", "")),
            storage=_text(data.get("storage", "pkcs12")),
        )
        record = replace(record, details=details)
    if "ca_certificates" in data:
        anchors = data.get("anchors")
        submission = Submission(
            ca_certificates=_blobs(data["ca_certificates"]),
            anchors=None if anchors is None else _blobs(anchors),
            authority_display=_text(data.get("authority_display") or ""),
            demo=bool(data.get("demo", False)),
        )
        record = replace(record, submission=submission)
    if "certificates" in data:
        issued = Issued(
            certificates=_by_usage(data["certificates"]), chain=_blobs(data.get("chain") or [])
        )
        record = replace(record, issued=issued)
    if "files" in data:
        not_after = _optional_text(data.get("not_after"))
        installed = Installed(
            files=_texts(data["files"]),
            not_after=datetime.fromisoformat(not_after) if not_after else None,
        )
        record = replace(record, installed=installed)
    ended = ("reason", "refused", "refused_certificates", "cancelled_after_submission")
    if any(key in data for key in ended):
        refused = data.get("refused_certificates") or []
        if not isinstance(refused, list):
            raise TypeError("refused_certificates")
        ending = Ending(
            reason=_text(data.get("reason") or ""),
            refused=_text(data.get("refused") or ""),
            refused_certificates=tuple(
                (_text(c["usage"]), _bytes(c["certificate"])) for c in refused
            ),
            cancelled_after_submission=bool(data.get("cancelled_after_submission", False)),
        )
        record = replace(record, ending=ending)
    return record


def _record_text(record: Record) -> str:
    return json.dumps(record_to_json(record))


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
            self._migrate()
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

    def _migrate(self) -> None:
        """Rewrite schema 1's rows as schema 2 in one transaction (they read as the same record),
        then mark the file: a journal is migrated once, and never half."""
        with self._connect() as db:
            version = db.execute("PRAGMA user_version").fetchone()[0]
            if version >= SCHEMA_VERSION:
                return
            db.execute("BEGIN IMMEDIATE")
            for id_, data in db.execute("SELECT id, data FROM renewals").fetchall():
                parsed = json.loads(data)
                if isinstance(parsed, dict) and parsed.get("v") == SCHEMA_VERSION:
                    continue
                text = _record_text(record_from_json(parsed))
                db.execute("UPDATE renewals SET data = ? WHERE id = ?", (text, id_))
            db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
            db.execute("COMMIT")

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

    def start(
        self, current: tuple[str, ...], authority: str, origin: Origin | None = None
    ) -> Renewal:
        renewal, _ = self.start_or_resume(current, authority, origin)
        return renewal

    def start_or_resume(
        self, current: tuple[str, ...], authority: str, origin: Origin | None = None
    ) -> tuple[Renewal, bool]:
        """The pending renewal of these keys, or a new one: checked and started in one write
        transaction, so two runs at once never both start (the second gets the first's)."""
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
                record=Record(origin=origin or Origin()),
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
                    _record_text(renewal.record),
                ),
            )
            db.execute(
                "INSERT INTO events VALUES (?, ?, NULL, ?)",
                (renewal.id, now.isoformat(), renewal.state.value),
            )
        return renewal, True

    def advance(self, renewal: Renewal, to: RenewalState, **changes: Any) -> Renewal:
        """Move to ``to`` (recording ``changes``: sections of the record) if the table allows it;
        one transaction."""
        if to not in TRANSITIONS[renewal.state]:
            raise IllegalTransition(from_state=renewal.state.value, to_state=to.value)
        return self._write(renewal, to, changes)

    def record(self, renewal: Renewal, **changes: Any) -> Renewal:
        """Record facts without changing the state (e.g. an attempt count, what was decided)."""
        return self._write(renewal, renewal.state, changes)

    def _write(self, renewal: Renewal, to: RenewalState, changes: dict[str, Any]) -> Renewal:
        _check_fields(changes)
        now = _now()
        record = replace(renewal.record, **changes)
        text = _record_text(record)  # a wrong type fails here, before anything is written
        with self._transaction() as db:
            cursor = db.execute(
                "UPDATE renewals SET state = ?, data = ?, updated_at = ?"
                " WHERE id = ? AND state = ?",
                (to.value, text, now.isoformat(), renewal.id, renewal.state.value),
            )
            if cursor.rowcount != 1:
                raise StaleRenewal()
            if to is not renewal.state:
                db.execute(
                    "INSERT INTO events VALUES (?, ?, ?, ?)",
                    (renewal.id, now.isoformat(), renewal.state.value, to.value),
                )
        return replace(renewal, state=to, record=record, updated_at=now)

    def events(self, renewal_id: str) -> list[tuple[str | None, str]]:
        rows = self._select(
            "SELECT from_state, to_state FROM events WHERE renewal_id = ? ORDER BY rowid",
            (renewal_id,),
        )
        return [(a, b) for a, b in rows]
