"""The built-in authority adapters, registered like any other (pyproject.toml's
``qoltanba.authorities`` entry points) and known to `adapters` without the metadata too:

- ``demo``: the mock authority in-process, its HTTP API run over httpx's ASGI transport (no
  socket: demo mode on a phone), its books in ``<home>/demo-authority``;
- ``mock-http``: `HttpAuthority` at a URL it claims (https://, or http:// on this machine: the
  served mock, `qoltanba authority serve`).

Both give an `HttpAuthority`, the same production HTTP code either way. httpx and Starlette are
imported only when one is opened.
"""

from __future__ import annotations

from importlib.util import find_spec
from typing import TYPE_CHECKING

from wizard.authority.adapters import AuthorityAdapter, OpenOptions
from wizard.authority.interface import DemoAuthority
from wizard.i18n import translate

if TYPE_CHECKING:
    from httpx import AsyncBaseTransport

    from wizard.authority.client import HttpAuthority


def _missing(*packages: str) -> str | None:
    """Why an adapter cannot work: the first package it needs that is not installed."""
    for package in packages:
        if find_spec(package) is None:
            return translate("adapters.reason.package_missing", "en", package=package)
    return None


def http_authority(
    url: str, max_wait: float | None, transport: AsyncBaseTransport | None = None
) -> HttpAuthority:
    """An `HttpAuthority` bounded for a caller that waits at most ``max_wait`` (connect.py:
    the pause between attempts at most max_wait, each call within ``call_deadline_for``)."""
    from wizard.authority.client import MAX_RETRY_WAIT, HttpAuthority
    from wizard.authority.connect import call_deadline_for

    pause = MAX_RETRY_WAIT if max_wait is None else min(max(max_wait, 0.0), MAX_RETRY_WAIT)
    return HttpAuthority(
        url, transport=transport, max_wait=pause, call_deadline=call_deadline_for(max_wait)
    )


class DemoAdapter(AuthorityAdapter):
    """``--authority demo``: the mock authority in-process, trusting QOLTANBA_TRUST besides its
    DEMO CAs."""

    title = "The demo authority, in-process: nothing leaves this device"

    def describe(self, lang: str) -> str:
        return translate("adapters.title.demo", lang)

    def usable(self) -> str | None:
        return _missing("httpx", "starlette")

    def open(self, spec: str, options: OpenOptions) -> DemoAuthority:
        from wizard.authority.connect import DEMO_BASE_URL, trusted_paths
        from wizard.authority.httpx_lean import httpx
        from wizard.authority.mock import create_app

        app = create_app(
            options.home / "demo-authority",
            trusted=trusted_paths(),
            demo=True,
            engine_in_thread=options.keep_loop_responsive,
        )
        transport = httpx.ASGITransport(app=app)
        authority = http_authority(DEMO_BASE_URL, options.max_wait, transport)
        # the same in-process authority answers revocation questions (its OCSP and CRLs), so a
        # renewal's check does not start a second one (wizard.authority.revocation)
        authority.in_process_app = app
        return authority


class MockHttpAdapter(AuthorityAdapter):
    """``--authority https://...`` (or http://127.0.0.1:...): Qoltanba's HTTP API, interface.py."""

    title = "Qoltanba's HTTP API at a URL (qoltanba authority serve, or any authority speaking it)"
    opens_by_name = False
    url_schemes = ("https", "http")
    priority = 0.5  # a plug-in claiming a URL of its own authority goes before the generic client

    def describe(self, lang: str) -> str:
        return translate("adapters.title.mock-http", lang)

    def normal_spec(self, spec: str) -> str:
        from wizard.authority.connect import check_url

        return check_url(spec)

    def usable(self) -> str | None:
        return _missing("httpx")

    def open(self, spec: str, options: OpenOptions) -> DemoAuthority:
        from wizard.authority.connect import check_url

        return http_authority(check_url(spec), options.max_wait)
