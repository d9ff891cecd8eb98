"""The authority as Qoltanba sees it: one interface, whatever the transport (DESIGN.md).

The real pki.gov.kz renewal protocol is not public, so the wizard talks to an `Authority`; the mock
authority implements it over HTTP (in-process through httpx's ASGI transport in demo mode, or served
on a socket), and any other adapter, installed as a plug-in (`wizard.authority.adapters`, the
entry-point group ``qoltanba.authorities``; how: ADAPTERS.md beside this file), implements the same
Protocol. `DemoAuthority` adds what only a demo offers (its one-time codes, demo holders). Every
implementation must pass the contract suite shipped in `wizard.authority.testing`.

The HTTP API (documented as OpenAPI at GET /v1/openapi.json) — JSON bodies, binary as base64:

  GET  /v1/authority                       -> AuthorityInfo (accepted_issuers may be absent)
  POST /v1/login/challenge                 -> {"challenge": b64, "expires_at": iso}
  POST /v1/login {"cms": b64}              -> {"session": str, "expires_at": iso}
       the CMS (attached) signs the challenge bytes with the current AUTH key (GOST: its one key)
  POST /v1/applications {"cms": b64}       -> ApplicationStatus (201; 200 when replayed)
       Authorization: Bearer <session>; Idempotency-Key: <uuid>. The CMS, signed with the current
       SIGNING key, carries the application JSON (see `application_document`).
       One open application per current key set: while an application for the same current
       certificates is still open (submitted .. issued, not yet downloaded), a new one (another
       Idempotency-Key) is refused, nothing recorded:
       409 {"error": "application_open", "application": "<number>", "message": str}.
       A replay of the same Idempotency-Key still answers that application (200).
  POST /v1/applications/{number}/confirm {"code": "123456"}  -> ApplicationStatus
       Authorization, Idempotency-Key. A wrong code: 422 {"error": "code_wrong", ...}
  GET  /v1/applications/{number}           -> ApplicationStatus (Retry-After while processing)
  GET  /v1/applications/{number}/certificates -> IssuedCertificates (409 until issued)
  GET  /v1/demo/outbox/{number}            -> {"messages": [{"text": str, "code": str}]} (demo)
  POST /v1/demo/holders                    -> {"certificates": [{"usage", "certificate"}], ...}
       (demo only: issue a demo holder's *current* keys for `qoltanba demo-keys`)

Errors are JSON {"error": code, "message": str} with 4xx/5xx; 429 and 503 carry Retry-After.
Application states: submitted -> awaiting_code -> [awaiting_head] -> processing -> issued
-> downloaded; or rejected (with a reason) or lapsed (never confirmed).

Errors an implementation raises (wizard.errors): AuthorityUnreachable (retryable; .params has
retry_after seconds when the authority said so; also when a call outlives its deadline),
ApplicationRejected (reason), AuthorityProtocolError (a broken or hostile answer), SessionExpired
(log in again), CodeWrong (attempts_left), RenewalBusy("renewal_open_at_authority", application)
(submit: these keys already have an open application).

Every call is bounded in time as a whole (connecting, sending, reading the answer, every retry):
a server that answers one byte at a time ends in AuthorityUnreachable, never in a hung caller.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from types import TracebackType
from typing import Protocol, Self, runtime_checkable

# These two were declared here; they live in wizard.errors now and are still importable from here.
from wizard.errors import CodeWrong, SessionExpired  # noqa: F401


class ApplicationState(StrEnum):
    SUBMITTED = "submitted"
    AWAITING_CODE = "awaiting_code"
    AWAITING_HEAD = "awaiting_head"
    PROCESSING = "processing"
    ISSUED = "issued"
    DOWNLOADED = "downloaded"
    REJECTED = "rejected"
    LAPSED = "lapsed"

    @property
    def final(self) -> bool:
        return self in (ApplicationState.REJECTED, ApplicationState.LAPSED)


@dataclass(frozen=True)
class AuthorityInfo:
    """What an authority says about itself. Its word is never a reason to trust it: certificates
    from a non-demo authority must chain to the NCA's pinned roots (or roots its adapter declares),
    whatever ``ca_certificates`` holds."""

    name: str
    demo: bool  # a demo authority: its certificates are worth nothing outside demo mode
    schemes: tuple[str, ...]  # Scheme values it issues: "RSA", "GOST 2015 512"
    ca_certificates: tuple[bytes, ...]  # DER: issuing CA(s) first, root(s) last
    # DER: the CAs whose current certificates it renews (which keys it can take); () = not said
    accepted_issuers: tuple[bytes, ...] = ()


@dataclass(frozen=True)
class ApplicationStatus:
    number: str
    state: ApplicationState
    reason: str | None = None  # for rejected / lapsed
    retry_after: float | None = None  # seconds until asking again makes sense
    attempts_left: int | None = None  # one-time code attempts


@dataclass(frozen=True)
class IssuedCertificate:
    usage: str  # "auth", "sign" or "both"
    certificate: bytes  # DER


@dataclass(frozen=True)
class IssuedCertificates:
    number: str
    certificates: tuple[IssuedCertificate, ...]
    chain: tuple[bytes, ...] = field(default=())  # DER: issuing CA first, root last


@runtime_checkable
class Authority(Protocol):
    """What Qoltanba needs from a certification authority, whatever the transport.

    Every call may raise AuthorityUnreachable (retryable: no answer, an answer too slow, 429/5xx;
    ``params["retry_after"]`` when the authority said how long to wait; also when a call outlives
    its overall deadline) and AuthorityProtocolError (an answer that is broken, hostile or not
    what the call expects); each method lists the rest. Arguments the caller got wrong (a
    malformed number or session) are UsageError. Nothing else escapes: an adapter maps its
    transport's exceptions to these (wizard.errors). Use it as ``async with authority:`` or call
    ``aclose()`` when done."""

    async def info(self) -> AuthorityInfo:
        """Who the authority is, whether it is a demo, what it issues, its CA certificates and the
        issuers of current certificates it accepts. Raises only the errors every call may."""

    async def challenge(self) -> bytes:
        """A fresh login challenge to be signed (CMS) with the current AUTH key (GOST: its one
        key). Raises only the errors every call may."""

    async def login(self, signed_challenge: bytes) -> str:
        """A session for the holder of the key that signed the challenge.
        Raises ApplicationRejected (``reason``) when the key is not acceptable (untrusted,
        expired, revoked, not an authentication key) or the challenge is unknown, expired or
        already used."""

    async def submit(
        self, session: str, application: bytes, idempotency_key: str
    ) -> ApplicationStatus:
        """File a renewal application (CMS signed with the current signing key). Replaying the
        same idempotency key returns the same application; never a second one.
        Raises SessionExpired (log in again), ApplicationRejected (``reason``: anything a real
        authority refuses, e.g. an old key again, a changed subject), and
        RenewalBusy("renewal_open_at_authority", application=number) when another application
        for the same current certificates (another idempotency key: another folder, another
        device) is still open at the authority; that one must be carried on, or end first."""

    async def confirm(
        self, session: str, number: str, code: str, idempotency_key: str
    ) -> ApplicationStatus:
        """Confirm with the one-time code; a replayed idempotency key never spends an attempt.
        Raises CodeWrong (``attempts_left``), SessionExpired, ApplicationRejected (too many wrong
        codes, or the application was rejected meanwhile)."""

    async def status(self, session: str, number: str) -> ApplicationStatus:
        """Where the application is now, with a retry hint while it is being processed.
        Raises SessionExpired; an application of someone else is AuthorityProtocolError."""

    async def download(self, session: str, number: str) -> IssuedCertificates:
        """The issued certificates with their chain (only once issued). Raises SessionExpired;
        AuthorityProtocolError before issue or for an answer about another application. The
        caller checks every certificate itself (key, subject, validity, chain to pinned roots)."""

    async def aclose(self) -> None:
        """Let go of connections and workers; no call follows. Raises nothing."""

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...


@runtime_checkable
class DemoAuthority(Authority, Protocol):
    """An authority that can also act the demo: it shows the one-time codes it "texts", and issues
    a demo holder's *current* keys (``qoltanba demo-keys``, the wizard's "make demo keys")."""

    async def demo_codes(self, number: str) -> list[str]:
        """The one-time codes "sent by SMS" for an application, oldest first; empty when the
        authority is not a demo or sent none yet. Raises only the errors every call may."""

    async def demo_issue_holder(
        self, scheme: str, holder: str, days_left: int, requests: list[tuple[str, bytes]]
    ) -> IssuedCertificates:
        """Issue a demo holder's current certificates for these requests ((usage, CSR DER)
        pairs): ``scheme`` a Scheme value, ``holder`` a Holder value, valid ``days_left`` more
        days (<= 0: already expired). The result's ``number`` is "" (no application).
        Raises ApplicationRejected (``reason``: scheme not issued, unknown holder, requests that
        do not fit) and UsageError for a malformed argument; AuthorityProtocolError when the
        authority is not a demo."""


REVOCATION_TYPE = "qoltanba.revocation.v1"
# Why a holder revokes (RFC 5280 CRLReason names, wizard.keys.revocation.REASON_CODES).
REVOCATION_REASONS = ("superseded", "key_compromise", "cessation_of_operation", "unspecified")


@runtime_checkable
class RevokingAuthority(Protocol):
    """An authority at which a holder can revoke their own certificates (the NCA's advice once
    the new keys work). Optional: an adapter without it is still an `Authority`.

        POST /v1/revocations {"cms": b64} -> {"revoked": [{"serial", "revoked_at", "reason"}]}

    The CMS (attached) is signed with one of the certificates it names and carries
    `revocation_document`; the authority then says revoked (OCSP, CRLs) for each."""

    async def revoke(self, signed_revocation: bytes) -> tuple[str, ...]:
        """Revoke what the signed document names; the revoked serials (hex). Raises
        ApplicationRejected (``reason``) when the signer may not revoke them."""


def revocation_document(certificates: list[bytes], reason: str = "superseded") -> bytes:
    """What a holder signs to revoke their certificates (DER), for ``reason``."""
    import base64

    document = {
        "type": REVOCATION_TYPE,
        "certificates": [base64.b64encode(c).decode("ascii") for c in certificates],
        "reason": reason,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode()


def application_document(
    *,
    idempotency_key: str,
    email: str,
    locality: str,
    storage: str,
    requests: list[tuple[str, bytes]],
    current_certificates: list[tuple[str, bytes]],
) -> bytes:
    """The application's canonical JSON (what the CMS signs): requests and current certificates
    as (usage, DER) pairs; storage is "pkcs12" for a file store or a token kind."""
    import base64

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode("ascii")

    document = {
        "type": "qoltanba.renewal.v1",
        "idempotency_key": idempotency_key,
        "email": email,
        "locality": locality,
        "storage": storage,
        "requests": [{"usage": u, "csr": b64(d)} for u, d in requests],
        "current": [{"usage": u, "certificate": b64(d)} for u, d in current_certificates],
    }
    return json.dumps(document, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()
