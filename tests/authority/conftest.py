"""Authorities to test against: the mock in-process (ASGI, no socket) and served on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from authority_support import ServedAuthority


@pytest.fixture
def served(tmp_path) -> Iterator[ServedAuthority]:
    server = ServedAuthority(tmp_path / "served-authority").start()
    yield server
    server.stop()


@pytest.fixture(params=["in-process", "served"])
def make_authority(request, tmp_path) -> Iterator[Callable[[], object]]:
    """A factory of HttpAuthority clients for one mock authority (in-process or served)."""
    import httpx

    from wizard.authority.client import HttpAuthority
    from wizard.authority.mock import create_app

    if request.param == "in-process":
        app = create_app(tmp_path / "authority", demo=True, test_endpoints=True)

        def factory():
            transport = httpx.ASGITransport(app=app)
            return HttpAuthority("http://authority.test", transport=transport)

        yield factory
        return
    server = ServedAuthority(tmp_path / "served").start()
    try:
        yield lambda: HttpAuthority(server.url, max_attempts=2, max_wait=0.5)
    finally:
        server.stop()
