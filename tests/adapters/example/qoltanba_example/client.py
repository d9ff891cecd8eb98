"""`ExampleAuthority`: a `DemoAuthority` over the example's JSON-lines protocol (wire.py).

Every answer is checked before a dataclass is built, and only Qoltanba's errors leave: a refused
connection, a reset or a call that outlives its deadline is AuthorityUnreachable; a broken answer
is AuthorityProtocolError; the authority's refusals map to ApplicationRejected, CodeWrong,
SessionExpired and RenewalBusy as the `Authority` Protocol lists them.
"""

from __future__ import annotations

import asyncio
import contextlib
from types import TracebackType
from typing import Any, Self

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

from . import wire

USAGES = frozenset({"auth", "sign", "both"})


class ExampleAuthority:
    """The example authority at ``host:port``; each call is one connection, bounded by
    ``call_deadline`` seconds as a whole (connecting, sending, reading the answer)."""

    def __init__(self, host: str, port: int, *, call_deadline: float = 30.0) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise UsageError(detail="the example authority runs on this machine only")
        self.host, self.port, self.call_deadline = host, port, call_deadline

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Nothing stays open between calls."""

    # --- the one way out ------------------------------------------------------------------------

    async def _call(self, op: str, **arguments: Any) -> dict[str, Any]:
        try:
            async with asyncio.timeout(self.call_deadline):
                line = await self._exchange(wire.encode({"op": op, **arguments}))
        except TimeoutError:
            raise AuthorityUnreachable(
                "authority_call_timeout", seconds=f"{self.call_deadline:g}", retry_after=None
            ) from None
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise AuthorityUnreachable(retry_after=None, detail=type(exc).__name__) from exc
        try:
            answer = wire.decode(line)
        except (UnicodeDecodeError, ValueError) as exc:
            raise AuthorityProtocolError(detail=f"{op}: not a JSON object") from exc
        if answer.get("ok") is True:
            return answer
        raise _refusal(op, answer)

    async def _exchange(self, request: bytes) -> bytes:
        reader, writer = await asyncio.open_connection(self.host, self.port, limit=wire.MAX_LINE)
        try:
            writer.write(request)
            await writer.drain()
            try:
                line = await reader.readuntil(b"\n")
            except asyncio.LimitOverrunError as exc:
                raise AuthorityProtocolError(detail="answer too long") from exc
            return line
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    # --- the Authority protocol -----------------------------------------------------------------

    async def info(self) -> AuthorityInfo:
        answer = await self._call("info")
        return AuthorityInfo(
            name=_text(answer, "name"),
            demo=_flag(answer, "demo"),
            schemes=tuple(_text_list(answer, "schemes")),
            ca_certificates=_binaries(answer, "ca_certificates"),
            accepted_issuers=_binaries(answer, "accepted_issuers"),
        )

    async def challenge(self) -> bytes:
        return _binary(await self._call("challenge"), "challenge")

    async def login(self, signed_challenge: bytes) -> str:
        return _text(await self._call("login", cms=wire.b64(signed_challenge)), "session")

    async def submit(
        self, session: str, application: bytes, idempotency_key: str
    ) -> ApplicationStatus:
        answer = await self._call(
            "submit", session=session, key=idempotency_key, cms=wire.b64(application)
        )
        return _status(answer)

    async def confirm(
        self, session: str, number: str, code: str, idempotency_key: str
    ) -> ApplicationStatus:
        answer = await self._call(
            "confirm", session=session, number=number, key=idempotency_key, code=code
        )
        return _status(answer, number)

    async def status(self, session: str, number: str) -> ApplicationStatus:
        return _status(await self._call("status", session=session, number=number), number)

    async def download(self, session: str, number: str) -> IssuedCertificates:
        answer = await self._call("download", session=session, number=number)
        if answer.get("number") != number:
            raise AuthorityProtocolError(detail="download: answer about another application")
        return _issued(answer, number)

    # --- the demo -------------------------------------------------------------------------------

    async def demo_codes(self, number: str) -> list[str]:
        try:
            answer = await self._call("codes", number=number)
        except AuthorityProtocolError as error:
            if error.params.get("detail") in ("codes: not_demo", "codes: not_found"):
                return []  # not a demo (a real SMS), or nothing sent yet
            raise
        messages = answer.get("messages")
        if not isinstance(messages, list):
            raise AuthorityProtocolError(detail="codes: no messages")
        return [_text(m, "code") if isinstance(m, dict) else _broken("codes") for m in messages]

    async def demo_issue_holder(
        self, scheme: str, holder: str, days_left: int, requests: list[tuple[str, bytes]]
    ) -> IssuedCertificates:
        answer = await self._call(
            "holder",
            scheme=scheme,
            holder=holder,
            days_left=days_left,
            requests=[{"usage": usage, "csr": wire.b64(csr)} for usage, csr in requests],
        )
        return _issued(answer, "")


# --- reading answers ---------------------------------------------------------------------------


def _refusal(op: str, answer: dict[str, Any]) -> QoltanbaError:
    error = answer.get("error")
    if error == "rejected":
        return ApplicationRejected(reason=str(answer.get("reason") or "rejected")[:200])
    if error == "code_wrong" and isinstance(answer.get("attempts_left"), int):
        return CodeWrong(attempts_left=answer["attempts_left"])
    if error == "session_expired":
        return SessionExpired()
    if error == "application_open" and isinstance(answer.get("application"), str):
        return RenewalBusy("renewal_open_at_authority", application=answer["application"])
    return AuthorityProtocolError(detail=f"{op}: {str(error)[:64]}")


def _broken(where: str) -> Any:
    raise AuthorityProtocolError(detail=f"{where}: malformed answer")


def _text(answer: dict[str, Any], key: str) -> str:
    value = answer.get(key)
    if not isinstance(value, str) or not value or len(value) > 4096 or not value.isprintable():
        return _broken(key)
    return value


def _flag(answer: dict[str, Any], key: str) -> bool:
    value = answer.get(key)
    return value if isinstance(value, bool) else _broken(key)


def _text_list(answer: dict[str, Any], key: str) -> list[str]:
    value = answer.get(key)
    if not isinstance(value, list) or len(value) > 64:
        return _broken(key)
    return [_text({key: item}, key) for item in value]


def _binary(answer: dict[str, Any], key: str) -> bytes:
    try:
        return wire.unb64(answer.get(key))
    except ValueError:
        return _broken(key)


def _binaries(answer: dict[str, Any], key: str) -> tuple[bytes, ...]:
    value = answer.get(key)
    if not isinstance(value, list) or len(value) > 64:
        return _broken(key)
    return tuple(_binary({key: item}, key) for item in value)


def _status(answer: dict[str, Any], number: str | None = None) -> ApplicationStatus:
    found = _text(answer, "number")
    if number is not None and found != number:
        raise AuthorityProtocolError(detail="status: answer about another application")
    try:
        state = ApplicationState(answer.get("state"))
    except ValueError:
        return _broken("state")
    retry_after = answer.get("retry_after")
    if retry_after is not None and (
        isinstance(retry_after, bool)
        or not isinstance(retry_after, int | float)
        or not 0 <= retry_after <= 86400
    ):
        return _broken("retry_after")
    attempts = answer.get("attempts_left")
    if attempts is not None and (isinstance(attempts, bool) or not isinstance(attempts, int)):
        return _broken("attempts_left")
    reason = answer.get("reason")
    return ApplicationStatus(
        number=found,
        state=state,
        reason=_text(answer, "reason") if reason is not None else None,
        retry_after=float(retry_after) if retry_after is not None else None,
        attempts_left=attempts,
    )


def _issued(answer: dict[str, Any], number: str) -> IssuedCertificates:
    items = answer.get("certificates")
    if not isinstance(items, list) or not 1 <= len(items) <= 4:
        return _broken("certificates")
    certificates = []
    for item in items:
        if not isinstance(item, dict) or item.get("usage") not in USAGES:
            return _broken("certificates")
        certificates.append(IssuedCertificate(item["usage"], _binary(item, "certificate")))
    return IssuedCertificates(number, tuple(certificates), _binaries(answer, "chain"))
