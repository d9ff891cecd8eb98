"""The journal's typed record: the step table beside the transitions, schema 2 round trips, and
journals written by Qoltanba before the typed record (schema 1) migrated when opened."""

from __future__ import annotations

import base64
import inspect
import json
import sqlite3
from dataclasses import fields
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.renewal import process
from wizard.renewal.journal import (
    FINISHED,
    SCHEMA_VERSION,
    STEPS,
    TRANSITIONS,
    RenewalJournal,
    RenewalState,
    record_from_json,
    record_to_json,
)
from wizard.renewal.record import (
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

S = RenewalState


def test_every_unfinished_state_has_one_step_and_finished_ones_none():
    assert set(STEPS) == set(RenewalState) - FINISHED
    for state, step in STEPS.items():
        assert TRANSITIONS[state], f"{state} has a step but nowhere to go"
        method = getattr(process.Renewer, "_" + step.name)
        assert callable(method), step.name
        # remote steps talk to the authority (coroutines); offline ones do not
        assert inspect.iscoroutinefunction(method) is step.remote, step.name


def test_no_record_field_can_hold_a_secret():
    names = {
        f.name
        for cls in (
            Record,
            Origin,
            Details,
            PendingKey,
            Submission,
            Confirmation,
            Issued,
            Installed,
            Ending,
        )
        for f in fields(cls)
    }
    assert not [n for n in names if "password" in n or "private" in n or n == "pin"]


blobs = st.binary(min_size=0, max_size=40)
texts = st.text(max_size=20)
usages = st.sampled_from(["auth", "sign", "both"])
by_usage = st.lists(st.tuples(usages, blobs), unique_by=lambda t: t[0]).map(
    lambda items: tuple(sorted(items))
)
moments = st.datetimes(timezones=st.just(UTC)).map(lambda d: d.replace(microsecond=0))

records = st.builds(
    Record,
    origin=st.builds(
        Origin,
        scheme=texts,
        subject=blobs,
        folder=st.one_of(st.none(), st.text(min_size=1, max_size=10).map(Path)),
        current_files=st.lists(texts, max_size=2).map(tuple),
        token=texts,
    ),
    details=st.one_of(st.none(), st.builds(Details, texts, texts, texts)),
    keys=st.lists(st.builds(PendingKey, usages, blobs, texts, texts), max_size=2).map(tuple),
    requests=by_usage,
    application_cms=st.one_of(st.none(), st.binary(min_size=1, max_size=20)),
    application=st.one_of(st.none(), texts),
    submission=st.one_of(
        st.none(),
        st.builds(
            Submission,
            st.lists(blobs, max_size=2).map(tuple),
            st.one_of(st.none(), st.lists(blobs, max_size=2).map(tuple)),
            texts,
            st.booleans(),
        ),
    ),
    confirmation=st.builds(
        Confirmation,
        st.integers(0, 10),
        st.one_of(st.none(), st.integers(0, 10)),
    ),
    issued=st.one_of(
        st.none(), st.builds(Issued, by_usage, st.lists(blobs, max_size=2).map(tuple))
    ),
    installed=st.one_of(
        st.none(),
        st.builds(Installed, st.lists(texts, max_size=3).map(tuple), st.one_of(st.none(), moments)),
    ),
    ending=st.one_of(st.none(), st.builds(Ending, texts, texts, by_usage, st.booleans())),
)


@given(records)
def test_every_record_survives_json(record):
    text = json.dumps(record_to_json(record))
    assert record_from_json(json.loads(text)) == record


@pytest.mark.parametrize(
    "damaged",
    [
        [],
        {"v": 2, "origin": "x"},
        {"v": 2, "origin": {}, "keys": [{"usage": "auth"}]},
        {"v": 2, "origin": {"subject": "not base64!"}},
        {"v": 2, "origin": {}, "confirmation": {"code_attempts": "1"}},
        {"v": 99, "origin": {}},
        {"keys": {"auth": {"file": "x"}}},  # schema 1 without the public key
    ],
)
def test_a_damaged_record_is_refused(damaged):
    with pytest.raises((TypeError, ValueError, KeyError)):
        record_from_json(damaged)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


# What Qoltanba 0.x (schema 1) wrote for a renewal that got as far as installing, then one that
# was refused: flat objects, every step's facts side by side.
SCHEMA_1_INSTALLED = {
    "scheme": "RSA",
    "subject": _b64(b"\x30\x00"),
    "folder": "/keys/new",
    "current_files": ["/keys/AUTH_RSA256.p12", "/keys/RSA256.p12"],
    "email": "aigerim@mail.kz",
    "locality": "Алматы",
    "storage": "pkcs12",
    "keys": {
        "auth": {"file": "PENDING_AUTH_aa.p8", "spki": _b64(b"A")},
        "sign": {"file": "PENDING_SIGN_bb.p8", "spki": _b64(b"S")},
    },
    "requests": {"auth": _b64(b"ra"), "sign": _b64(b"rs")},
    "application_cms": _b64(b"cms"),
    "ca_certificates": [_b64(b"ca")],
    "anchors": [_b64(b"root")],
    "authority_display": "Demo",
    "demo": True,
    "application": "DEMO-0001",
    "code_attempts": 2,
    "attempts_left": 1,
    "certificates": {"auth": _b64(b"ca1"), "sign": _b64(b"cs1")},
    "chain": [_b64(b"issuing")],
    "files": ["AUTH_RSA256_x.p12", "RSA256_y.p12", "DEMO_ROOT.cer"],
    "not_after": "2027-12-01T10:00:00+00:00",
}
SCHEMA_1_REFUSED = {
    "scheme": "GOST2015",
    "subject": _b64(b"\x30\x00"),
    "folder": "/keys/g",
    "email": "a@b.kz",
    "locality": "Астана",
    "storage": "kaztoken",
    "keys": {"both": {"file": "PENDING_BOTH_cc.p8", "spki": _b64(b"G")}},
    "application": "DEMO-0002",
    "ca_certificates": [],
    "anchors": None,
    "refused": "untrusted_issuer",
    "refused_certificates": [{"usage": "both", "certificate": _b64(b"bad")}],
}


def test_schema_1_reads_as_the_same_facts():
    record = record_from_json(SCHEMA_1_INSTALLED)
    assert record.origin == Origin(
        scheme="RSA",
        subject=b"\x30\x00",
        folder=Path("/keys/new"),
        current_files=("/keys/AUTH_RSA256.p12", "/keys/RSA256.p12"),
    )
    assert record.details == Details("aigerim@mail.kz", "Алматы", "pkcs12")
    assert record.keys == (
        PendingKey("auth", b"A", "PENDING_AUTH_aa.p8"),
        PendingKey("sign", b"S", "PENDING_SIGN_bb.p8"),
    )
    assert record.requests == (("auth", b"ra"), ("sign", b"rs"))
    assert record.application_cms == b"cms" and record.application == "DEMO-0001"
    assert record.submission == Submission((b"ca",), (b"root",), "Demo", True)
    assert record.confirmation == Confirmation(2, 1)
    assert record.issued == Issued((("auth", b"ca1"), ("sign", b"cs1")), (b"issuing",))
    assert record.installed == Installed(
        ("AUTH_RSA256_x.p12", "RSA256_y.p12", "DEMO_ROOT.cer"),
        datetime(2027, 12, 1, 10, tzinfo=UTC),
    )
    assert record.ending is None
    refused = record_from_json(SCHEMA_1_REFUSED)
    assert refused.submission == Submission((), None, "", False)
    assert refused.ending == Ending(
        refused="untrusted_issuer", refused_certificates=(("both", b"bad"),)
    )


def _schema_1_journal(path: Path) -> None:
    """A journal as Qoltanba before the typed record left it (no user_version, flat rows)."""
    path.parent.mkdir(parents=True)
    db = sqlite3.connect(path)
    db.executescript(
        """
        CREATE TABLE renewals (id TEXT PRIMARY KEY, state TEXT NOT NULL, current TEXT NOT NULL,
            authority TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
            data TEXT NOT NULL);
        CREATE TABLE events (renewal_id TEXT NOT NULL REFERENCES renewals(id), at TEXT NOT NULL,
            from_state TEXT, to_state TEXT NOT NULL);
        """
    )
    now = "2026-11-30T10:00:00+00:00"
    for id_, state, data in (
        ("r-installed", "installed", SCHEMA_1_INSTALLED),
        ("r-refused", "refused", SCHEMA_1_REFUSED),
    ):
        db.execute(
            "INSERT INTO renewals VALUES (?, ?, ?, 'demo', ?, ?, ?)",
            (id_, state, json.dumps([id_ * 2]), now, now, json.dumps(data)),
        )
    db.commit()
    db.close()


def test_a_schema_1_journal_is_migrated_once_and_whole(tmp_path):
    path = tmp_path / "home" / "journal.sqlite3"
    _schema_1_journal(path)
    journal = RenewalJournal(path)
    assert journal.set_aside is None  # migrated, not taken for damaged
    installed = journal.get("r-installed")
    assert installed.state is S.INSTALLED
    assert installed.record == record_from_json(SCHEMA_1_INSTALLED)
    journal.close()
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = [json.loads(d) for (d,) in db.execute("SELECT data FROM renewals")]
    db.close()
    assert [r["v"] for r in rows] == [SCHEMA_VERSION, SCHEMA_VERSION]
    # and it goes on from where the old version stopped
    done = RenewalJournal(path).advance(installed, S.DONE)
    assert RenewalJournal(path).get("r-installed") == done


def test_a_renewal_has_no_untyped_data_to_read_by_string_key():
    from wizard.renewal.journal import Renewal

    assert "data" not in Renewal.__dataclass_fields__ and not hasattr(Renewal, "data")
    # and nothing outside the journal reads the stored JSON: only journal.py names its columns
    root = Path(__file__).resolve().parents[2] / "wizard"
    readers = [
        p.relative_to(root).as_posix()
        for p in root.rglob("*.py")
        if "record_from_json" in p.read_text(encoding="utf-8") and p.name != "journal.py"
    ]
    assert readers == []
