"""Expiry reminders: an iCalendar file (RFC 5545) with events a month, two weeks and a week before
the new keys expire, for any calendar app.

Written here rather than with a library: a handful of lines of plain RFC 5545 text does not
justify another dependency on the phone.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

REMINDER_DAYS = (30, 14, 7)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")


def _fold(line: str) -> list[str]:
    """Lines longer than 75 octets continue on the next line after a space (RFC 5545 §3.1)."""
    out: list[str] = []
    data = line.encode("utf-8")
    while len(data) > 75:
        cut = 75 if not out else 74
        while cut > 0 and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 sequence
            cut -= 1
        out.append(data[:cut].decode("utf-8"))
        data = data[cut:]
    out.append(data.decode("utf-8"))
    return [out[0], *(" " + part for part in out[1:])]


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def expiry_calendar(
    not_after: datetime,
    *,
    title: str,
    description: str,
    key_id: str,
    now: datetime | None = None,
    days: tuple[int, ...] = REMINDER_DAYS,
) -> bytes:
    """The .ics bytes: one all-day event per reminder, each with an alarm on the morning."""
    created = now or datetime.now(UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Qoltanba//EDS renewal reminders//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
    ]
    for before in sorted(days, reverse=True):
        day = (not_after - timedelta(days=before)).date()
        uid = hashlib.sha256(f"{key_id}:{not_after.isoformat()}:{before}".encode()).hexdigest()
        lines += [
            "BEGIN:VEVENT",
            f"UID:{uid[:32]}@qoltanba",
            f"DTSTAMP:{_stamp(created)}",
            f"DTSTART;VALUE=DATE:{day:%Y%m%d}",
            f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}",
            f"SUMMARY:{_escape(title.format(days=before))}",
            f"DESCRIPTION:{_escape(description.format(days=before))}",
            "TRANSP:TRANSPARENT",
            "BEGIN:VALARM",
            "ACTION:DISPLAY",
            f"DESCRIPTION:{_escape(title.format(days=before))}",
            "TRIGGER:PT9H",
            "END:VALARM",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    folded = [part for line in lines for part in _fold(line)]
    return ("\r\n".join(folded) + "\r\n").encode("utf-8")
