"""Switchable faults, so that clients can be tested against a misbehaving authority.

Set them in-process (``app.state.faults``) or, when the app has test endpoints, over HTTP
(PUT/DELETE /v1/_test/faults). Transport faults (delay, error status, dropped connection) hit every
request except /v1/_test/*; the others act on the next application or issuance.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

TEST_PREFIX = "/v1/_test/"
# The scope extension a server adds so the app can drop the connection (see server.py).
DROP_EXTENSION = "qoltanba.drop_connection"
ERROR_STATUSES = (429, 500, 502, 503, 504)
REJECT_STAGES = ("submit", "processing")

try:  # in-process, look exactly like the transport error httpx raises when a server hangs up
    from httpx import RemoteProtocolError as _TransportError
except ImportError:  # pragma: no cover - served without httpx installed

    class _TransportError(Exception):  # type: ignore[no-redef]
        pass


class ConnectionDropped(_TransportError, ConnectionResetError):
    """Raised out of the ASGI app for a "dropped connection" when no server can hang up for it."""


@dataclass
class Faults:
    """What goes wrong next. Counters count down; booleans hold until cleared."""

    delay: float = 0.0  # seconds before every answer
    error_status: int | None = None  # 429 or 5xx, for the next error_count requests
    error_count: int = 0
    retry_after: str | None = None  # Retry-After value: seconds or an HTTP-date
    drop_count: int = 0  # the next requests get no answer at all
    stuck: bool = False  # processing never ends
    reject_reason: str | None = None  # the next application is rejected with this reason
    reject_at: str = "submit"  # ... at once, or when processing ends
    wrong_key: int = 0  # the next issuances certify a key nobody holds
    foreign_ca: int = 0  # the next issuances are signed by the untrusted EVIL CA

    def as_json(self) -> dict[str, Any]:
        error = None
        if self.error_status is not None and self.error_count > 0:
            error = {
                "status": self.error_status,
                "count": self.error_count,
                "retry_after": self.retry_after,
            }
        reject = (
            {"reason": self.reject_reason, "at": self.reject_at} if self.reject_reason else None
        )
        return {
            "delay": self.delay,
            "error": error,
            "drop": self.drop_count,
            "stuck": self.stuck,
            "reject": reject,
            "wrong_key": self.wrong_key,
            "foreign_ca": self.foreign_ca,
        }

    @classmethod
    def from_json(cls, data: Any) -> Faults:
        """Faults from the PUT body; ValueError saying what is wrong."""
        if not isinstance(data, dict):
            raise ValueError("faults must be a JSON object")
        known = {"delay", "error", "drop", "stuck", "reject", "wrong_key", "foreign_ca"}
        if set(data) - known:
            raise ValueError(f"unknown faults: {', '.join(sorted(set(data) - known))}")
        faults = cls()
        delay = data.get("delay", 0)
        if isinstance(delay, bool) or not isinstance(delay, int | float) or not 0 <= delay <= 60:
            raise ValueError("delay is a number of seconds from 0 to 60")
        faults.delay = float(delay)
        for name, attribute in (("drop", "drop_count"), ("wrong_key", "wrong_key")):
            setattr(faults, attribute, _count(data.get(name, 0), name))
        faults.foreign_ca = _count(data.get("foreign_ca", 0), "foreign_ca")
        stuck = data.get("stuck", False)
        if not isinstance(stuck, bool):
            raise ValueError("stuck is true or false")
        faults.stuck = stuck
        error = data.get("error")
        if error is not None:
            if not isinstance(error, dict) or set(error) - {"status", "count", "retry_after"}:
                raise ValueError("error is {status, count, retry_after}")
            if error.get("status") not in ERROR_STATUSES:
                raise ValueError(f"error.status is one of {ERROR_STATUSES}")
            retry_after = error.get("retry_after")
            if retry_after is not None and (not isinstance(retry_after, str) or not retry_after):
                raise ValueError("error.retry_after is seconds or an HTTP-date, as text")
            faults.error_status = error["status"]
            faults.error_count = _count(error.get("count", 1), "error.count")
            faults.retry_after = retry_after
        reject = data.get("reject")
        if reject is not None:
            if not isinstance(reject, dict) or set(reject) - {"reason", "at"}:
                raise ValueError("reject is {reason, at}")
            reason, at = reject.get("reason"), reject.get("at", "submit")
            if not isinstance(reason, str) or not reason or at not in REJECT_STAGES:
                raise ValueError(f"reject.reason is text, reject.at one of {REJECT_STAGES}")
            faults.reject_reason, faults.reject_at = reason, at
        return faults

    def take_reject(self) -> tuple[str, str] | None:
        """The (reason, stage) for the application being filed now, once."""
        if not self.reject_reason:
            return None
        taken = (self.reject_reason, self.reject_at)
        self.reject_reason, self.reject_at = None, "submit"
        return taken

    def take_wrong_key(self) -> bool:
        if self.wrong_key <= 0:
            return False
        self.wrong_key -= 1
        return True

    def take_foreign_ca(self) -> bool:
        if self.foreign_ca <= 0:
            return False
        self.foreign_ca -= 1
        return True


def _count(value: Any, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 1000:
        raise ValueError(f"{name} is a whole number from 0 to 1000")
    return value


_ERROR_CODES = {429: "too_many_requests", 500: "internal"}


async def drop_connection(scope: Scope) -> None:
    """Hang up without an answer: through the server when it lets us, else by raising."""
    hang_up = scope.get("extensions", {}).get(DROP_EXTENSION)
    if hang_up is None:
        raise ConnectionDropped("connection dropped (test fault)")
    hang_up()
    for _ in range(3):  # let the server see the closed connection before the app returns
        await anyio.sleep(0)


class FaultMiddleware:
    """Applies the transport faults of ``app.state.faults`` before the request is handled."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(TEST_PREFIX):
            await self.app(scope, receive, send)
            return
        faults: Faults = scope["app"].state.faults
        if faults.delay > 0:
            await anyio.sleep(faults.delay)
        if faults.drop_count > 0:
            faults.drop_count -= 1
            await drop_connection(scope)
            return
        if faults.error_status is not None and faults.error_count > 0:
            faults.error_count -= 1
            status = faults.error_status
            headers = {}
            retry_after = faults.retry_after or ("1" if status in (429, 503) else None)
            if retry_after:
                headers["Retry-After"] = retry_after
            body = {
                "error": _ERROR_CODES.get(status, "unavailable"),
                "message": "the authority is not answering now (test fault); try again later",
            }
            await JSONResponse(body, status, headers)(scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimitMiddleware:
    """Refuses a request body over ``limit`` bytes with 413, before anything reads it whole."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > self.limit:
                await self._too_large(scope, receive, send)
                return
        delivered = False

        async def replay() -> MutableMapping[str, Any]:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {"error": "too_large", "message": f"the request body is over {self.limit} bytes"}
        await JSONResponse(body, 413, {"Connection": "close"})(scope, receive, send)
