"""Qoltanba's errors: one tree, each error with a stable ``code`` that the UI and the command line
turn into a translated one-line message (catalogue key ``error.<code>``), and an exit code.

QoltanbaError                 anything Qoltanba itself refuses; .code, .params, .exit_code
├── UsageError                the command or call is malformed                         exit 2
├── WrongPassword             the PKCS#12 MAC does not verify with this password       exit 3
├── StoreError                a file that cannot be used as a key store                exit 4
│                             (missing, a folder, empty, too large, corrupt, not PKCS#12,
│                             unsupported scheme)
├── NotRenewable              the key cannot be renewed online (expired, revoked, ...)  exit 5
├── AuthorityUnreachable      the authority cannot be reached; the renewal is queued    exit 6
├── ApplicationRejected       the authority rejected the application                    exit 7
├── PasswordRejected          the new password breaks the rules                         exit 8
├── OutputRefused             the new keys cannot be written there (current folder,
│                             existing file, not writable)                              exit 9
└── AuthorityProtocolError    the authority answered something broken or hostile        exit 10

Only ``WrongPassword`` ever says "wrong password": it is raised after the MAC check alone.
"""

from __future__ import annotations

from typing import Any


class QoltanbaError(Exception):
    """Base of every error Qoltanba raises on purpose."""

    exit_code = 1
    default_code = "internal"

    def __init__(self, code: str | None = None, /, **params: Any) -> None:
        self.code = code or self.default_code
        self.params = params
        super().__init__(self.code, params)

    def __str__(self) -> str:
        return self.message("en")

    def message(self, lang: str) -> str:
        """The translated one-line message."""
        from wizard.i18n import translate

        return translate(f"error.{self.code}", lang, **self.params)


class UsageError(QoltanbaError):
    exit_code = 2
    default_code = "usage"


class WrongPassword(QoltanbaError):
    exit_code = 3
    default_code = "wrong_password"


class StoreError(QoltanbaError):
    exit_code = 4
    default_code = "store_corrupt"


class NotRenewable(QoltanbaError):
    """``params['reason']`` is a verdict reason; the message is that verdict's advice."""

    exit_code = 5
    default_code = "not_renewable"

    def message(self, lang: str) -> str:
        from wizard.i18n import translate

        reason = self.params.get("reason")
        advice = translate(f"verdict.{reason}", lang) if reason else ""
        return f"{translate('error.not_renewable', lang)} {advice}".strip()


class AuthorityUnreachable(QoltanbaError):
    exit_code = 6
    default_code = "authority_unreachable"


class ApplicationRejected(QoltanbaError):
    exit_code = 7
    default_code = "application_rejected"


class PasswordRejected(QoltanbaError):
    """``params['problems']`` are password problem codes, each said in the message."""

    exit_code = 8
    default_code = "password_rejected"

    def message(self, lang: str) -> str:
        from wizard.i18n import translate

        problems = self.params.get("problems") or ()
        detail = "; ".join(translate(f"password.problem.{code}", lang) for code in problems)
        return translate(f"error.{self.code}", lang, detail=detail)


class OutputRefused(QoltanbaError):
    exit_code = 9
    default_code = "output_refused"


class AuthorityProtocolError(QoltanbaError):
    exit_code = 10
    default_code = "authority_protocol"
