"""The authority over HTTP: `HttpAuthority` speaks the API of interface.py through httpx.

One seam, the httpx transport: a real server (TLS verified, redirects never followed), the mock
authority in-process (``httpx.ASGITransport``, no socket) and the tests (``httpx.MockTransport``)
all run this same code.

Every answer is untrusted: the body is streamed and cut off beyond MAX_BODY bytes, must be JSON,
and every field is checked before a dataclass is built. Transient trouble is retried with
exponential backoff and full jitter, honouring Retry-After; every state-changing call carries one
Idempotency-Key, the same on every retry. Only Qoltanba's errors leave this module:

  what happened                                     what the caller gets
  TimeoutException, NetworkError, RemoteProtocol-   retried; after max_attempts
    Error, ProxyError, attempt deadline; HTTP 429     AuthorityUnreachable(retry_after)
    and 5xx
  the call deadline passed (see below)              AuthorityUnreachable("authority_call_timeout")
  TLS certificate not verified                      AuthorityUnreachable at once (no retry)
  401 on a call made with a session                 SessionExpired
  422 {"error": "code_wrong"} on confirm            CodeWrong(attempts_left)
  422 {"error": "rejected"} on login, submit,       ApplicationRejected(reason)
    confirm or demo_issue_holder; 403
    "login_refused" on login
  409 {"error": "application_open"} on submit       RenewalBusy("renewal_open_at_authority")
  3xx, other 4xx, any other httpx error,            AuthorityProtocolError(detail)
    a broken or hostile body
  a malformed argument (number, session, key)       UsageError(detail)

Time is bounded twice. httpx's own timeouts are per connect, per write and per read, so a server
that dribbles one byte every few seconds never trips them: each attempt therefore has a deadline
(ATTEMPT_DEADLINE_FACTOR timeouts), and each public call one overall deadline (``call_deadline``)
covering connecting, sending, every read of the body, every retry and every pause between them.
When the call deadline passes during an attempt the caller gets
AuthorityUnreachable("authority_call_timeout", seconds=...); during a pause before another
attempt, the plain AuthorityUnreachable(retry_after) that running out of attempts gives.

Bodies and headers are never logged: the log says which call, which status, which attempt.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import datetime as dt
import email.utils
import json
import logging
import math
import random as _random
import re
import ssl
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import anyio

from wizard import __version__
from wizard.authority.httpx_lean import httpx
from wizard.authority.interface import (
    ApplicationState,
    ApplicationStatus,
    AuthorityInfo,
    IssuedCertificate,
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
    UsageError,
)

log = logging.getLogger(__name__)

MAX_BODY = 1024 * 1024  # bytes of one answer; beyond it the read stops
MAX_CERTIFICATE = 64 * 1024  # bytes of one DER certificate
MAX_CERTIFICATES = 16  # certificates (or chain entries) in one answer
MAX_ACCEPTED_ISSUERS = 64  # CAs an authority says it takes current certificates from
MAX_CHALLENGE = 16 * 1024
MAX_TEXT = 2000  # characters of a name, reason or message
MAX_RETRY_AFTER = 30 * 24 * 3600.0  # a longer hint is absurd
MAX_CODE_ATTEMPTS = 1000
BACKOFF_BASE = 0.5  # seconds; attempt n waits up to BACKOFF_BASE * 2**(n-1), at most max_wait
MAX_RETRY_WAIT = 30.0  # seconds: the default max_wait, the longest pause before another attempt
ATTEMPT_DEADLINE_FACTOR = 4  # one attempt, body included, lasts at most this many timeouts
CALL_DEADLINE = 30.0  # seconds: the default overall bound of one call, every retry included
USAGES = frozenset({"auth", "sign", "both"})
# The calls an authority may refuse (ApplicationRejected); from any other a refusal is nonsense.
REFUSABLE = frozenset({"login", "submit", "confirm", "demo_holder", "revoke"})
SERIAL_PATTERN = re.compile(r"[0-9a-f]{1,64}")

# Application numbers travel in URL paths: RFC 3986 unreserved characters only.
NUMBER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~-]{0,63}")
TOKEN_PATTERN = re.compile(r"[\x21-\x7e]{1,4096}")  # session tokens, idempotency keys
CODE_PATTERN = re.compile(r"[0-9A-Za-z]{1,32}")
ERROR_PATTERN = re.compile(r"[a-z][a-z0-9_]{0,63}")
# Text from the authority reaches screens and terminals: no control or bidi-override characters,
# no line or paragraph separators (messages are one line), no lone surrogates (not encodable).
UNSAFE_TEXT = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
JSON_MEDIA_TYPES = ("application/json", "application/problem+json")

Sleep = Callable[[float], Awaitable[object]]


class _Transient(Exception):
    """A failure worth another attempt; caught by the retry loop, never leaves this module."""


@contextlib.contextmanager
def _httpx_errors() -> Iterator[None]:
    """Map httpx's errors (and the per-attempt deadline) to ours, as httpx maps httpcore's."""
    try:
        yield
    except (
        httpx.TimeoutException,
        httpx.NetworkError,
        httpx.RemoteProtocolError,
        httpx.ProxyError,
        TimeoutError,
    ) as exc:
        if _tls_refused(exc):
            # A captive portal or an interceptor: retrying in seconds changes nothing.
            raise AuthorityUnreachable(retry_after=None, detail="tls_verification") from exc
        raise _Transient(type(exc).__name__) from exc
    except (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError) as exc:
        raise AuthorityProtocolError(detail=f"http: {type(exc).__name__}") from exc


def _tls_refused(exc: BaseException) -> bool:
    """Whether the failure comes from a server certificate that did not verify."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, ssl.SSLCertVerificationError):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@dataclass(frozen=True)
class _Answer:
    status: int
    headers: httpx.Headers
    body: bytes


def _retryable(status: int) -> bool:
    return status == 429 or 500 <= status <= 599


def _http_date(value: str | None) -> dt.datetime | None:
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds the Retry-After header asks to wait (delta-seconds or an HTTP-date), or None.

    An HTTP-date is measured from the answer's own Date header when it has one (the server's
    clock, so a wrong clock on the phone does not matter), else from ``now``. Unreadable hints
    are ignored; absurd ones are cut to MAX_RETRY_AFTER."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():
        seconds = float(int(value)) if len(value) <= 12 else MAX_RETRY_AFTER
    else:
        when = _http_date(value)
        if when is None:
            return None
        reference = _http_date(headers.get("Date")) or now or dt.datetime.now(dt.UTC)
        seconds = max(0.0, (when - reference).total_seconds())
    return min(seconds, MAX_RETRY_AFTER)


async def _read_capped(response: httpx.Response) -> bytes:
    """The raw body, refused beyond MAX_BODY (the read stops there) or when compressed."""
    encoding = response.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding not in ("", "identity"):
        # We asked for identity; a compressed answer could expand far beyond the cap.
        raise AuthorityProtocolError(detail="answer compressed although identity was asked")
    declared = response.headers.get("Content-Length", "").strip()
    if (
        declared.isascii()
        and declared.isdigit()
        and (len(declared) > 12 or int(declared) > MAX_BODY)
    ):
        raise AuthorityProtocolError(detail="answer too large")
    body = bytearray()
    async for chunk in response.aiter_bytes():  # identity: the bytes as sent
        body += chunk
        if len(body) > MAX_BODY:
            raise AuthorityProtocolError(detail="answer too large")
    return bytes(body)


# --- reading JSON that nobody vouches for -------------------------------------------------------


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):
        raise ValueError("duplicate key")
    return result


def _json_object(answer: _Answer, where: str) -> dict[str, Any]:
    media = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
    if media not in JSON_MEDIA_TYPES:
        raise AuthorityProtocolError(detail=f"{where}: not JSON ({media[:40] or 'no type'})")
    try:
        value = json.loads(
            answer.body.decode("utf-8"),
            parse_constant=_reject_constant,
            parse_float=_finite_float,
            object_pairs_hook=_unique_keys,
        )
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise AuthorityProtocolError(detail=f"{where}: invalid JSON") from exc
    if not isinstance(value, dict):
        raise AuthorityProtocolError(detail=f"{where}: not a JSON object")
    return value


def _is_der_sequence(data: bytes) -> bool:
    """One DER SEQUENCE spanning exactly ``data`` (what every certificate is)."""
    if len(data) < 2 or data[0] != 0x30:
        return False
    first = data[1]
    if first < 0x80:
        return 2 + first == len(data)
    size = first & 0x7F
    if size == 0 or size > 4 or len(data) < 2 + size:
        return False
    return 2 + size + int.from_bytes(data[2 : 2 + size], "big") == len(data)


class _Fields:
    """Typed reads of one JSON object from the authority; any surprise is AuthorityProtocolError.
    Optional fields may be absent or null; required ones must be there with the right type."""

    def __init__(self, value: Any, where: str) -> None:
        if not isinstance(value, dict):
            raise AuthorityProtocolError(detail=f"{where}: not a JSON object")
        self._value = value
        self._where = where

    def _broken(self, key: str, why: str) -> AuthorityProtocolError:
        return AuthorityProtocolError(detail=f"{self._where}.{key}: {why}")

    def _required(self, key: str) -> Any:
        if self._value.get(key) is None:
            raise self._broken(key, "missing")
        return self._value[key]

    def text(self, key: str, *, max_len: int = MAX_TEXT, pattern: re.Pattern | None = None) -> str:
        value = self._required(key)
        if not isinstance(value, str) or not value:
            raise self._broken(key, "not a non-empty string")
        if len(value) > max_len:
            raise self._broken(key, "too long")
        if pattern is not None and not pattern.fullmatch(value):
            raise self._broken(key, "malformed")
        if UNSAFE_TEXT.search(value):
            raise self._broken(key, "holds control characters")
        return value

    def optional_text(self, key: str, *, pattern: re.Pattern | None = None) -> str | None:
        return None if self._value.get(key) is None else self.text(key, pattern=pattern)

    def flag(self, key: str) -> bool:
        value = self._required(key)
        if not isinstance(value, bool):
            raise self._broken(key, "not a boolean")
        return value

    def count(self, key: str, *, maximum: int) -> int:
        value = self._required(key)
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= maximum:
            raise self._broken(key, f"not an integer from 0 to {maximum}")
        return value

    def optional_count(self, key: str, *, maximum: int) -> int | None:
        return None if self._value.get(key) is None else self.count(key, maximum=maximum)

    def optional_seconds(self, key: str) -> float | None:
        value = self._value.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise self._broken(key, "not a number")
        # Compared before any conversion: float() of a 400-digit integer overflows.
        if not 0 <= value <= MAX_RETRY_AFTER:  # False for NaN too
            raise self._broken(key, "out of range")
        return float(value)

    def timestamp(self, key: str) -> dt.datetime:
        value = self.text(key, max_len=64)
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            raise self._broken(key, "not an ISO 8601 time") from None

    def binary(self, key: str, *, max_len: int) -> bytes:
        return self._decode(key, self._required(key), max_len)

    def _decode(self, key: str, value: Any, max_len: int) -> bytes:
        if not isinstance(value, str) or not value:
            raise self._broken(key, "not a non-empty base64 string")
        if len(value) > (max_len + 2) // 3 * 4:
            raise self._broken(key, "too large")
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise self._broken(key, "invalid base64") from None

    def certificate(self, key: str) -> bytes:
        return self._check_der(key, self.binary(key, max_len=MAX_CERTIFICATE))

    def _check_der(self, key: str, data: bytes) -> bytes:
        if not _is_der_sequence(data):
            raise self._broken(key, "not a DER certificate")
        return data

    def _list(self, key: str, *, max_items: int, min_items: int = 0) -> list[Any]:
        value = self._required(key)
        if not isinstance(value, list):
            raise self._broken(key, "not a list")
        if not min_items <= len(value) <= max_items:
            raise self._broken(key, f"not {min_items} to {max_items} items")
        return value

    def strings(self, key: str, *, max_items: int, max_len: int) -> tuple[str, ...]:
        items = self._list(key, max_items=max_items)
        for item in items:
            if not isinstance(item, str) or not item or len(item) > max_len:
                raise self._broken(key, "holds something other than a short string")
            if UNSAFE_TEXT.search(item):
                raise self._broken(key, "holds control characters")
        return tuple(items)

    def certificates(
        self, key: str, *, min_items: int = 0, max_items: int = MAX_CERTIFICATES
    ) -> tuple[bytes, ...]:
        items = self._list(key, max_items=max_items, min_items=min_items)
        return tuple(
            self._check_der(key, self._decode(key, item, MAX_CERTIFICATE)) for item in items
        )

    def optional_certificates(self, key: str, *, max_items: int) -> tuple[bytes, ...]:
        if self._value.get(key) is None:
            return ()
        return self.certificates(key, max_items=max_items)

    def objects(self, key: str, *, max_items: int, min_items: int = 0) -> list[_Fields]:
        items = self._list(key, max_items=max_items, min_items=min_items)
        return [_Fields(item, f"{self._where}.{key}[{i}]") for i, item in enumerate(items)]


def _application_status(
    fields: _Fields, headers: httpx.Headers, *, number: str | None = None
) -> ApplicationStatus:
    found = fields.text("number", pattern=NUMBER_PATTERN)
    if number is not None and found != number:
        raise AuthorityProtocolError(detail="status: answer is about another application")
    raw_state = fields.text("state", max_len=32)
    try:
        state = ApplicationState(raw_state)
    except ValueError:
        raise AuthorityProtocolError(detail="status.state: unknown state") from None
    retry_after = fields.optional_seconds("retry_after")
    if retry_after is None:
        retry_after = retry_after_seconds(headers)
    return ApplicationStatus(
        number=found,
        state=state,
        reason=fields.optional_text("reason"),
        retry_after=retry_after,
        attempts_left=fields.optional_count("attempts_left", maximum=MAX_CODE_ATTEMPTS),
    )


def _issued(fields: _Fields, number: str) -> IssuedCertificates:
    certificates = tuple(
        IssuedCertificate(
            usage=item.text("usage", max_len=8),
            certificate=item.certificate("certificate"),
        )
        for item in fields.objects("certificates", max_items=MAX_CERTIFICATES, min_items=1)
    )
    for issued in certificates:
        if issued.usage not in USAGES:
            raise AuthorityProtocolError(detail="certificates.usage: unknown usage")
    return IssuedCertificates(
        number=number, certificates=certificates, chain=fields.certificates("chain")
    )


def _refusal(answer: _Answer, where: str, *, with_session: bool) -> QoltanbaError:
    """The error for a final answer that is not a success (5xx were retried before)."""
    if 300 <= answer.status < 400:
        return AuthorityProtocolError(detail=f"{where}: redirect (HTTP {answer.status}) refused")
    if answer.status == 401 and with_session:
        return SessionExpired()
    try:
        fields = _Fields(_json_object(answer, where), f"{where}.error")
        error = fields.text("error", pattern=ERROR_PATTERN)
    except AuthorityProtocolError:
        return AuthorityProtocolError(detail=f"{where}: HTTP {answer.status}")
    if (answer.status, error, where) == (409, "application_open", "submit"):
        # Another application for these current keys is still open (another folder, another
        # device): filing a second one is refused; the open one goes on where it was started.
        number = fields.optional_text("application", pattern=NUMBER_PATTERN)
        if number is None:
            return AuthorityProtocolError(detail=f"{where}: HTTP 409 {error} without a number")
        return RenewalBusy("renewal_open_at_authority", application=number)
    if (answer.status, error, where) == (422, "code_wrong", "confirm"):
        return CodeWrong(attempts_left=fields.count("attempts_left", maximum=MAX_CODE_ATTEMPTS))
    refused = (answer.status, error) == (422, "rejected") or (
        (answer.status, error, where) == (403, "login_refused", "login")
    )
    if refused and where in REFUSABLE:
        reason = fields.optional_text("reason") or fields.optional_text("message") or error
        return ApplicationRejected(reason=reason)
    return AuthorityProtocolError(detail=f"{where}: HTTP {answer.status} {error}")


def _argument(value: Any, pattern: re.Pattern, what: str) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise UsageError(detail=f"malformed {what}")
    return value


def _b64(data: bytes, what: str) -> str:
    if not isinstance(data, bytes | bytearray) or not data:
        raise UsageError(detail=f"{what} must be non-empty bytes")
    return base64.b64encode(data).decode("ascii")


class HttpAuthority:
    """A `DemoAuthority` over HTTP (interface.py's API); use as ``async with HttpAuthority(...)``.
    Against an authority that is not a demo, ``demo_codes`` is empty and ``demo_issue_holder``
    an AuthorityProtocolError (the demo routes are not there).

    ``transport`` replaces the network (``httpx.ASGITransport(app=...)`` in demo mode,
    ``httpx.MockTransport`` in tests); ``sleep`` and ``random`` are the seams of the retry loop.
    ``timeout``: httpx's per connect / write / read timeout, and ATTEMPT_DEADLINE_FACTOR times it
    one attempt's deadline. ``call_deadline``: the overall bound of one public call, every attempt
    and every pause included (module docstring). TLS is always verified (httpx's default; this
    class never turns it off)."""

    # The in-process demo's ASGI app when this client talks to it (builtin.DemoAdapter): its
    # OCSP and CRLs answer a renewal's revocation check without starting a second authority.
    in_process_app: Any = None

    def __init__(
        self,
        base_url: str,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
        max_attempts: int = 5,
        max_wait: float = MAX_RETRY_WAIT,
        call_deadline: float = CALL_DEADLINE,
        sleep: Sleep = anyio.sleep,
        random: Callable[[], float] = _random.random,
    ) -> None:
        try:
            url = httpx.URL(base_url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UsageError(detail="authority URL is malformed") from exc
        if url.scheme not in ("http", "https") or not url.host:
            raise UsageError(detail="authority URL must be http(s)://host[/path]")
        if not (timeout > 0 and max_wait >= 0 and max_attempts >= 1 and call_deadline > 0):
            raise UsageError(
                detail="timeout, max_wait, max_attempts and call_deadline must be positive"
            )
        self.base_url = str(url)
        self._max_attempts = int(max_attempts)
        self._max_wait = float(max_wait)
        self._deadline = float(timeout) * ATTEMPT_DEADLINE_FACTOR
        self.call_deadline = float(call_deadline)
        self._sleep = sleep
        self._random = random
        self._client = httpx.AsyncClient(
            base_url=url,
            transport=transport,
            timeout=httpx.Timeout(timeout),
            follow_redirects=False,
            headers={
                "Accept": "application/json",
                "Accept-Encoding": "identity",
                "User-Agent": f"Qoltanba/{__version__}",
            },
        )

    async def __aenter__(self) -> HttpAuthority:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- the Authority protocol -----------------------------------------------------------------

    async def info(self) -> AuthorityInfo:
        fields = await self._call("GET", "/v1/authority", "info")
        return AuthorityInfo(
            name=fields.text("name", max_len=200),
            demo=fields.flag("demo"),
            schemes=fields.strings("schemes", max_items=16, max_len=64),
            ca_certificates=fields.certificates("ca_certificates"),
            accepted_issuers=fields.optional_certificates(
                "accepted_issuers", max_items=MAX_ACCEPTED_ISSUERS
            ),
        )

    async def challenge(self) -> bytes:
        fields = await self._call(
            "POST", "/v1/login/challenge", "challenge", idempotency_key=_new_key()
        )
        challenge = fields.binary("challenge", max_len=MAX_CHALLENGE)
        fields.timestamp("expires_at")
        return challenge

    async def login(self, signed_challenge: bytes) -> str:
        fields = await self._call(
            "POST",
            "/v1/login",
            "login",
            payload={"cms": _b64(signed_challenge, "signed challenge")},
            idempotency_key=_new_key(),
        )
        session = fields.text("session", max_len=4096, pattern=TOKEN_PATTERN)
        fields.timestamp("expires_at")
        return session

    async def submit(
        self, session: str, application: bytes, idempotency_key: str
    ) -> ApplicationStatus:
        answer = await self._exchange_checked(
            "POST",
            "/v1/applications",
            "submit",
            payload={"cms": _b64(application, "application")},
            session=session,
            idempotency_key=idempotency_key,
        )
        return _application_status(self._accepted(answer, "submit", True), answer.headers)

    async def confirm(
        self, session: str, number: str, code: str, idempotency_key: str
    ) -> ApplicationStatus:
        if not isinstance(code, str) or not 1 <= len(code) <= 64:
            raise UsageError(detail="malformed one-time code")
        answer = await self._exchange_checked(
            "POST",
            f"{_application_path(number)}/confirm",
            "confirm",
            payload={"code": code},
            session=session,
            idempotency_key=idempotency_key,
        )
        fields = self._accepted(answer, "confirm", True)
        return _application_status(fields, answer.headers, number=number)

    async def status(self, session: str, number: str) -> ApplicationStatus:
        answer = await self._exchange_checked(
            "GET", _application_path(number), "status", session=session
        )
        fields = self._accepted(answer, "status", True)
        return _application_status(fields, answer.headers, number=number)

    async def download(self, session: str, number: str) -> IssuedCertificates:
        fields = await self._call(
            "GET", f"{_application_path(number)}/certificates", "download", session=session
        )
        if fields.text("number", pattern=NUMBER_PATTERN) != number:
            raise AuthorityProtocolError(detail="download: answer is about another application")
        return _issued(fields, number)

    async def demo_codes(self, number: str) -> list[str]:
        path = f"/v1/demo/outbox/{quote(_argument(number, NUMBER_PATTERN, 'number'), safe='')}"
        answer = await self._request("GET", path)
        if answer.status == 404:
            return []  # not a demo authority, or nothing sent yet
        codes = []
        for message in self._accepted(answer, "outbox", False).objects("messages", max_items=100):
            message.text("text")
            codes.append(message.text("code", max_len=32, pattern=CODE_PATTERN))
        return codes

    async def revoke(self, signed_revocation: bytes) -> tuple[str, ...]:
        """`RevokingAuthority`: revoke the holder's certificates that the signed revocation
        document names; the revoked serials. AuthorityProtocolError("revocation_unavailable")
        when this authority offers no such call."""
        answer = await self._exchange_checked(
            "POST",
            "/v1/revocations",
            "revoke",
            payload={"cms": _b64(signed_revocation, "revocation")},
            idempotency_key=_new_key(),
        )
        if answer.status in (404, 405):
            raise AuthorityProtocolError("revocation_unavailable")
        fields = self._accepted(answer, "revoke", False)
        serials = []
        for item in fields.objects("revoked", max_items=16, min_items=1):
            serials.append(item.text("serial", max_len=64, pattern=SERIAL_PATTERN))
            item.timestamp("revoked_at")
        return tuple(serials)

    # --- demo only ------------------------------------------------------------------------------

    async def demo_issue_holder(
        self, scheme: str, holder: str, days_left: int, requests: list[tuple[str, bytes]]
    ) -> IssuedCertificates:
        """Demo only: have the demo authority issue a demo holder's *current* certificates for
        these requests ((usage, CSR DER) pairs). The result's ``number`` is "" (no application)."""
        if isinstance(days_left, bool) or not isinstance(days_left, int):
            raise UsageError(detail="days_left must be an integer")
        fields = await self._call(
            "POST",
            "/v1/demo/holders",
            "demo_holder",
            payload={
                "scheme": scheme,
                "holder": holder,
                "days_left": days_left,
                "requests": [{"usage": u, "csr": _b64(csr, "request")} for u, csr in requests],
            },
            idempotency_key=_new_key(),
        )
        return _issued(fields, "")

    # --- the one way out to the network ---------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        where: str,
        *,
        payload: Any = None,
        session: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Fields:
        answer = await self._exchange_checked(
            method, path, where, payload=payload, session=session, idempotency_key=idempotency_key
        )
        return self._accepted(answer, where, session is not None)

    async def _exchange_checked(
        self,
        method: str,
        path: str,
        where: str,
        *,
        payload: Any = None,
        session: str | None = None,
        idempotency_key: str | None = None,
    ) -> _Answer:
        headers: dict[str, str] = {}
        if session is not None:
            headers["Authorization"] = "Bearer " + _argument(session, TOKEN_PATTERN, "session")
        if idempotency_key is not None:
            headers["Idempotency-Key"] = _argument(idempotency_key, TOKEN_PATTERN, "key")
        return await self._request(method, path, payload=payload, headers=headers)

    @staticmethod
    def _accepted(answer: _Answer, where: str, with_session: bool) -> _Fields:
        if answer.status in (200, 201):
            return _Fields(_json_object(answer, where), where)
        raise _refusal(answer, where, with_session=with_session)

    async def _request(
        self,
        method: str,
        path: str,
        *,
        payload: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> _Answer:
        """One call, retried while the failure is transient, all of it within ``call_deadline``;
        the request (and so its Idempotency-Key) is the same on every attempt."""
        content = None
        all_headers = dict(headers or {})
        if payload is not None:
            content = json.dumps(payload, separators=(",", ":")).encode("utf-8")
            all_headers["Content-Type"] = "application/json"
        progress = _Progress()
        try:
            async with _deadline(self.call_deadline):
                return await self._attempts(method, path, content, all_headers, progress)
        except TimeoutError:
            # Only the call deadline gets here: each attempt's own is a _Transient inside.
            if progress.pausing:
                log.info("%s %s: %s; out of time before another attempt", method, path, progress)
                raise AuthorityUnreachable(retry_after=progress.hint) from None
            log.info(
                "%s %s: no answer within the call deadline (%.1f s, attempt %d)",
                *(method, path, self.call_deadline, progress.attempt),
            )
            raise AuthorityUnreachable(
                "authority_call_timeout",
                seconds=_seconds(self.call_deadline),
                retry_after=progress.hint,
            ) from None

    async def _attempts(
        self,
        method: str,
        path: str,
        content: bytes | None,
        headers: Mapping[str, str],
        progress: _Progress,
    ) -> _Answer:
        while True:
            progress.attempt += 1
            progress.pausing = False
            cause: BaseException | None = None
            try:
                answer = await self._attempt(method, path, content, headers)
            except _Transient as failure:
                why, cause = str(failure), failure.__cause__
            else:
                if not _retryable(answer.status):
                    log.debug("%s %s -> %d", method, path, answer.status)
                    return answer
                why = f"HTTP {answer.status}"
                progress.hint = retry_after_seconds(answer.headers)
            progress.why = why
            if progress.attempt >= self._max_attempts:
                log.info(
                    "%s %s: %s; giving up after %d attempts", method, path, why, progress.attempt
                )
                raise AuthorityUnreachable(retry_after=progress.hint) from cause
            delay = self._delay(progress.attempt, progress.hint)
            log.info(
                "%s %s: %s (attempt %d of %d); again in %.1f s",
                *(method, path, why, progress.attempt, self._max_attempts, delay),
            )
            progress.pausing = True
            await self._sleep(delay)

    async def _attempt(
        self, method: str, path: str, content: bytes | None, headers: Mapping[str, str]
    ) -> _Answer:
        with _httpx_errors():
            async with _deadline(self._deadline):
                request = self._client.build_request(method, path, content=content, headers=headers)
                response = await self._client.send(request, stream=True)
                try:
                    body = await _read_capped(response)
                finally:
                    await response.aclose()
        return _Answer(response.status_code, response.headers, body)

    def _delay(self, attempt: int, hint: float | None) -> float:
        """Retry-After when the authority gave one, else full jitter; never above max_wait."""
        if hint is not None:
            return min(hint, self._max_wait)
        ceiling = min(self._max_wait, BACKOFF_BASE * 2 ** (attempt - 1))
        return min(max(self._random(), 0.0), 1.0) * ceiling


@dataclass
class _Progress:
    """How far one call got: what the call deadline's handler reports."""

    attempt: int = 0
    pausing: bool = False  # between two attempts (after a failure), not inside one
    hint: float | None = None  # the authority's last Retry-After
    why: str = "no answer"

    def __str__(self) -> str:
        return f"{self.why} (attempt {self.attempt})"


def _seconds(value: float) -> str:
    """A duration for a message: "5", "2.5"."""
    return f"{value:.1f}".removesuffix(".0")


@contextlib.asynccontextmanager
async def _deadline(seconds: float) -> AsyncIterator[None]:
    """A scope that raises TimeoutError after ``seconds``: asyncio's own under asyncio (anyio's
    asyncio backend, a sizeable import, stays unloaded on the command line's in-process path),
    anyio's under any other event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        with anyio.fail_after(seconds):
            yield
        return
    async with asyncio.timeout(seconds):
        yield


def _application_path(number: str) -> str:
    return f"/v1/applications/{quote(_argument(number, NUMBER_PATTERN, 'number'), safe='')}"


def _new_key() -> str:
    return str(uuid.uuid4())
