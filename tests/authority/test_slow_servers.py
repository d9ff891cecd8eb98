"""HttpAuthority against real sockets on 127.0.0.1 that answer badly: every public call ends within
its overall deadline (connect, send, every read and every retry together) in one of Qoltanba's
errors, however the server stalls; bodies are cut off while streaming.

httpx's own timeouts are per read: a server that sends one byte a second never trips them, so
without the call deadline each of these calls would hang for minutes."""

from __future__ import annotations

import asyncio
import time

import pytest
from authority_support import SlowServer

from wizard.authority.client import MAX_BODY, HttpAuthority
from wizard.authority.connect import call_deadline_for, open_authority
from wizard.errors import AuthorityProtocolError, AuthorityUnreachable

DEADLINE = 2.0  # seconds: the call deadline these tests give the client
SLACK = 1.5  # seconds beyond it that a call may take to give up (a loaded machine)
NUMBER = "KZ-2026-000042"
SESSION = "s3ss10n-t0ken"
KEY = "6f1c8a9e-2b7d-4a53-9c1e-0d2f4b6a8c01"

# Every public call, with arguments that pass the client's own checks.
CALLS = {
    "info": lambda a: a.info(),
    "challenge": lambda a: a.challenge(),
    "login": lambda a: a.login(b"signed challenge"),
    "submit": lambda a: a.submit(SESSION, b"application", KEY),
    "confirm": lambda a: a.confirm(SESSION, NUMBER, "123456", KEY),
    "status": lambda a: a.status(SESSION, NUMBER),
    "download": lambda a: a.download(SESSION, NUMBER),
    "demo_codes": lambda a: a.demo_codes(NUMBER),
    "demo_issue_holder": lambda a: a.demo_issue_holder("RSA", "individual", 30, [("auth", b"r")]),
}


async def _timed(call) -> tuple[Exception | None, float]:
    started = time.monotonic()
    try:
        await call
    except Exception as error:  # what came out is what the test checks
        return error, time.monotonic() - started
    return None, time.monotonic() - started


async def _every_call_at_once(url: str, **options) -> dict[str, tuple[Exception | None, float]]:
    """Each public call, all at the same time (one connection each), each timed on its own."""
    async with HttpAuthority(url, **options) as authority:
        # A guard of the test's own: without the call deadline these would take minutes.
        async with asyncio.timeout(DEADLINE + SLACK + 10):
            results = await asyncio.gather(*(_timed(call(authority)) for call in CALLS.values()))
    return dict(zip(CALLS, results, strict=True))


@pytest.mark.parametrize("mode", ["dribble", "dribble_head", "silent"])
def test_every_call_gives_up_at_its_deadline_however_the_server_stalls(mode):
    with SlowServer(mode, interval=1.0) as server:
        # httpx's per-read timeout (15 s) and the attempt deadline (60 s) are left as they are:
        # only the call deadline can end these calls this soon.
        results = asyncio.run(_every_call_at_once(server.url, call_deadline=DEADLINE, max_wait=0.1))
    assert server.requests == len(CALLS)  # every call reached the server (once: no time to retry)
    for name, (error, elapsed) in results.items():
        assert isinstance(error, AuthorityUnreachable), (name, error)
        assert error.code == "authority_call_timeout", (name, error.code)
        assert error.exit_code == 6
        assert error.params["seconds"] == "2"
        assert DEADLINE - 0.1 <= elapsed <= DEADLINE + SLACK, (name, elapsed)
    if mode == "dribble":
        assert server.sent >= len(CALLS), "the body did trickle in: reads never timed out"


def test_a_dribbling_answer_is_cut_off_even_when_each_attempt_would_be_retried():
    """A short attempt deadline makes each stalled attempt a retry; the call deadline still ends
    all of them together."""
    with SlowServer("dribble", interval=0.2) as server:

        async def call():
            async with HttpAuthority(
                server.url, timeout=0.1, max_attempts=100, max_wait=0.05, call_deadline=1.0
            ) as authority:
                return await _timed(authority.info())

        error, elapsed = asyncio.run(call())
    assert isinstance(error, AuthorityUnreachable)
    assert 0.9 <= elapsed <= 1.0 + SLACK
    assert server.requests >= 2  # retried within the deadline, then stopped


def test_an_endless_body_is_cut_off_while_streaming():
    size = 64 * 1024 * 1024
    with SlowServer("huge", size=size) as server:

        async def call():
            async with HttpAuthority(server.url, call_deadline=10) as authority:
                return await _timed(authority.info())

        error, elapsed = asyncio.run(call())
    assert isinstance(error, AuthorityProtocolError), error
    assert error.params["detail"] == "answer too large"
    assert elapsed < 10
    assert server.requests == 1  # not retried: a larger answer is not transient
    # The client stopped reading at the cap; only what the sockets' buffers held went beyond it.
    assert MAX_BODY < server.sent < size


def test_a_server_hanging_up_mid_body_is_unreachable_after_the_retries():
    with SlowServer("truncated") as server:

        async def call():
            async with HttpAuthority(
                server.url, max_attempts=3, max_wait=0.05, call_deadline=DEADLINE
            ) as authority:
                return await _timed(authority.info())

        error, elapsed = asyncio.run(call())
    assert isinstance(error, AuthorityUnreachable), error
    assert error.code == "authority_unreachable"
    assert elapsed < DEADLINE
    assert server.requests == 3


def test_the_slow_server_stops_by_itself():
    server = SlowServer("dribble", interval=0.05, lifetime=0.3)
    with server:
        time.sleep(0.6)  # past its lifetime: it no longer accepts
        with pytest.raises(OSError):
            import socket

            socket.create_connection(("127.0.0.1", server.port), timeout=0.5).close()


@pytest.mark.parametrize(
    ("max_wait", "deadline"),
    [(None, 30.0), (0.0, 5.0), (0.5, 5.0), (5.0, 5.0), (12.5, 12.5), (30.0, 30.0), (60.0, 30.0)],
)
def test_the_call_deadline_follows_max_wait_within_a_floor_and_a_ceiling(max_wait, deadline):
    assert call_deadline_for(max_wait) == deadline
    authority = open_authority("http://127.0.0.1:9", max_wait=max_wait)
    assert authority.call_deadline == deadline
    asyncio.run(authority.aclose())
