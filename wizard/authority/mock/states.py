"""An application's life as one table: (state, event) -> next state. Nothing else moves it."""

from __future__ import annotations

from enum import StrEnum

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
