"""What the journal knows of one renewal, as frozen dataclasses: one section per step that adds to
it. Only `journal.py` turns them to and from JSON (bytes as base64, paths as text); everything else
reads typed fields. Nothing here can hold a password or an unencrypted key: there is no field for
one, and the journal refuses a field it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path


@dataclass(frozen=True)
class Origin:
    """Recorded when the renewal starts: the current keys' scheme and subject, and the folder the
    new keys go to."""

    scheme: str = ""
    subject: bytes = b""  # DER, identical in every current certificate
    folder: Path | None = None
    current_files: tuple[str, ...] = ()  # the current stores' paths, as resolved at the start
    token: str = ""  # the token's serial when the keys live on a token (the folder is then None)


@dataclass(frozen=True)
class Details:
    """The details the request and the application carry (checked by process.normal_details)."""

    email: str
    locality: str
    storage: str = "pkcs12"


@dataclass(frozen=True)
class PendingKey:
    """One new key pair, made and saved before anything is sent: encrypted in ``file`` (a file
    store's folder) or kept on the token as ``token_object`` (its CKA_ID, hex)."""

    usage: str  # "auth", "sign" or "both"
    spki: bytes  # its public key (DER SubjectPublicKeyInfo): how a reloaded key is recognised
    file: str = ""
    token_object: str = ""


@dataclass(frozen=True)
class Submission:
    """Decided and recorded before submitting: what the authority said it is, and what its
    certificates must chain to (renewal/trust.py). ``anchors`` None: recorded by a version that
    did not record them (decided again, never trust on first use)."""

    ca_certificates: tuple[bytes, ...]
    anchors: tuple[bytes, ...] | None
    authority_display: str = ""
    demo: bool = False


@dataclass(frozen=True)
class Confirmation:
    """One-time code tries: how many this journal sent, and how many the authority says are left."""

    code_attempts: int = 0
    attempts_left: int | None = None


@dataclass(frozen=True)
class Issued:
    """The certificates downloaded and verified, by usage, and the chain the authority sent."""

    certificates: tuple[tuple[str, bytes], ...]
    chain: tuple[bytes, ...] = ()

    def by_usage(self) -> dict[str, bytes]:
        return dict(self.certificates)


@dataclass(frozen=True)
class Installed:
    """The files written to the new folder (stores and CA certificates) and the earliest expiry."""

    files: tuple[str, ...]
    not_after: datetime | None = None


@dataclass(frozen=True)
class Ending:
    """Why a renewal ended without new keys (rejected, lapsed, refused, cancelled)."""

    reason: str = ""  # the authority's reason code (rejected, lapsed)
    refused: str = ""  # our check that failed (refused)
    refused_certificates: tuple[tuple[str, bytes], ...] = ()  # the evidence, kept
    cancelled_after_submission: bool = False


@dataclass(frozen=True)
class Record:
    """Everything recorded for one renewal besides its identity and state."""

    origin: Origin = field(default_factory=Origin)
    details: Details | None = None
    keys: tuple[PendingKey, ...] = ()
    requests: tuple[tuple[str, bytes], ...] = ()  # usage -> PKCS#10 DER, sorted by usage
    application_cms: bytes | None = None  # the signed application
    application: str | None = None  # the authority's application number
    submission: Submission | None = None
    confirmation: Confirmation = field(default_factory=Confirmation)
    issued: Issued | None = None
    installed: Installed | None = None
    ending: Ending | None = None


RECORD_FIELDS = frozenset(Record.__dataclass_fields__)
