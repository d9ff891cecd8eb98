"""An application's life as tables, no I/O (h11's ``_state.py`` is the model): (state, event) ->
next state, nothing else moves it; and the time rules, which event time brings in which state."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from enum import StrEnum
from typing import NamedTuple

from wizard.authority.interface import ApplicationState as S
from wizard.errors import IllegalTransition


class Event(StrEnum):
    CODE_SENT = "code_sent"  # the one-time code went out by "SMS"
    CONFIRMED = "confirmed"  # the right code; nobody else needs to approve
    CONFIRMED_NEEDS_HEAD = "confirmed_needs_head"  # the right code from a legal entity's employee
    HEAD_APPROVED = "head_approved"
    ISSUED = "issued"
    DOWNLOADED = "downloaded"
    CODES_EXHAUSTED = "codes_exhausted"
    NOT_CONFIRMED = "not_confirmed"  # the confirmation time ran out
    REFUSED = "refused"  # the authority turned it down


TRANSITIONS: dict[tuple[S, Event], S] = {
    (S.SUBMITTED, Event.CODE_SENT): S.AWAITING_CODE,
    (S.SUBMITTED, Event.NOT_CONFIRMED): S.LAPSED,
    (S.SUBMITTED, Event.REFUSED): S.REJECTED,
    (S.AWAITING_CODE, Event.CONFIRMED): S.PROCESSING,
    (S.AWAITING_CODE, Event.CONFIRMED_NEEDS_HEAD): S.AWAITING_HEAD,
    (S.AWAITING_CODE, Event.CODES_EXHAUSTED): S.REJECTED,
    (S.AWAITING_CODE, Event.NOT_CONFIRMED): S.LAPSED,
    (S.AWAITING_HEAD, Event.HEAD_APPROVED): S.PROCESSING,
    (S.PROCESSING, Event.ISSUED): S.ISSUED,
    (S.PROCESSING, Event.REFUSED): S.REJECTED,
    (S.ISSUED, Event.DOWNLOADED): S.DOWNLOADED,
}

# Still on its way: while one is, a new application for the same current certificates is refused
# (409 application_open); once it is final or issued, a new one may be filed. Issued counts as
# ended: its certificates exist, and a person who cancelled before installing them (or lost the
# new keys) must not be blocked for good.
PENDING: frozenset[S] = frozenset({S.SUBMITTED, S.AWAITING_CODE, S.AWAITING_HEAD, S.PROCESSING})


def next_state(state: S | str, event: Event) -> S:
    """Where ``event`` leads from ``state``; IllegalTransition when the table has no such row."""
    try:
        return TRANSITIONS[(S(state), event)]
    except (KeyError, ValueError):
        raise IllegalTransition("internal", state=str(state), event=event.value) from None


class TimeRule(NamedTuple):
    """In ``state``, once ``after`` seconds (a Settings field) have passed since the record's
    ``since`` time, ``event`` happens by itself. ``hint``: this rule's wait is the Retry-After
    hint while in ``state``; ``demo_only``: only the demo authority does it by itself (a real
    head approves when they do); ``unless_stuck``: the "stuck processing" fault holds it."""

    state: S
    since: str  # "submitted_at", "confirmed_at" or "processing_since"
    after: str  # "confirm_within", "code_delay", "head_delay" or "processing_time"
    event: Event
    hint: bool = False
    demo_only: bool = False
    unless_stuck: bool = False


# In order: the first rule due wins (a lapsed application sends no code).
TIME_RULES: tuple[TimeRule, ...] = (
    TimeRule(S.SUBMITTED, "submitted_at", "confirm_within", Event.NOT_CONFIRMED),
    TimeRule(S.AWAITING_CODE, "submitted_at", "confirm_within", Event.NOT_CONFIRMED),
    TimeRule(S.SUBMITTED, "submitted_at", "code_delay", Event.CODE_SENT, hint=True),
    TimeRule(
        S.AWAITING_HEAD,
        "confirmed_at",
        "head_delay",
        Event.HEAD_APPROVED,
        hint=True,
        demo_only=True,
    ),
    TimeRule(
        S.PROCESSING,
        "processing_since",
        "processing_time",
        Event.ISSUED,
        hint=True,
        unless_stuck=True,
    ),
)
HEAD_WAIT = 60.0  # the hint while a real first head has yet to approve (no rule of ours moves it)


def _applies(rule: TimeRule, state: S, *, demo: bool, stuck: bool) -> bool:
    return (
        rule.state is state and (demo or not rule.demo_only) and not (stuck and rule.unless_stuck)
    )


def due(
    state: S,
    times: Mapping[str, datetime | None],
    waits: Mapping[str, float],
    now: datetime,
    *,
    demo: bool,
    stuck: bool,
) -> TimeRule | None:
    """The first time rule that has come due for an application in ``state`` (``times``: its
    recorded moments; ``waits``: the settings' seconds), or None."""
    for rule in TIME_RULES:
        since = times.get(rule.since)
        if not _applies(rule, state, demo=demo, stuck=stuck) or since is None:
            continue
        if now >= since + timedelta(seconds=waits[rule.after]):
            return rule
    return None


def retry_after(
    state: S,
    times: Mapping[str, datetime | None],
    waits: Mapping[str, float],
    now: datetime,
    *,
    demo: bool,
    stuck: bool,
    stuck_wait: float,
) -> float | None:
    """Seconds until asking again makes sense while the authority (not the person) is busy, by
    the same rules; None when it waits for the person (the code) or has finished."""
    if stuck and state is S.PROCESSING:
        return stuck_wait
    if state is S.AWAITING_HEAD and not demo:
        return HEAD_WAIT
    for rule in TIME_RULES:
        if rule.hint and _applies(rule, state, demo=demo, stuck=stuck):
            since = times.get(rule.since)
            if since is None:
                return 0.0
            ready = since + timedelta(seconds=waits[rule.after])
            return max(0.0, (ready - now).total_seconds())
    return None
