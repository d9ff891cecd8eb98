"""Which authority to talk to: the demo authority in-process (no socket, works on a phone) or
a URL. Also where Qoltanba keeps its state (QOLTANBA_HOME)."""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlsplit

from wizard.errors import UsageError

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
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if parts.scheme == "https" and host:
        return url.rstrip("/")
    if parts.scheme == "http" and host in LOOPBACK:
        return url.rstrip("/")
    raise UsageError("authority_bad_url", url=url)


def open_authority(
    spec: str,
    state: Path | None = None,
    *,
    engine_in_thread: bool = True,
    max_wait: float | None = None,
):
    """An HttpAuthority for "demo" (the mock, in-process over ASGI) or a URL.

    ``engine_in_thread``: the in-process mock does its blocking work in a worker thread, so that a
    UI's event loop stays responsive; the command line, which has no such loop, passes False.
    ``max_wait``: the longest pause between two attempts at one call (the client's own cap,
    MAX_RETRY_WAIT, when None or larger): a caller that will give up waiting soon anyway asks for
    less, and hears "unreachable, queued" after seconds instead of a minute."""
    from wizard.authority.client import MAX_RETRY_WAIT, HttpAuthority
    from wizard.authority.httpx_lean import httpx

    options = {} if max_wait is None else {"max_wait": min(max(max_wait, 0.0), MAX_RETRY_WAIT)}
    if spec == DEMO:
        from wizard.authority.mock import create_app

        app = create_app(
            (state or home()) / "demo-authority",
            trusted=trusted_paths(),
            demo=True,
            engine_in_thread=engine_in_thread,
        )
        return HttpAuthority(DEMO_BASE_URL, transport=httpx.ASGITransport(app=app), **options)
    return HttpAuthority(check_url(spec), **options)
