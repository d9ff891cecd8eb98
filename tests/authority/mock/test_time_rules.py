"""The mock's time rules as a table (states.TIME_RULES): pure functions, checked without a clock,
a ledger or HTTP."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from wizard.authority.interface import ApplicationState as S
from wizard.authority.mock.states import (
    HEAD_WAIT,
    TIME_RULES,
    TRANSITIONS,
    Event,
    due,
    retry_after,
)

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
WAITS = {"confirm_within": 600.0, "code_delay": 2.0, "head_delay": 5.0, "processing_time": 3.0}
TIMES = {"submitted_at": T0, "confirmed_at": T0, "processing_since": T0}


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def test_every_rule_is_a_row_of_the_transition_table():
    for rule in TIME_RULES:
        assert (rule.state, rule.event) in TRANSITIONS, rule


@pytest.mark.parametrize(
    ("state", "seconds", "demo", "stuck", "event"),
    [
        (S.SUBMITTED, 1.9, True, False, None),
        (S.SUBMITTED, 2.0, True, False, Event.CODE_SENT),
        (S.SUBMITTED, 600, True, False, Event.NOT_CONFIRMED),  # lapsed first: no code is sent
        (S.AWAITING_CODE, 599, True, False, None),  # the person's turn
        (S.AWAITING_CODE, 600, True, False, Event.NOT_CONFIRMED),
        (S.AWAITING_HEAD, 5, True, False, Event.HEAD_APPROVED),
        (S.AWAITING_HEAD, 5000, False, False, None),  # a real head approves when they do
        (S.PROCESSING, 3, True, False, Event.ISSUED),
        (S.PROCESSING, 3000, True, True, None),  # the "stuck" fault holds it
        (S.ISSUED, 10_000, True, False, None),
        (S.REJECTED, 10_000, True, False, None),
    ],
)
def test_what_time_brings(state, seconds, demo, stuck, event):
    rule = due(state, TIMES, WAITS, at(seconds), demo=demo, stuck=stuck)
    assert (rule.event if rule else None) is event


def test_a_time_not_recorded_brings_nothing():
    assert (
        due(S.PROCESSING, {"processing_since": None}, WAITS, at(1e6), demo=True, stuck=False)
        is None
    )


def test_the_hints_for_states_without_a_rule_of_ours():
    assert (
        retry_after(S.AWAITING_HEAD, TIMES, WAITS, at(0), demo=False, stuck=False, stuck_wait=7)
        == HEAD_WAIT
    )
    assert retry_after(S.PROCESSING, TIMES, WAITS, at(0), demo=True, stuck=True, stuck_wait=7) == 7
    assert (
        retry_after(S.AWAITING_CODE, TIMES, WAITS, at(0), demo=True, stuck=False, stuck_wait=7)
        is None
    )


@given(
    state=st.sampled_from([S.SUBMITTED, S.AWAITING_HEAD, S.PROCESSING]),
    elapsed=st.floats(min_value=0, max_value=20, allow_nan=False),
)
def test_asking_again_after_the_hint_finds_the_step_done(state, elapsed):
    """Retry-After is honest: waiting exactly that long brings the event it waits for, and
    asking earlier does not."""
    now = at(elapsed)
    hint = retry_after(state, TIMES, WAITS, now, demo=True, stuck=False, stuck_wait=7)
    assert hint is not None and hint >= 0
    later = now + timedelta(seconds=hint)
    assert due(state, TIMES, WAITS, later, demo=True, stuck=False) is not None
    if hint > 0.01:
        assert due(state, TIMES, WAITS, now, demo=True, stuck=False) is None
