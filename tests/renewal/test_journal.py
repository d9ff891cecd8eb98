"""The renewal journal: the transition table decides, SQLite persists, nothing secret is kept."""

from __future__ import annotations

import sqlite3
import stat

import pytest

from wizard.renewal.journal import (
    FINISHED,
    TRANSITIONS,
    IllegalTransition,
    RenewalJournal,
    RenewalState,
    StaleRenewal,
)
from wizard.renewal.record import Details, Origin

S = RenewalState
HAPPY_PATH = [
    S.DETAILED,
    S.KEYS_SAVED,
    S.REQUESTS_BUILT,
    S.SIGNED,
    S.SUBMITTED,
    S.AWAITING_CODE,
    S.AWAITING_HEAD,
    S.PROCESSING,
    S.ISSUED,
    S.INSTALLED,
    S.DONE,
]


@pytest.fixture
def journal(tmp_path):
    return RenewalJournal(tmp_path / "home" / "journal.sqlite3")


def test_every_state_has_a_row_and_finished_states_lead_nowhere():
    assert set(TRANSITIONS) == set(RenewalState)
    for state in FINISHED:
        assert TRANSITIONS[state] == frozenset()
    for state, targets in TRANSITIONS.items():
        assert state not in targets, f"{state} must not loop onto itself"


def test_happy_path_is_allowed_and_recorded(journal):
    renewal = journal.start(("a" * 64,), "demo", Origin(scheme="RSA"))
    for state in HAPPY_PATH:
        renewal = journal.advance(renewal, state)
    assert renewal.state is S.DONE
    stored = journal.get(renewal.id)
    assert stored.state is S.DONE and stored.record.origin == Origin(scheme="RSA")
    assert stored.record == renewal.record
    events = journal.events(renewal.id)
    assert events[0] == (None, "checked")
    assert [to for _, to in events[1:]] == [s.value for s in HAPPY_PATH]


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        ([], S.SUBMITTED),  # no submitting before keys, requests and signature exist
        ([S.DETAILED], S.REQUESTS_BUILT),
        ([S.DETAILED, S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED, S.SUBMITTED], S.INSTALLED),
        (
            [S.DETAILED, S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED, S.SUBMITTED, S.ISSUED],
            S.SUBMITTED,
        ),
        ([S.CANCELLED], S.DETAILED),
        # cancelling is a way out of every unfinished state, but not once the new stores exist
        (
            [S.DETAILED, S.KEYS_SAVED, S.REQUESTS_BUILT, S.SIGNED, S.SUBMITTED, S.ISSUED],
            S.REJECTED,
        ),
        (
            [
                S.DETAILED,
                S.KEYS_SAVED,
                S.REQUESTS_BUILT,
                S.SIGNED,
                S.SUBMITTED,
                S.ISSUED,
                S.INSTALLED,
            ],
            S.CANCELLED,
        ),
        ([S.DETAILED, S.KEYS_SAVED], S.REFUSED),
    ],
)
def test_an_illegal_transition_raises_and_changes_nothing(journal, path, illegal):
    renewal = journal.start(("b" * 64,), "demo")
    for state in path:
        renewal = journal.advance(renewal, state)
    before = journal.get(renewal.id)
    with pytest.raises(IllegalTransition):
        journal.advance(renewal, illegal, application="x")
    after = journal.get(renewal.id)
    assert after == before
    assert len(journal.events(renewal.id)) == len(path) + 1


def test_a_stale_writer_is_refused(journal):
    renewal = journal.start(("c" * 64,), "demo")
    journal.advance(renewal, S.DETAILED)  # another window moved it on
    with pytest.raises(StaleRenewal):
        journal.advance(renewal, S.DETAILED)
    assert journal.get(renewal.id).state is S.DETAILED


def test_pending_renewal_found_by_any_current_certificate(journal):
    first = journal.start(("d" * 64, "e" * 64), "demo")
    assert journal.pending_for(("e" * 64,)).id == first.id
    assert journal.pending_for(("f" * 64,)) is None
    journal.advance(first, S.CANCELLED)
    assert journal.pending_for(("d" * 64,)) is None
    second = journal.start(("d" * 64,), "demo")
    for state in HAPPY_PATH:
        second = journal.advance(second, state)
    assert journal.pending_for(("d" * 64,)).id == second.id  # done: reported, not renewed again


def test_survives_a_new_journal_object(journal, tmp_path):
    renewal = journal.start(("g" * 64,), "http://127.0.0.1:8410")
    details = Details(email="a@b.kz", locality="Алматы")
    renewal = journal.advance(renewal, S.DETAILED, details=details, application=None)
    again = RenewalJournal(journal.path)
    assert again.get(renewal.id) == renewal
    assert stat.S_IMODE(journal.path.stat().st_mode) == 0o600


@pytest.mark.parametrize(
    "key", ["password", "new_password", "private_key", "PrivateKeyInfo", "emial"]
)
def test_nothing_but_the_record_is_written(journal, key):
    renewal = journal.start(("h" * 64,), "demo")
    with pytest.raises(ValueError):
        journal.advance(renewal, S.DETAILED, **{key: "Secret123"})
    with pytest.raises(ValueError):
        journal.record(renewal, **{key: "Secret123"})
    dump = "\n".join(sqlite3.connect(journal.path).iterdump())
    assert "Secret123" not in dump
    assert journal.get(renewal.id).state is S.CHECKED
