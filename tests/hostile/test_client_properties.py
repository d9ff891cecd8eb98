"""HttpAuthority's reading of answers under hostile input: whatever bytes, JSON values, wrong
types, statuses and headers an authority sends back to any call, the caller gets the call's result
with checked fields, or one of the errors that call documents (interface.py, client.py's table):
never a KeyError, TypeError, ValueError, OverflowError, UnicodeError or a UsageError.

Two halves: a hypothesis property (random answers, faults combined with odd statuses and headers)
and a systematic sweep (one fault at each place of a good answer, each edge value in turn), which
is what catches a 400-digit retry hint overflowing float() and lone surrogates or line separators
reaching the caller's text. Deterministic (derandomize, no example database) and quick: every
answer is served in memory through httpx.MockTransport, one attempt, no sleeping."""

from __future__ import annotations

import asyncio
import base64
import dataclasses
import json
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from wizard.authority.client import UNSAFE_TEXT, HttpAuthority
from wizard.authority.interface import (
    ApplicationState,
    ApplicationStatus,
    AuthorityInfo,
    IssuedCertificates,
)
from wizard.errors import (
    ApplicationRejected,
    AuthorityProtocolError,
    AuthorityUnreachable,
    CodeWrong,
    QoltanbaError,
    RenewalBusy,
    SessionExpired,
)

BASE = "https://authority.test"
NUMBER = "KZ-2026-000042"
SESSION = "s3ss10n-t0ken"
KEY = "6f1c8a9e-2b7d-4a53-9c1e-0d2f4b6a8c01"
WHEN = "2026-01-01T00:00:00+00:00"
CERT = base64.b64encode(bytes([0x30, 0x03, 0x02, 0x01, 0x05])).decode()
CA = base64.b64encode(b"\x30\x82\x01\x00" + bytes(256)).decode()
STATUS = {"number": NUMBER, "state": "awaiting_code", "reason": None, "retry_after": 1.5}
STATUS |= {"attempts_left": 3, "confirm_by": WHEN}
ISSUED = {
    "number": NUMBER,
    "certificates": [
        {"usage": "auth", "certificate": CERT},
        {"usage": "sign", "certificate": CERT},
    ],
    "chain": [CA, CA],
}

# Per call: how to make it, a well-formed answer to start mutating from, and what it may raise
# besides AuthorityProtocolError and AuthorityUnreachable (which every call may).
CALLS: dict[str, tuple[Any, dict[str, Any], tuple[type[QoltanbaError], ...]]] = {
    "info": (
        lambda a: a.info(),
        {"name": "DEMO", "demo": True, "schemes": ["RSA"], "ca_certificates": [CA]},
        (),
    ),
    "challenge": (
        lambda a: a.challenge(),
        {"challenge": base64.b64encode(bytes(32)).decode(), "expires_at": WHEN},
        (),
    ),
    "login": (
        lambda a: a.login(b"signed challenge"),
        {"session": "t0ken", "expires_at": WHEN},
        (ApplicationRejected,),
    ),
    "submit": (
        lambda a: a.submit(SESSION, b"application", KEY),
        STATUS,
        (ApplicationRejected, RenewalBusy),
    ),
    "confirm": (
        lambda a: a.confirm(SESSION, NUMBER, "123456", KEY),
        STATUS | {"state": "processing"},
        (ApplicationRejected,),
    ),
    "status": (lambda a: a.status(SESSION, NUMBER), STATUS | {"state": "processing"}, ()),
    "download": (lambda a: a.download(SESSION, NUMBER), ISSUED, ()),
    "demo_codes": (
        lambda a: a.demo_codes(NUMBER),
        {"messages": [{"text": "Your code: 123456", "code": "123456"}]},
        (),
    ),
    "demo_issue_holder": (
        lambda a: a.demo_issue_holder("RSA", "individual", 30, [("auth", b"csr")]),
        {"certificates": ISSUED["certificates"], "chain": ISSUED["chain"]},
        (ApplicationRejected,),
    ),
}
SESSION_CALLS = {"submit", "confirm", "status", "download"}
# Error bodies worth mutating: every error code the client gives a meaning to.
ERRORS = [
    {"error": "rejected", "reason": "certificate_revoked", "message": "revoked"},
    {"error": "login_refused", "message": "no"},
    {"error": "code_wrong", "attempts_left": 2, "message": "wrong"},
    {"error": "application_open", "application": NUMBER, "message": "open"},
    {"error": "session_expired", "message": "log in"},
    {"error": "not_issued", "state": "processing", "message": "later"},
]

# --- strategies ----------------------------------------------------------------------------------

TRICKY_TEXT = [
    "",
    " ",
    "\ud800",
    "a\u202eb",
    "x\n",
    "line\u2028break",
    "\x00",
    "é" * 3000,
    "2026-13-01",
    "not base64!",
    "MAoCAQU=",
    CERT,
    NUMBER,
    "../../etc",
    "auth",
    "both",
    "issued",
    "downloaded",
    "Алматы",
]
TRICKY_NUMBERS = [10**400, -(10**400), 2**63, -1, 0, 10**7, 1e308, -0.0, 2.5]
scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.sampled_from(TRICKY_NUMBERS)
    | st.text(max_size=12)
    | st.sampled_from(TRICKY_TEXT)
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


# Edge values for any one place: other types, out of range, unsafe or malformed text.
EDGES: list[Any] = [None, True, 0, -1, 2.5, -0.0, 1e308, 2**63, 10**400, -(10**400), [], {}]
EDGES += TRICKY_TEXT


def places(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every place in a JSON value: each dict key and list index, nested ones too."""
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    else:
        return []
    found: list[tuple] = []
    for key, item in items:
        found.append((*prefix, key))
        found += places(item, (*prefix, key))
    return found


def with_fault(value: Any, place: tuple, replacement: Any = None, *, delete: bool = False) -> Any:
    """A copy of ``value`` with the thing at ``place`` deleted or replaced."""
    copy = json.loads(json.dumps(value))
    parent = copy
    for key in place[:-1]:
        parent = parent[key]
    if delete:
        del parent[place[-1]]
    else:
        parent[place[-1]] = replacement
    return copy


@st.composite
def faulty(draw, value: Any) -> Any:
    """``value`` with one to three faults: a place gone, or holding an edge or any JSON value."""
    for _ in range(draw(st.integers(1, 3))):
        found = places(value)
        if not found:
            break
        place = draw(st.sampled_from(found))
        action = draw(st.sampled_from(["delete", "edge", "edge", "any"]))
        if action == "delete":
            value = with_fault(value, place, delete=True)
        else:
            replacement = draw(st.sampled_from(EDGES) if action == "edge" else json_values)
            value = with_fault(value, place, replacement)
    return value


def encoded(value: Any) -> st.SearchStrategy[bytes]:
    return st.sampled_from([True, False]).map(
        lambda ascii_only: json.dumps(value, ensure_ascii=ascii_only).encode(
            "utf-8", "surrogatepass"
        )
    )


RAW = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"NaN",
    b"1e999",
    b'{"a": 1, "a": 2}',
    b"[" * 5000 + b"]" * 5000,
    b'{"name": "\xff\xfe"}',
    b"\xef\xbb\xbf{}",
    b'{"retry_after": 1e400}',
]


@dataclasses.dataclass(frozen=True)
class Answer:
    """What the hostile authority sends: status, headers, the body's bytes as they are."""

    status: int
    headers: dict[str, str]
    body: bytes

    def response(self, request: httpx.Request) -> httpx.Response:
        # A stream, so that httpx decodes nothing on its own (a "gzip" header stays a header).
        return httpx.Response(
            self.status,
            headers=self.headers,
            stream=httpx.ByteStream(self.body),
            request=request,
        )


@st.composite
def answers(draw, template: dict[str, Any]) -> Answer:
    kind = draw(st.integers(0, 5))
    error_statuses = [400, 401, 403, 404, 409, 422, 429, 503, 302]
    statuses = [200] * 4 + [201]
    if kind == 0:
        body = draw(encoded(template))  # well-formed: with any status and headers
    elif kind <= 2:
        body = draw(faulty(template).flatmap(encoded))
    elif kind == 3:
        body = draw(faulty(draw(st.sampled_from(ERRORS))).flatmap(encoded))
        statuses = error_statuses
    elif kind == 4:
        body = draw(json_values.flatmap(encoded))
    else:
        body = draw(st.binary(max_size=64) | st.sampled_from(RAW))
    status = draw(
        st.sampled_from(statuses) | st.sampled_from(error_statuses) | st.integers(100, 599)
    )
    headers = {}
    media = draw(
        st.sampled_from(
            ["application/json"] * 4
            + [
                "application/json; charset=utf-8",
                "application/problem+json",
                "text/html",
                "",
                "application/jsonx",
            ]
        )
    )
    if media:
        headers["Content-Type"] = media
    header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=40)
    for name, odds in (("Retry-After", 2), ("Date", 3), ("Content-Encoding", 8)):
        if draw(st.integers(1, odds)) == 1:
            headers[name] = draw(
                header_text
                | st.sampled_from(
                    ["0", "7", "99999999999999", "Wed, 21 Oct 2015 07:28:00 GMT", "gzip"]
                )
            )
    return Answer(status, headers, body)


# --- the property --------------------------------------------------------------------------------


def _safe_text(value: str) -> bool:
    return isinstance(value, str) and not UNSAFE_TEXT.search(value) and bool(value.encode())


def _check_result(name: str, result: Any) -> None:
    """A result is well-formed all the way down: typed fields, safe text, non-empty DER."""
    if name == "info":
        assert isinstance(result, AuthorityInfo)
        assert _safe_text(result.name) and isinstance(result.demo, bool)
        assert all(_safe_text(s) for s in result.schemes)
        assert all(isinstance(c, bytes) and c[:1] == b"\x30" for c in result.ca_certificates)
    elif name == "challenge":
        assert isinstance(result, bytes) and result
    elif name == "login":
        assert _safe_text(result) and result.isascii()
    elif name in ("submit", "confirm", "status"):
        assert isinstance(result, ApplicationStatus)
        assert isinstance(result.state, ApplicationState)
        if name != "submit":
            assert result.number == NUMBER
        assert _safe_text(result.number)
        assert result.reason is None or _safe_text(result.reason)
        assert result.retry_after is None or 0 <= result.retry_after <= 30 * 24 * 3600
        assert result.attempts_left is None or isinstance(result.attempts_left, int)
    elif name in ("download", "demo_issue_holder"):
        assert isinstance(result, IssuedCertificates)
        assert result.number == (NUMBER if name == "download" else "")
        assert result.certificates
        for issued in result.certificates:
            assert issued.usage in ("auth", "sign", "both")
            assert issued.certificate[:1] == b"\x30"
        assert all(c[:1] == b"\x30" for c in result.chain)
    elif name == "demo_codes":
        assert isinstance(result, list) and all(_safe_text(c) and c.isalnum() for c in result)
    for item in dataclasses.fields(result) if dataclasses.is_dataclass(result) else ():
        assert not isinstance(getattr(result, item.name), list | dict)  # tuples: immutable


def _check_error(name: str, error: Exception, extra: tuple[type[QoltanbaError], ...]) -> None:
    allowed = (AuthorityProtocolError, AuthorityUnreachable, *extra)
    assert isinstance(error, allowed), (name, type(error).__name__, error)
    if isinstance(error, SessionExpired):
        assert name in SESSION_CALLS  # only a call made with a session can have it expire
    if isinstance(error, CodeWrong):
        assert name == "confirm"
        assert isinstance(error.params["attempts_left"], int)
    if isinstance(error, RenewalBusy):
        assert error.code == "renewal_open_at_authority"
        assert _safe_text(error.params["application"])
    if type(error) is ApplicationRejected:
        assert _safe_text(error.params["reason"])
    for lang in ("kk", "ru", "en"):  # the message a user reads: one line, filled in
        text = error.message(lang)
        assert text and "\n" not in text and "{" not in text, (lang, error.code, text)


def _run_all(name: str, answers: list[Answer]) -> list[tuple[Any, Exception | None]]:
    """Each answer given to one call, in turn, by one client on one event loop."""
    make = CALLS[name][0]
    current: list[Answer] = []

    async def nap(seconds: float) -> None:
        return None

    async def run() -> list[tuple[Any, Exception | None]]:
        transport = httpx.MockTransport(lambda request: current[-1].response(request))
        outcomes: list[tuple[Any, Exception | None]] = []
        async with HttpAuthority(BASE, transport=transport, max_attempts=1, sleep=nap) as client:
            for answer in answers:
                current.append(answer)
                try:
                    outcomes.append((await make(client), None))
                except Exception as error:  # what came out is what the property is about
                    outcomes.append((None, error))
        return outcomes

    return asyncio.run(run())


def _run(name: str, answer: Answer) -> tuple[Any, Exception | None]:
    return _run_all(name, [answer])[0]


def _judge(name: str, result: Any, error: Exception | None) -> None:
    if error is None:
        _check_result(name, result)
    else:
        _check_error(name, error, CALLS[name][2])


def _property(name: str):
    template = CALLS[name][1]

    @settings(
        max_examples=120,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(answer=answers(template))
    def check(answer: Answer) -> None:
        _judge(name, *_run(name, answer))

    return check


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_answer_to_every_call_is_a_result_or_a_documented_error(name):
    _property(name)()


@pytest.mark.parametrize("name", sorted(CALLS))
def test_every_single_fault_at_every_place_of_a_good_answer(name):
    """The systematic half: each place of a well-formed answer, and of each error body, deleted
    or holding each edge value in turn (a few thousand answers, in one event loop)."""
    template = CALLS[name][1]
    bodies = []
    for value, status in [(template, 200)] + [(error, 422) for error in ERRORS]:
        for place in places(value):
            bodies.append((with_fault(value, place, delete=True), status))
            bodies += [(with_fault(value, place, edge), status) for edge in EDGES]
    answers = [
        Answer(
            409 if body.get("error") == "application_open" else status,
            {"Content-Type": "application/json"},
            json.dumps(body).encode(),
        )
        for body, status in bodies
    ]
    outcomes = _run_all(name, answers)
    assert len(outcomes) == len(answers) > 100
    for answer, (result, error) in zip(answers, outcomes, strict=True):
        try:
            _judge(name, result, error)
        except AssertionError as failure:
            raise AssertionError(f"{name} answered {answer}") from failure
    # Not everything is refused: some single faults (a null reason, another usage) still leave a
    # good answer, and the refusals include the documented errors, not only protocol errors.
    assert any(error is None for _, error in outcomes)
    kinds = {type(error) for _, error in outcomes if error is not None}
    assert AuthorityProtocolError in kinds


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("status", STATUS | {"retry_after": 10**400}),
        ("confirm", STATUS | {"state": "processing", "retry_after": -(10**400)}),
        ("info", {"name": "DEMO\ud800", "demo": True, "schemes": [], "ca_certificates": []}),
        ("status", STATUS | {"state": "processing", "reason": "over\u2028two lines"}),
    ],
)
def test_answers_that_once_got_through(name, body):
    """The holes the sweep above catches, as plain examples: a 400-digit retry hint overflowed
    float() (OverflowError); a lone surrogate or a line separator reached the caller's text."""
    answer = Answer(200, {"Content-Type": "application/json"}, json.dumps(body).encode())
    result, error = _run(name, answer)
    assert result is None
    assert isinstance(error, AuthorityProtocolError), error
