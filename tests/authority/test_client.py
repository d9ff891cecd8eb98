"""HttpAuthority (wizard/authority/client.py) against scripted authorities on httpx.MockTransport:
the happy paths, retries and Retry-After, idempotency keys, error mapping and hostile answers."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import gzip
import json
import logging
import ssl
import time
from collections import defaultdict
from collections.abc import Callable

import httpx
import pytest

from wizard.authority import client as client_module
from wizard.authority.client import MAX_BODY, HttpAuthority, retry_after_seconds
from wizard.authority.interface import (
    ApplicationState,
    ApplicationStatus,
    Authority,
    AuthorityInfo,
    IssuedCertificate,
    IssuedCertificates,
)
from wizard.errors import (
    ApplicationRejected,
    AuthorityProtocolError,
    AuthorityUnreachable,
    CodeWrong,
    RenewalBusy,
    SessionExpired,
    UsageError,
)

pytestmark = pytest.mark.anyio

BASE = "https://authority.test"
NUMBER = "KZ-2026-000042"
SESSION = "s3ss10n-t0ken"
KEY = "6f1c8a9e-2b7d-4a53-9c1e-0d2f4b6a8c01"
# Two DER SEQUENCEs standing in for certificates: short and long length forms.
CERT = bytes([0x30, 0x03, 0x02, 0x01, 0x05])
CA = b"\x30\x82\x01\x00" + bytes(256)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def status_body(**changes) -> dict:
    body = {
        "number": NUMBER,
        "state": "awaiting_code",
        "reason": None,
        "retry_after": None,
        "attempts_left": 3,
    }
    body.update(changes)
    return body


def issued_body(**changes) -> dict:
    body = {
        "number": NUMBER,
        "certificates": [
            {"usage": "auth", "certificate": b64(CERT)},
            {"usage": "sign", "certificate": b64(CERT)},
        ],
        "chain": [b64(CA), b64(CA)],
    }
    body.update(changes)
    return body


INFO = {"name": "DEMO NCA", "demo": True, "schemes": ["RSA", "GOST 2015 512"]}
INFO["ca_certificates"] = [b64(CA)]

Answer = Callable[[httpx.Request], httpx.Response]


def reply(status: int = 200, body=None, *, headers=None, raw: bytes | None = None) -> Answer:
    """A fresh response per request (a streamed response can be read only once)."""

    def answer(request: httpx.Request) -> httpx.Response:
        if raw is not None:
            return httpx.Response(status, content=raw, headers=headers)
        return httpx.Response(status, json=body, headers=headers)

    return answer


def fail(make: Callable[[httpx.Request], Exception]) -> Answer:
    def answer(request: httpx.Request) -> httpx.Response:
        raise make(request)

    return answer


class ScriptedAuthority:
    """Per (method, path), answers in order, the last one repeating; every request recorded."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], list[Answer]] = defaultdict(list)
        self.requests: list[httpx.Request] = []

    def on(self, method: str, path: str, *answers: Answer) -> None:
        self.routes[(method, path)].extend(answers)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        queue = self.routes.get((request.method, request.url.path))
        if not queue:
            return httpx.Response(404, json={"error": "not_found", "message": "no route"})
        return (queue.pop(0) if len(queue) > 1 else queue[0])(request)

    def keys(self) -> list[str | None]:
        return [r.headers.get("Idempotency-Key") for r in self.requests]


@pytest.fixture
def anyio_backend():
    return "asyncio"


@pytest.fixture
def server() -> ScriptedAuthority:
    return ScriptedAuthority()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def connect(server, sleeps):
    """An HttpAuthority over the scripted server; sleeps are recorded, never slept (unless the
    test passes its own ``sleep``)."""

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def make(**options) -> HttpAuthority:
        options.setdefault("random", lambda: 1.0)
        options.setdefault("sleep", sleep)
        return HttpAuthority(BASE, transport=httpx.MockTransport(server), **options)

    return make


# --- happy paths ----------------------------------------------------------------------------------


def test_is_an_authority():
    assert isinstance(HttpAuthority(BASE), Authority)


async def test_info(server, connect):
    server.on("GET", "/v1/authority", reply(body=INFO))
    async with connect() as authority:
        info = await authority.info()
    assert info == AuthorityInfo(
        name="DEMO NCA", demo=True, schemes=("RSA", "GOST 2015 512"), ca_certificates=(CA,)
    )
    request = server.requests[0]
    assert request.url == "https://authority.test/v1/authority"
    assert request.headers["Accept"] == "application/json"
    # The issuers it renews current certificates of, when it says so (absent: none said).
    server.routes[("GET", "/v1/authority")].clear()
    server.on("GET", "/v1/authority", reply(body={**INFO, "accepted_issuers": [b64(CA)]}))
    async with connect() as authority:
        assert (await authority.info()).accepted_issuers == (CA,)
    assert request.headers["Accept-Encoding"] == "identity"
    assert "Idempotency-Key" not in request.headers
    assert "Authorization" not in request.headers


async def test_base_url_with_a_path_prefix(server):
    server.on("GET", "/nca/v1/authority", reply(body=INFO))
    async with HttpAuthority(
        "https://authority.test/nca", transport=httpx.MockTransport(server)
    ) as authority:
        assert (await authority.info()).name == "DEMO NCA"


async def test_challenge_and_login(server, connect):
    server.on(
        "POST",
        "/v1/login/challenge",
        reply(body={"challenge": b64(b"nonce-123"), "expires_at": "2026-01-01T10:00:00Z"}),
    )
    server.on(
        "POST",
        "/v1/login",
        reply(body={"session": SESSION, "expires_at": "2026-01-01T11:00:00+05:00"}),
    )
    async with connect() as authority:
        assert await authority.challenge() == b"nonce-123"
        assert await authority.login(b"signed cms") == SESSION
    challenge, login = server.requests
    assert json.loads(login.content) == {"cms": b64(b"signed cms")}
    assert login.headers["Content-Type"] == "application/json"
    # The client makes a key for each state-changing call of its own; no two alike.
    assert challenge.headers["Idempotency-Key"] and login.headers["Idempotency-Key"]
    assert challenge.headers["Idempotency-Key"] != login.headers["Idempotency-Key"]


async def test_submit(server, connect):
    server.on("POST", "/v1/applications", reply(201, status_body(state="submitted")))
    async with connect() as authority:
        status = await authority.submit(SESSION, b"application cms", KEY)
    assert status == ApplicationStatus(NUMBER, ApplicationState.SUBMITTED, attempts_left=3)
    request = server.requests[0]
    assert request.headers["Authorization"] == f"Bearer {SESSION}"
    assert request.headers["Idempotency-Key"] == KEY
    assert json.loads(request.content) == {"cms": b64(b"application cms")}


async def test_submit_replayed_answers_200(server, connect):
    server.on("POST", "/v1/applications", reply(200, status_body()))
    async with connect() as authority:
        assert (await authority.submit(SESSION, b"cms", KEY)).number == NUMBER


async def test_submit_while_another_application_is_open_is_renewal_busy(server, connect):
    body = {"error": "application_open", "application": NUMBER, "message": "still open"}
    server.on("POST", "/v1/applications", reply(409, body))
    async with connect() as authority:
        with pytest.raises(RenewalBusy) as caught:
            await authority.submit(SESSION, b"cms", KEY)
    assert caught.value.code == "renewal_open_at_authority"
    assert caught.value.params == {"application": NUMBER}
    assert caught.value.exit_code == 11
    assert NUMBER in caught.value.message("en")
    assert len(server.requests) == 1  # not retried: only that renewal's end changes the answer


@pytest.mark.parametrize(
    "body",
    [
        {"error": "application_open", "message": "no number"},
        {"error": "application_open", "application": "../../v1/authority"},
        {"error": "application_open", "application": 42},
        {"error": "idempotency_conflict", "message": "another document"},
    ],
)
async def test_submit_conflicts_without_an_open_application_are_protocol_errors(
    server, connect, body
):
    server.on("POST", "/v1/applications", reply(409, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.submit(SESSION, b"cms", KEY)


async def test_application_open_means_something_only_on_submit(server, connect):
    body = {"error": "application_open", "application": NUMBER, "message": "?"}
    server.on("POST", f"/v1/applications/{NUMBER}/confirm", reply(409, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.confirm(SESSION, NUMBER, "123456", KEY)


async def test_confirm(server, connect):
    path = f"/v1/applications/{NUMBER}/confirm"
    server.on("POST", path, reply(body=status_body(state="processing", attempts_left=None)))
    async with connect() as authority:
        status = await authority.confirm(SESSION, NUMBER, "123456", KEY)
    assert status.state is ApplicationState.PROCESSING
    assert status.attempts_left is None
    request = server.requests[0]
    assert json.loads(request.content) == {"code": "123456"}
    assert request.headers["Idempotency-Key"] == KEY
    assert request.headers["Authorization"] == f"Bearer {SESSION}"


async def test_status_with_retry_hint_in_the_body(server, connect):
    server.on("GET", f"/v1/applications/{NUMBER}", reply(body=status_body(retry_after=2.5)))
    async with connect() as authority:
        status = await authority.status(SESSION, NUMBER)
    assert status.retry_after == 2.5
    assert server.requests[0].headers["Authorization"] == f"Bearer {SESSION}"
    assert "Idempotency-Key" not in server.requests[0].headers


async def test_status_with_retry_hint_in_the_header(server, connect):
    server.on(
        "GET",
        f"/v1/applications/{NUMBER}",
        reply(body=status_body(state="processing"), headers={"Retry-After": "20"}),
    )
    async with connect() as authority:
        status = await authority.status(SESSION, NUMBER)
    assert (status.state, status.retry_after) == (ApplicationState.PROCESSING, 20.0)


async def test_status_rejected_with_reason(server, connect):
    server.on(
        "GET",
        f"/v1/applications/{NUMBER}",
        reply(body=status_body(state="rejected", reason="subject_changed", attempts_left=0)),
    )
    async with connect() as authority:
        status = await authority.status(SESSION, NUMBER)
    assert status.state.final and status.reason == "subject_changed"


async def test_download(server, connect):
    server.on("GET", f"/v1/applications/{NUMBER}/certificates", reply(body=issued_body()))
    async with connect() as authority:
        issued = await authority.download(SESSION, NUMBER)
    assert issued == IssuedCertificates(
        NUMBER,
        (IssuedCertificate("auth", CERT), IssuedCertificate("sign", CERT)),
        (CA, CA),
    )


async def test_demo_codes(server, connect):
    messages = [
        {"text": "Code 123456", "code": "123456"},
        {"text": "Code 654321", "code": "654321"},
    ]
    server.on("GET", f"/v1/demo/outbox/{NUMBER}", reply(body={"messages": messages}))
    async with connect() as authority:
        assert await authority.demo_codes(NUMBER) == ["123456", "654321"]


async def test_demo_codes_empty_on_a_real_authority(server, connect):
    async with connect() as authority:  # no route: 404
        assert await authority.demo_codes(NUMBER) == []


async def test_demo_issue_holder(server, connect):
    server.on(
        "POST",
        "/v1/demo/holders",
        reply(body={"certificates": [{"usage": "both", "certificate": b64(CERT)}], "chain": []}),
    )
    async with connect() as authority:
        issued = await authority.demo_issue_holder(
            "GOST 2015 512", "individual", 10, [("both", b"csr")]
        )
    assert issued.certificates == (IssuedCertificate("both", CERT),)
    request = server.requests[0]
    assert json.loads(request.content) == {
        "scheme": "GOST 2015 512",
        "holder": "individual",
        "days_left": 10,
        "requests": [{"usage": "both", "csr": b64(b"csr")}],
    }
    assert request.headers["Idempotency-Key"]


async def test_demo_mode_runs_over_asgi_without_a_socket():
    async def app(scope, receive, send):
        assert scope["type"] == "http" and scope["path"] == "/v1/authority"
        body = json.dumps(INFO).encode()
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async with HttpAuthority("http://demo", transport=httpx.ASGITransport(app=app)) as authority:
        assert (await authority.info()).demo is True


# --- retries --------------------------------------------------------------------------------------


async def test_503_then_success_with_full_jitter(server, connect, sleeps):
    server.on(
        "GET",
        "/v1/authority",
        reply(503, {"error": "unavailable"}),
        reply(502),
        reply(504),
        reply(body=INFO),
    )
    async with connect(random=lambda: 0.5) as authority:
        assert (await authority.info()).name == "DEMO NCA"
    assert len(server.requests) == 4
    # Full jitter: random() * min(max_wait, 0.5 * 2**(attempt - 1)).
    assert sleeps == [0.25, 0.5, 1.0]


async def test_backoff_is_capped_by_max_wait(server, connect, sleeps):
    server.on("GET", "/v1/authority", reply(503), reply(503), reply(503), reply(body=INFO))
    async with connect(max_wait=0.75) as authority:
        await authority.info()
    assert sleeps == [0.5, 0.75, 0.75]


async def test_429_retry_after_seconds(server, connect, sleeps):
    server.on(
        "GET",
        "/v1/authority",
        reply(429, {"error": "slow_down"}, headers={"Retry-After": "7"}),
        reply(body=INFO),
    )
    async with connect() as authority:
        await authority.info()
    assert sleeps == [7.0]


async def test_retry_after_seconds_capped_by_max_wait(server, connect, sleeps):
    server.on("GET", "/v1/authority", reply(503, headers={"Retry-After": "120"}), reply(body=INFO))
    async with connect(max_wait=30.0) as authority:
        await authority.info()
    assert sleeps == [30.0]


async def test_429_retry_after_http_date(server, connect, sleeps):
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    headers = {
        "Date": email.utils.format_datetime(now, usegmt=True),
        "Retry-After": email.utils.format_datetime(now + dt.timedelta(seconds=12), usegmt=True),
    }
    server.on("GET", "/v1/authority", reply(429, headers=headers), reply(body=INFO))
    async with connect() as authority:
        await authority.info()
    assert sleeps == [12.0]


async def test_retry_after_http_date_capped_by_max_wait(server, connect, sleeps):
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    headers = {"Retry-After": email.utils.format_datetime(later, usegmt=True)}
    server.on("GET", "/v1/authority", reply(429, headers=headers), reply(body=INFO))
    async with connect(max_wait=30.0) as authority:
        await authority.info()
    assert sleeps == [30.0]


def test_retry_after_parsing():
    now = dt.datetime(2026, 3, 1, 12, 0, 0, tzinfo=dt.UTC)
    past = email.utils.format_datetime(now - dt.timedelta(minutes=5), usegmt=True)
    assert retry_after_seconds({"Retry-After": "0"}) == 0.0
    assert retry_after_seconds({"Retry-After": " 15 "}) == 15.0
    assert retry_after_seconds({"Retry-After": past}, now) == 0.0
    assert retry_after_seconds({"Retry-After": "9" * 400}) == client_module.MAX_RETRY_AFTER
    for nonsense in ("-5", "1.5", "soon", "NaN", "²", "Fri, 99 Foo 2026 25:61:00 GMT", ""):
        assert retry_after_seconds({"Retry-After": nonsense}) is None, nonsense
    assert retry_after_seconds({}) is None


async def test_unreadable_retry_after_falls_back_to_backoff(server, connect, sleeps):
    server.on("GET", "/v1/authority", reply(503, headers={"Retry-After": "-3"}), reply(body=INFO))
    async with connect(random=lambda: 0.5) as authority:
        await authority.info()
    assert sleeps == [0.25]


async def test_exhausted_retries_say_unreachable_with_the_hint(server, connect, sleeps):
    server.on("POST", "/v1/applications", reply(503, headers={"Retry-After": "90"}))
    async with connect(max_attempts=3) as authority:
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.submit(SESSION, b"cms", KEY)
    assert caught.value.exit_code == 6
    assert caught.value.params == {"retry_after": 90.0}
    assert len(server.requests) == 3
    assert sleeps == [30.0, 30.0]  # no sleep after the last attempt


async def test_other_5xx_retried_then_unreachable(server, connect):
    server.on("GET", "/v1/authority", reply(500, {"error": "internal"}))
    async with connect() as authority:
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
    assert caught.value.params["retry_after"] is None
    assert len(server.requests) == 5


@pytest.mark.parametrize(
    "error",
    [
        httpx.RemoteProtocolError,
        httpx.ReadError,
        httpx.ConnectError,
        httpx.ReadTimeout,
        httpx.ConnectTimeout,
        httpx.WriteError,
    ],
)
async def test_dropped_connection_retried_then_success(server, connect, sleeps, error):
    server.on(
        "POST",
        "/v1/applications",
        fail(lambda request: error("peer closed connection", request=request)),
        reply(201, status_body()),
    )
    async with connect() as authority:
        status = await authority.submit(SESSION, b"cms", KEY)
    assert status.number == NUMBER
    assert len(server.requests) == 2 and len(sleeps) == 1
    assert server.keys() == [KEY, KEY]


async def test_dropped_connection_every_time_is_unreachable(server, connect, sleeps):
    server.on(
        "GET",
        "/v1/authority",
        fail(lambda request: httpx.RemoteProtocolError("dropped", request=request)),
    )
    async with connect(max_attempts=4) as authority:
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
    assert caught.value.exit_code == 6
    assert caught.value.params == {"retry_after": None}
    assert isinstance(caught.value.__cause__, httpx.RemoteProtocolError)
    assert len(server.requests) == 4 and len(sleeps) == 3


async def test_hint_survives_a_later_dropped_connection(server, connect):
    server.on(
        "GET",
        "/v1/authority",
        reply(503, headers={"Retry-After": "45"}),
        fail(lambda request: httpx.ReadError("reset", request=request)),
    )
    async with connect(max_attempts=2) as authority:
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
    assert caught.value.params == {"retry_after": 45.0}


async def test_a_stalled_answer_hits_the_attempt_deadline(server, connect):
    import anyio

    async def trickle():
        yield b"{"
        await anyio.sleep(10)
        yield b"}"

    server.on("GET", "/v1/authority", lambda request: httpx.Response(200, content=trickle()))
    async with connect(timeout=0.01, max_attempts=2) as authority:
        with pytest.raises(AuthorityUnreachable):
            await authority.info()
    assert len(server.requests) == 2


async def test_the_call_deadline_bounds_every_attempt_together(server, connect):
    """Each attempt alone stays inside its own deadline; all of them together do not."""
    import anyio

    async def trickle():
        yield b"{"
        await anyio.sleep(0.15)  # under the attempt deadline (4 x 0.5 s), so retried each time
        yield b"}"

    server.on(
        "GET",
        "/v1/authority",
        lambda request: httpx.Response(503, content=trickle(), headers={"Retry-After": "0"}),
    )
    async with connect(
        timeout=0.5, max_attempts=40, call_deadline=0.4, sleep=anyio.sleep
    ) as authority:
        started = time.monotonic()
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
        elapsed = time.monotonic() - started
    assert 0.35 < elapsed < 2.0
    assert caught.value.code == "authority_call_timeout"
    assert caught.value.params["seconds"] == "0.4"
    assert 2 <= len(server.requests) <= 4


async def test_the_call_deadline_during_a_pause_is_plain_unreachable(server, connect):
    """Out of time while waiting to try again: what the authority said last stands."""
    import anyio

    server.on(
        "GET", "/v1/authority", reply(429, {"error": "slow_down"}, headers={"Retry-After": "9"})
    )
    async with connect(max_wait=9, call_deadline=0.2, sleep=anyio.sleep) as authority:
        started = time.monotonic()
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
    assert time.monotonic() - started < 2.0
    assert caught.value.code == "authority_unreachable"
    assert caught.value.params == {"retry_after": 9.0}
    assert len(server.requests) == 1


def test_the_call_deadline_must_be_positive():
    with pytest.raises(UsageError):
        HttpAuthority(BASE, call_deadline=0)


async def test_outside_cancellation_is_not_turned_into_an_error(server, connect):
    """A caller that cancels (a window closed) gets its cancellation, not "unreachable"."""
    import anyio

    async def stall():
        await anyio.sleep(30)
        yield b"{}"

    server.on("GET", "/v1/authority", lambda request: httpx.Response(200, content=stall()))
    async with connect() as authority:
        with anyio.move_on_after(0.1) as scope:
            await authority.info()
    assert scope.cancelled_caught


async def test_same_idempotency_key_on_every_retry_of_submit_and_confirm(server, connect):
    server.on("POST", "/v1/applications", reply(503), reply(429), reply(201, status_body()))
    confirm = f"/v1/applications/{NUMBER}/confirm"
    server.on("POST", confirm, reply(502), reply(body=status_body(state="processing")))
    async with connect() as authority:
        await authority.submit(SESSION, b"cms", KEY)
        await authority.confirm(SESSION, NUMBER, "123456", "confirm-key-1")
    assert server.keys() == [KEY, KEY, KEY, "confirm-key-1", "confirm-key-1"]
    bodies = {r.content for r in server.requests[:3]}
    assert len(bodies) == 1  # the very same request again


@pytest.mark.parametrize(
    ("path", "call"),
    [
        ("/v1/login/challenge", lambda a: a.challenge()),
        ("/v1/login", lambda a: a.login(b"cms")),
        ("/v1/demo/holders", lambda a: a.demo_issue_holder("RSA", "individual", 5, [])),
    ],
)
async def test_generated_idempotency_key_reused_on_retry(server, connect, path, call):
    server.on(
        "POST",
        path,
        fail(lambda request: httpx.ReadError("reset", request=request)),
        reply(503),
        reply(500),
    )
    async with connect(max_attempts=3) as authority:
        with pytest.raises(AuthorityUnreachable):
            await call(authority)
        with pytest.raises(AuthorityUnreachable):
            await call(authority)
    first, second = server.keys()[:3], server.keys()[3:]
    assert len(set(first)) == 1 and len(set(second)) == 1 and first[0]
    assert first[0] != second[0]  # a new call is a new key


async def test_tls_failure_is_not_retried(server, connect):
    def refuse(request):
        try:
            raise ssl.SSLCertVerificationError("certificate verify failed")
        except ssl.SSLError as exc:
            raise httpx.ConnectError("TLS", request=request) from exc

    server.on("GET", "/v1/authority", refuse)
    async with connect() as authority:
        with pytest.raises(AuthorityUnreachable) as caught:
            await authority.info()
    assert len(server.requests) == 1
    assert caught.value.params["detail"] == "tls_verification"


# --- error mapping --------------------------------------------------------------------------------


async def test_401_session_expired(server, connect):
    server.on("GET", f"/v1/applications/{NUMBER}", reply(401, {"error": "session_expired"}))
    async with connect() as authority:
        with pytest.raises(SessionExpired):
            await authority.status(SESSION, NUMBER)
    assert len(server.requests) == 1


async def test_401_without_a_session_is_a_protocol_error(server, connect):
    server.on("GET", "/v1/authority", reply(401, {"error": "session_expired"}))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()


async def test_422_code_wrong(server, connect):
    confirm = f"/v1/applications/{NUMBER}/confirm"
    server.on(
        "POST", confirm, reply(422, {"error": "code_wrong", "message": "no", "attempts_left": 2})
    )
    async with connect() as authority:
        with pytest.raises(CodeWrong) as caught:
            await authority.confirm(SESSION, NUMBER, "000000", KEY)
    assert caught.value.params == {"attempts_left": 2}
    assert len(server.requests) == 1


@pytest.mark.parametrize("attempts_left", [None, -1, "2", True, 2.0])
async def test_422_code_wrong_with_a_broken_count(server, connect, attempts_left):
    confirm = f"/v1/applications/{NUMBER}/confirm"
    body = {"error": "code_wrong", "attempts_left": attempts_left}
    server.on("POST", confirm, reply(422, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.confirm(SESSION, NUMBER, "000000", KEY)


async def test_422_rejected(server, connect):
    server.on(
        "POST",
        "/v1/applications",
        reply(422, {"error": "rejected", "reason": "certificate_revoked", "message": "revoked"}),
    )
    async with connect() as authority:
        with pytest.raises(ApplicationRejected) as caught:
            await authority.submit(SESSION, b"cms", KEY)
    assert caught.value.params == {"reason": "certificate_revoked"}
    assert caught.value.exit_code == 7


async def test_rejection_reason_in_kazakh_and_russian_kept(server, connect):
    reason = "Сертификат отозван / Тіркелгі куәлігі кері қайтарылды"
    server.on("POST", "/v1/applications", reply(422, {"error": "rejected", "reason": reason}))
    async with connect() as authority:
        with pytest.raises(ApplicationRejected) as caught:
            await authority.submit(SESSION, b"cms", KEY)
    assert caught.value.params == {"reason": reason}


@pytest.mark.parametrize(
    ("path", "call", "status", "body"),
    [
        (f"/v1/applications/{NUMBER}", "status", 422, {"error": "rejected", "reason": "x"}),
        ("/v1/authority", "info", 422, {"error": "rejected", "reason": "x"}),
        ("/v1/applications", "submit", 422, {"error": "code_wrong", "attempts_left": 1}),
        ("/v1/applications", "submit", 403, {"error": "login_refused"}),
    ],
)
async def test_refusals_count_only_from_calls_that_can_be_refused(
    server, connect, path, call, status, body
):
    """A status or info call is never "rejected", a submission never has a wrong code: such an
    answer is broken, not a verdict on the application."""
    calls = {
        "status": ("GET", lambda a: a.status(SESSION, NUMBER)),
        "info": ("GET", lambda a: a.info()),
        "submit": ("POST", lambda a: a.submit(SESSION, b"cms", KEY)),
    }
    method, make = calls[call]
    server.on(method, path, reply(status, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await make(authority)


async def test_403_login_refused(server, connect):
    server.on("POST", "/v1/login", reply(403, {"error": "login_refused", "message": "revoked"}))
    async with connect() as authority:
        with pytest.raises(ApplicationRejected) as caught:
            await authority.login(b"cms")
    assert caught.value.params == {"reason": "revoked"}


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (404, {"error": "not_found", "message": "no such application"}),
        (409, {"error": "not_issued", "message": "not yet"}),
        (400, {"error": "bad_request"}),
        (403, {"error": "forbidden"}),
        (422, {"detail": [{"loc": ["body"], "msg": "field required"}]}),
        (418, None),
    ],
)
async def test_other_4xx_are_protocol_errors(server, connect, status, body):
    server.on("GET", f"/v1/applications/{NUMBER}/certificates", reply(status, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError) as caught:
            await authority.download(SESSION, NUMBER)
    assert caught.value.exit_code == 10
    assert str(status) in caught.value.params["detail"]
    assert len(server.requests) == 1


async def test_redirects_are_not_followed(server, connect):
    server.on(
        "GET",
        "/v1/authority",
        reply(302, headers={"Location": "https://evil.example/v1/authority"}),
    )
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()
    assert [r.url.host for r in server.requests] == ["authority.test"]


async def test_tls_verification_stays_on(monkeypatch):
    made: list[dict] = []
    real = httpx.AsyncClient

    class Recording(real):
        def __init__(self, **kwargs):
            made.append(kwargs)
            super().__init__(**kwargs)

    monkeypatch.setattr(httpx, "AsyncClient", Recording)
    async with HttpAuthority(BASE):
        pass
    (kwargs,) = made
    assert kwargs.get("verify", True) is True
    assert kwargs.get("follow_redirects") is False
    assert kwargs.get("transport") is None  # httpx's own transport, with its verifying context


# --- hostile and broken answers -------------------------------------------------------------------


def raw(status: int, content: bytes, content_type: str = "application/json", **headers) -> Answer:
    return reply(status, raw=content, headers={"Content-Type": content_type, **headers})


HOSTILE_INFO = {
    "html": raw(200, b"<html>captive portal</html>", "text/html"),
    "json-as-text": raw(200, json.dumps(INFO).encode(), "text/plain"),
    "not-json": raw(200, b"{not json"),
    "empty": raw(200, b""),
    "top-level-list": reply(body=[INFO]),
    "not-utf8": raw(200, json.dumps(INFO).encode("utf-16")),
    "duplicate-key": raw(
        200, b'{"name":"A","name":"B","demo":true,"schemes":[],"ca_certificates":[]}'
    ),
    "deep-nesting": raw(200, b"[" * 100_000 + b"]" * 100_000),
    "demo-as-string": reply(body={**INFO, "demo": "yes"}),
    "name-as-number": reply(body={**INFO, "name": 5}),
    "name-empty": reply(body={**INFO, "name": ""}),
    "name-missing": reply(body={k: v for k, v in INFO.items() if k != "name"}),
    "schemes-not-list": reply(body={**INFO, "schemes": "RSA"}),
    "schemes-with-null": reply(body={**INFO, "schemes": ["RSA", None]}),
    "schemes-with-escape": reply(body={**INFO, "schemes": ["RSA\x1b[2J"]}),
    "name-with-escape": reply(body={**INFO, "name": "DEMO\x1b[31m NCA"}),
    "ca-missing": reply(body={k: v for k, v in INFO.items() if k != "ca_certificates"}),
    "ca-bad-base64": reply(body={**INFO, "ca_certificates": ["not base64!"]}),
    "ca-urlsafe-base64": reply(body={**INFO, "ca_certificates": ["MAMCAQX-_w=="]}),
    "ca-not-der": reply(body={**INFO, "ca_certificates": [b64(b"hello world")]}),
    "ca-der-truncated": reply(body={**INFO, "ca_certificates": [b64(CA[:-1])]}),
    "ca-too-many": reply(body={**INFO, "ca_certificates": [b64(CA)] * 100}),
    "accepted-not-list": reply(body={**INFO, "accepted_issuers": b64(CA)}),
    "accepted-not-der": reply(body={**INFO, "accepted_issuers": [b64(b"hello world")]}),
    "accepted-too-many": reply(body={**INFO, "accepted_issuers": [b64(CA)] * 100}),
    "ca-huge": reply(
        body={**INFO, "ca_certificates": [b64(b"\x30\x83\x01\x86\xa0" + bytes(100_000))]}
    ),
    "gzip": raw(200, b"\x1f\x8b...", **{"Content-Encoding": "gzip"}),
    "declared-too-large": raw(200, b"{}", **{"Content-Length": str(MAX_BODY + 1)}),
    "body-too-large": raw(200, b'{"name": "' + b"A" * MAX_BODY + b'"}'),
}


@pytest.mark.parametrize("answer", HOSTILE_INFO.values(), ids=HOSTILE_INFO.keys())
async def test_hostile_info(server, connect, answer):
    server.on("GET", "/v1/authority", answer)
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()
    assert len(server.requests) == 1


async def test_endless_body_is_cut_off(server, connect):
    sent = []

    async def endless():  # 8 MiB, to end the test should the cap ever go
        for _ in range(128):
            sent.append(64 * 1024)
            yield b" " * (64 * 1024)

    server.on(
        "GET",
        "/v1/authority",
        lambda request: httpx.Response(
            200, content=endless(), headers={"Content-Type": "application/json"}
        ),
    )
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()
    assert sum(sent) <= MAX_BODY + 64 * 1024


async def test_declared_size_refused_before_reading(server, connect):
    pulled = []

    async def body():
        pulled.append(True)
        yield json.dumps(INFO).encode()

    headers = {"Content-Type": "application/json", "Content-Length": str(MAX_BODY + 1)}
    server.on(
        "GET", "/v1/authority", lambda request: httpx.Response(200, content=body(), headers=headers)
    )
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()
    assert pulled == []


async def test_compressed_answer_refused(server, connect):
    # Valid JSON once inflated; refused because identity was asked (a gzip bomb defeats caps).
    packed = gzip.compress(json.dumps(INFO).encode())
    server.on("GET", "/v1/authority", raw(200, packed, **{"Content-Encoding": "gzip"}))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_non_json_numbers_refused_anywhere(server, connect, constant):
    # Even in a field the client ignores: this is not JSON (RFC 8259).
    body = json.dumps({**INFO, "extra": 0}).encode().replace(b'"extra": 0', b'"extra": ' + constant)
    assert constant in body
    server.on("GET", "/v1/authority", raw(200, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.info()


HOSTILE_STATUS = {
    "unknown-state": status_body(state="approved"),
    "state-wrong-type": status_body(state=3),
    "state-missing": {k: v for k, v in status_body().items() if k != "state"},
    "number-missing": {k: v for k, v in status_body().items() if k != "number"},
    "another-application": status_body(number="KZ-2026-000043"),
    "number-with-slash": status_body(number="../../admin"),
    "retry-after-negative": status_body(retry_after=-1),
    "retry-after-string": status_body(retry_after="5"),
    "retry-after-bool": status_body(retry_after=True),
    "retry-after-absurd": status_body(retry_after=10**12),
    "attempts-negative": status_body(attempts_left=-1),
    "attempts-float": status_body(attempts_left=1.5),
    "reason-not-text": status_body(reason={"why": "no"}),
    "reason-terminal-escape": status_body(state="rejected", reason="ok\x1b]0;pwned\x07"),
    "reason-bidi-override": status_body(state="rejected", reason="\u202eexe.txt"),
    "reason-newline": status_body(state="rejected", reason="line one\nline two"),
}


@pytest.mark.parametrize("body", HOSTILE_STATUS.values(), ids=HOSTILE_STATUS.keys())
async def test_hostile_status(server, connect, body):
    server.on("GET", f"/v1/applications/{NUMBER}", reply(body=body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.status(SESSION, NUMBER)


@pytest.mark.parametrize("constant", [b"NaN", b"Infinity", b"-Infinity", b"1e999"])
async def test_non_finite_retry_after(server, connect, constant):
    body = (
        json.dumps(status_body(retry_after=0))
        .encode()
        .replace(b'"retry_after": 0', b'"retry_after": ' + constant)
    )
    assert constant in body
    server.on("GET", f"/v1/applications/{NUMBER}", raw(200, body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.status(SESSION, NUMBER)


async def test_confirm_about_another_application(server, connect):
    confirm = f"/v1/applications/{NUMBER}/confirm"
    server.on("POST", confirm, reply(body=status_body(number="KZ-2026-000099")))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.confirm(SESSION, NUMBER, "123456", KEY)


HOSTILE_DOWNLOAD = {
    "another-application": issued_body(number="KZ-2026-000099"),
    "no-certificates": issued_body(certificates=[]),
    "unknown-usage": issued_body(certificates=[{"usage": "root", "certificate": b64(CERT)}]),
    "certificate-missing": issued_body(certificates=[{"usage": "auth"}]),
    "certificate-bad-base64": issued_body(certificates=[{"usage": "auth", "certificate": "%%"}]),
    "certificate-not-der": issued_body(certificates=[{"usage": "auth", "certificate": b64(b"x")}]),
    "certificates-not-objects": issued_body(certificates=[b64(CERT)]),
    "chain-missing": {k: v for k, v in issued_body().items() if k != "chain"},
    "chain-not-der": issued_body(chain=[b64(b"-----BEGIN CERTIFICATE-----")]),
}


@pytest.mark.parametrize("body", HOSTILE_DOWNLOAD.values(), ids=HOSTILE_DOWNLOAD.keys())
async def test_hostile_download(server, connect, body):
    server.on("GET", f"/v1/applications/{NUMBER}/certificates", reply(body=body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.download(SESSION, NUMBER)


@pytest.mark.parametrize(
    ("path", "body", "call"),
    [
        (
            "/v1/login/challenge",
            {"challenge": "***", "expires_at": "2026-01-01T10:00:00Z"},
            "challenge",
        ),
        ("/v1/login/challenge", {"challenge": b64(b"n"), "expires_at": "tomorrow"}, "challenge"),
        ("/v1/login/challenge", {"challenge": b64(b"n")}, "challenge"),
        (
            "/v1/login/challenge",
            {"challenge": b64(bytes(100_000)), "expires_at": "2026-01-01"},
            "challenge",
        ),
        ("/v1/login", {"session": "two words", "expires_at": "2026-01-01T10:00:00Z"}, "login"),
        ("/v1/login", {"session": "x\r\nSet-Cookie: a", "expires_at": "2026-01-01"}, "login"),
        ("/v1/login", {"session": 42, "expires_at": "2026-01-01T10:00:00Z"}, "login"),
        ("/v1/login", {"expires_at": "2026-01-01T10:00:00Z"}, "login"),
    ],
)
async def test_hostile_login(server, connect, path, body, call):
    server.on("POST", path, reply(body=body))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            if call == "challenge":
                await authority.challenge()
            else:
                await authority.login(b"cms")


@pytest.mark.parametrize(
    "messages",
    [
        "123456",
        [{"text": "Code"}],
        [{"code": "123456"}],
        [{"text": "Code", "code": 123456}],
        [{"text": "Code", "code": "12 34"}],
    ],
)
async def test_hostile_outbox(server, connect, messages):
    server.on("GET", f"/v1/demo/outbox/{NUMBER}", reply(body={"messages": messages}))
    async with connect() as authority:
        with pytest.raises(AuthorityProtocolError):
            await authority.demo_codes(NUMBER)


# --- arguments and hygiene ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url", ["ftp://authority.test", "authority.test", "https://", "http://[::1"]
)
def test_malformed_authority_url(url):
    with pytest.raises(UsageError):
        HttpAuthority(url)


@pytest.mark.parametrize("number", ["../admin", "KZ 1", "", "a/b", "x" * 65, "%2e%2e"])
async def test_malformed_number_never_reaches_the_network(server, connect, number):
    async with connect() as authority:
        with pytest.raises(UsageError):
            await authority.status(SESSION, number)
        with pytest.raises(UsageError):
            await authority.demo_codes(number)
    assert server.requests == []


@pytest.mark.parametrize("session", ["", "two words", "line\nbreak", "сессия"])
async def test_malformed_session_never_reaches_the_network(server, connect, session):
    async with connect() as authority:
        with pytest.raises(UsageError):
            await authority.submit(session, b"cms", KEY)
    assert server.requests == []


async def test_bodies_and_sessions_are_never_logged(server, connect, caplog):
    server.on("POST", "/v1/applications", reply(503), reply(201, status_body()))
    secret_cms = b"SIGNED-APPLICATION-MATERIAL"
    with caplog.at_level(logging.DEBUG):
        async with connect() as authority:
            await authority.submit(SESSION, secret_cms, KEY)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "/v1/applications" in logged  # it does log, just not the secrets
    for secret in (SESSION, b64(secret_cms), KEY):
        assert secret not in logged
