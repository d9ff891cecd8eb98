"""Which authority to talk to: the demo authority in-process (no socket, works on a phone), an
installed adapter by name, or a URL (`adapters.resolve`). Also where Qoltanba keeps its state
(QOLTANBA_HOME) and what the demo authority trusts besides its DEMO CAs (QOLTANBA_TRUST)."""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from wizard.errors import UsageError

if TYPE_CHECKING:
    from wizard.authority.interface import Authority

DEMO = "demo"
DEMO_BASE_URL = "http://demo-authority.qoltanba.invalid"
LOOPBACK = ("127.0.0.1", "localhost", "::1")


def home() -> Path:
    """Qoltanba's own state: QOLTANBA_HOME, or the platform's user data folder."""
    configured = os.environ.get("QOLTANBA_HOME")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_data_path

    return user_data_path("qoltanba", appauthor=False)


def trusted_paths() -> list[Path]:
    """Extra CA certificates / CRLs the demo authority trusts (QOLTANBA_TRUST, path-separated),
    e.g. the NCA test CAs so that real NCA test keys can be renewed in demo mode."""
    value = os.environ.get("QOLTANBA_TRUST", "")
    return [Path(p).expanduser() for p in value.split(os.pathsep) if p.strip()]


def check_url(url: str) -> str:
    """An authority URL: https, or plain http only on this machine (a served mock)."""
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise UsageError("authority_bad_url", url=url) from None
    if parts.username is not None or parts.password is not None:
        raise UsageError("authority_bad_url", url=url)  # credentials never go in the journal
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http" and host in LOOPBACK:
        return url.rstrip("/")
    raise UsageError("authority_bad_url", url=url)


MIN_CALL_DEADLINE = 5.0  # seconds: no call is cut shorter, however small max_wait is


def call_deadline_for(max_wait: float | None) -> float:
    """The overall deadline of one authority call for a caller that waits at most ``max_wait``:
    max_wait itself, but never below MIN_CALL_DEADLINE (a slow but working authority, or the
    demo's engine on a phone, still answers) nor above the client's CALL_DEADLINE (30 s).
    None (no bound asked) gives CALL_DEADLINE."""
    from wizard.authority.client import CALL_DEADLINE

    if max_wait is None or math.isnan(max_wait):
        return CALL_DEADLINE
    return min(max(float(max_wait), MIN_CALL_DEADLINE), CALL_DEADLINE)


def open_authority(
    spec: str,
    state: Path | None = None,
    *,
    engine_in_thread: bool = True,
    max_wait: float | None = None,
) -> Authority:
    """The authority ``spec`` names ("demo", an installed adapter's name, or a URL an adapter
    claims: `wizard.authority.adapters.resolve`), opened by its adapter, not yet connected.
    The built-in ones give an `HttpAuthority` (the demo: the mock in-process, over ASGI).

    ``engine_in_thread``: an in-process authority does its blocking work in a worker thread, so
    that a UI's event loop stays responsive; the command line, which has no such loop, passes
    False. ``max_wait``: how long the caller is prepared to wait on the authority. For the HTTP
    client it sets two bounds:

    - the longest pause between two attempts at one call: min(max_wait, MAX_RETRY_WAIT), and
      MAX_RETRY_WAIT (30 s) when None;
    - the overall deadline of every call, connecting, sending, reading the whole answer and every
      retry included: ``call_deadline_for(max_wait)`` = max_wait clamped to [5 s, 30 s], and
      30 s when None. A server that answers one byte at a time is cut off there, never held
      for minutes.

    So a caller that will give up waiting soon anyway (``--max-wait 0.5``) hears "unreachable,
    queued" after about five seconds per call instead of minutes."""
    from wizard.authority.adapters import OpenOptions, resolve

    options = OpenOptions(
        home=state or home(), max_wait=max_wait, keep_loop_responsive=engine_in_thread
    )
    return resolve(spec).open(options)
