"""Qoltanba's errors: one tree, each error with a stable ``code`` that the UI and the command line
turn into a translated one-line message (catalogue key ``error.<code>``), and an exit code.

Exit codes are inherited by meaning: a subclass is a kind of its parent and exits as it does.
Every class below lives in this module; tests/test_errors.py walks the subclasses and fails on one
missing from this drawing or from the README's exit-code table.

QoltanbaError                 anything Qoltanba itself refuses; .code, .params, .exit_code  exit 1
├── InternalError             a bug, not the user's doing; the last-resort handler's line   exit 1
│   └── IllegalTransition     a state table (journal, mock) has no such move
├── UsageError                the command or call is malformed                              exit 2
│   ├── PasswordUndecodable   a password that is not valid text (UTF-8)
│   ├── DetailsInvalid        e-mail, locality or another application field is unusable
│   └── RenewalElsewhere      these keys' renewal is bound to another folder or authority
├── WrongPassword             the PKCS#12 MAC does not verify with this password            exit 3
│   └── WrongPin              the token itself answered CKR_PIN_INCORRECT
├── StoreError                a file that cannot be used as a key store                     exit 4
│   │                         (missing, a folder, not a regular file, empty, too large,
│   │                         damaged, not PKCS#12, unsupported scheme or parameters)
│   └── TokenError            a PKCS#11 module or token that cannot be used (not a module,
│       │                     no token, no such key, tokens not available on this device)
│       ├── TokenAbsent       the token was unplugged or is not there: plug it in, run again
│       └── TokenLocked       the token's PIN is locked: the vendor's unblock tool or a ЦОН
├── NotRenewable              the key cannot be renewed online (expired, revoked, ...)      exit 5
├── AuthorityUnreachable      the authority cannot be reached; the renewal is queued        exit 6
│   ├── RenewalWaiting        the application waits on the authority; run again later
│   └── SessionExpired        the authority forgot the session; log in again
├── ApplicationRejected       the authority rejected the application                        exit 7
│   └── CodeWrong             the one-time code was wrong (attempts_left)
├── PasswordRejected          the new password breaks the rules                             exit 8
├── OutputRefused             the new keys cannot be written there (current folder,
│   │                         existing file, not writable)                                  exit 9
│   └── NoSpace               the disk is full or read-only: nothing partial was left
├── AuthorityProtocolError    the authority answered something broken or hostile            exit 10
│   ├── CertificateRefused    an issued certificate failed the checks: that renewal is ended
│   ├── SignatureError        a CMS signature is malformed or does not verify
│   └── RequestError          a certificate request is malformed or lacks proof of possession
├── RenewalBusy               this renewal is running in another window or process          exit 11
│   └── StaleRenewal          another window moved this renewal on while this one worked
└── LocalStateError           Qoltanba's own folder (QOLTANBA_HOME) cannot be used          exit 12

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


class InternalError(QoltanbaError):
    """An unexpected failure; ``params['report']`` names the report written without secrets."""

    exit_code = 1
    default_code = "internal"


class IllegalTransition(InternalError):
    """A move a state table does not allow: a bug, never the user's doing."""

    default_code = "journal_illegal_transition"


class UsageError(QoltanbaError):
    exit_code = 2
    default_code = "usage"


class PasswordUndecodable(UsageError):
    default_code = "password_undecodable"


class DetailsInvalid(UsageError):
    """An application field the request or the application document cannot carry;
    ``params['field']`` names it (email, locality, storage) so a form can mark it."""

    default_code = "renewal_bad_email"


class RenewalElsewhere(UsageError):
    """A renewal of these keys is under way with another folder or another authority."""

    default_code = "renewal_pending_elsewhere"


class WrongPassword(QoltanbaError):
    exit_code = 3
    default_code = "wrong_password"


class WrongPin(WrongPassword):
    """The token said CKR_PIN_INCORRECT (never guessed from another error); ``params['tries']``
    is what the token tells of the tries left: "unknown", "low" or "final"."""

    default_code = "wrong_pin"


class StoreError(QoltanbaError):
    exit_code = 4
    default_code = "store_corrupt"


class TokenError(StoreError):
    """A PKCS#11 module or token Qoltanba cannot use (wizard.keys.tokens)."""

    default_code = "token_unusable"


class TokenAbsent(TokenError):
    """The token is not in its reader (unplugged meanwhile); ``params['token']`` names it."""

    default_code = "token_absent"


class TokenLocked(TokenError):
    """CKR_PIN_LOCKED, or the token's flags say so: no PIN is tried any more."""

    default_code = "token_pin_locked"


class NotRenewable(QoltanbaError):
    """``params['reason']`` is a verdict reason; the message is that verdict's advice, filled with
    the params. ``params['advice']``, when given, names a finer text of it
    (``verdict.<reason>.<advice>``, e.g. issuer_not_accepted's: wizard/renewal/acceptance.py)."""

    exit_code = 5
    default_code = "not_renewable"

    def message(self, lang: str) -> str:
        from wizard.i18n import catalogue, translate

        reason = self.params.get("reason")
        key = f"verdict.{reason}"
        finer = f"{key}.{self.params.get('advice')}"
        if self.params.get("advice") and finer in catalogue(lang):
            key = finer
        advice = translate(key, lang, **self.params) if reason else ""
        return f"{translate('error.not_renewable', lang)} {advice}".strip()


class AuthorityUnreachable(QoltanbaError):
    exit_code = 6
    default_code = "authority_unreachable"


class RenewalWaiting(AuthorityUnreachable):
    """The application waits on the authority (approval, processing); run again later."""

    default_code = "renewal_waiting"


class SessionExpired(AuthorityUnreachable):
    """The session is unknown or expired: log in again with the AUTH key."""

    default_code = "authority_session_expired"


class ApplicationRejected(QoltanbaError):
    """``params['reason']``: the authority's reason code, said in words where one is known."""

    exit_code = 7
    default_code = "application_rejected"

    def message(self, lang: str) -> str:
        from wizard.i18n import catalogue, translate

        reason = str(self.params.get("reason") or "")
        if f"reason.{reason}" in catalogue(lang):
            params = {**self.params, "reason": translate(f"reason.{reason}", lang)}
            return translate(f"error.{self.code}", lang, **params)
        return super().message(lang)


class CodeWrong(ApplicationRejected):
    """The one-time code was wrong; ``params['attempts_left']`` says how many tries remain."""

    default_code = "code_wrong"


class PasswordRejected(QoltanbaError):
    """``params['problems']`` are password problem codes, each said in the message."""

    exit_code = 8
    default_code = "password_rejected"

    def message(self, lang: str) -> str:
        from wizard.i18n import translate

        problems = self.params.get("problems") or ()
        detail = "; ".join(
            translate(f"password.problem.{code}", lang, **self.params).rstrip(".")
            for code in problems
        )
        return translate(f"error.{self.code}", lang, detail=detail)


class OutputRefused(QoltanbaError):
    exit_code = 9
    default_code = "output_refused"


class NoSpace(OutputRefused):
    """ENOSPC, EDQUOT or EROFS while writing: the partial file was removed."""

    default_code = "output_no_space"


class AuthorityProtocolError(QoltanbaError):
    exit_code = 10
    default_code = "authority_protocol"


class CertificateRefused(AuthorityProtocolError):
    """``params['detail']``: why (wrong_key, untrusted_issuer, ...), said in words where one is
    known (``refusal.<detail>``; ``missing:auth`` as ``refusal.missing``); the renewal ends
    refused."""

    default_code = "certificate_refused"

    def message(self, lang: str) -> str:
        from wizard.i18n import catalogue, translate

        detail = str(self.params.get("detail") or "")
        key = f"refusal.{detail.partition(':')[0]}"
        if key in catalogue(lang):
            params = {**self.params, "detail": translate(key, lang)}
            return translate(f"error.{self.code}", lang, **params)
        return super().message(lang)


class SignatureError(AuthorityProtocolError):
    """A CMS signature that is malformed or does not verify."""

    default_code = "signature_invalid"


class RequestError(AuthorityProtocolError):
    """A request that is malformed or whose proof of possession fails."""

    default_code = "request_invalid"


class RenewalBusy(QoltanbaError):
    """Another window or process is working on this renewal right now."""

    exit_code = 11
    default_code = "renewal_busy"


class StaleRenewal(RenewalBusy):
    """Someone else (another window) moved this renewal on; read it again."""

    default_code = "journal_stale"


class LocalStateError(QoltanbaError):
    """QOLTANBA_HOME is a file, read-only, or otherwise unusable (``params['path']``)."""

    exit_code = 12
    default_code = "home_unusable"


def all_error_classes() -> list[type[QoltanbaError]]:
    """Every subclass of QoltanbaError, depth first (for the tests and the documentation)."""
    found: list[type[QoltanbaError]] = [QoltanbaError]
    stack = list(reversed(QoltanbaError.__subclasses__()))
    while stack:
        cls = stack.pop()
        if cls not in found:
            found.append(cls)
            stack.extend(reversed(cls.__subclasses__()))
    return found
