"""Answers other than success, as the HTTP API spells them: {"error": code, "message": ...}."""

from __future__ import annotations

from typing import Any


class Problem(Exception):
    """A 4xx/5xx answer: status, error code, one-line English message, extra JSON fields."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(error, message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers or {}
        self.extra = extra

    @property
    def body(self) -> dict[str, Any]:
        return {"error": self.error, "message": self.message, **self.extra}


class Refusal(Problem):
    """422 {"error": "rejected", "reason": ...}: the authority said no, and changed nothing."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(422, "rejected", message, reason=reason)
        self.reason = reason


def bad_request(message: str) -> Problem:
    return Problem(400, "bad_request", message)


def session_expired() -> Problem:
    return Problem(
        401,
        "session_expired",
        "no valid session: log in again with the authentication key",
        headers={"WWW-Authenticate": "Bearer"},
    )


def not_found(what: str = "no such application") -> Problem:
    return Problem(404, "not_found", what)


# Every refusal reason the mock gives, with its one-line message (the client translates the code).
REASONS: dict[str, str] = {
    "signature_invalid": "the CMS signature is malformed or does not verify",
    "challenge_unknown": "this login challenge was not issued here",
    "challenge_expired": "the login challenge expired: ask for a new one",
    "challenge_reused": "this login challenge was already used: ask for a new one",
    "certificate_untrusted": "the certificate does not chain to a CA this authority trusts",
    "certificate_expired": "the certificate has expired: online renewal is no longer possible",
    "certificate_not_yet_valid": "the certificate is not valid yet",
    "certificate_revoked": "the certificate has been revoked",
    "certificate_wrong_usage": "this key cannot be used for this (authentication vs signing)",
    "subject_mismatch": "the signer is not the person who logged in",
    "document_malformed": "the application document is not a well-formed renewal application",
    "scheme_not_issued": "this authority does not issue certificates of this key scheme",
    "email_invalid": "the e-mail address is not valid",
    "email_mismatch": "the e-mail in a request differs from the application's",
    "locality_missing": "the locality is missing",
    "storage_unknown": "the key storage kind is unknown",
    "current_subject_mismatch": "a current certificate belongs to someone else",
    "current_usage_mismatch": "a current certificate is listed for a usage it does not have",
    "signer_not_listed": "the signing certificate is not among the application's current ones",
    "requests_wrong_usage": "the requests do not match the key scheme (RSA: auth + sign)",
    "request_invalid": "a certificate request is malformed",
    "request_no_possession": "a request's signature does not prove possession of its key",
    "request_wrong_scheme": "a request's key is not of the current key scheme",
    "subject_changed": "a request's subject differs from the current certificate's",
    "key_not_new": "a request certifies a current key again: generate a new key",
    "key_duplicated": "two requests carry the same key",
    "holder_unknown": "unknown holder kind",
    "holder_subject_mismatch": "the subject does not fit the holder kind (BIN for legal entities)",
    "too_many_codes": "too many wrong one-time codes: file a new application",
    "not_confirmed": "the application was not confirmed in time",
}


def refusal(reason: str) -> Refusal:
    return Refusal(reason, REASONS.get(reason, "the authority rejected the application"))
