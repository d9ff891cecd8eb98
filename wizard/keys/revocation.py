"""Is this certificate revoked? The answer, where it came from, and the CRL half of the checking.

An answer is one of three (`Status`):

- ``good``: an answer that verified says the certificate is not revoked *now*;
- ``revoked``: an answer that verified lists it, with the date and, where given, the reason;
- ``unknown``: nothing that verified said either, and ``detail`` says why (offline, no responder,
  a stale CRL, a CRL older than the certificate, an answer whose signature does not verify, ...).

Whatever cannot be verified is ``unknown``, never ``good``. `Revocation.source` says which kind of
answer it is: ``ocsp`` (`wizard.keys.ocsp`), ``crl`` (here) or ``none``.

CRLs. A CRL counts only when

1. it names the certificate's issuer and its signature verifies under the issuing CA's key: a CA
   certificate (at hand beside the store, in a folder given, shipped with Qoltanba, or fetched from
   the certificate's AIA) whose name is the certificate's issuer *and whose key verifies the
   certificate's own signature* — the key that signed the certificate is the only one whose CRL
   speaks for it. Without such a certificate nothing is verified: ``unknown (no_issuer)``;
2. for "not listed, so good": it is current — ``thisUpdate`` not later than now + TOLERANCE and
   ``nextUpdate`` (required) later than now − TOLERANCE — and it covers the certificate's
   issuance (``thisUpdate`` at or after the certificate's ``notBefore``: a CRL made before the
   certificate existed cannot list it). A base CRL that is stale still serves when a current
   delta CRL (Freshest CRL) that verifies builds on it (its BaseCRLNumber at most the base's
   CRLNumber); the pair is then as fresh as the delta;
3. for "listed, so revoked": its signature verifies, fresh or not (a revocation is never taken
   back, except a certificateHold that a later delta CRL lifts with removeFromCRL). A CRL that
   says nothing about some certificates (an IssuingDistributionPoint limited to CA or attribute
   certificates, or to some reasons) never says "good".

The reading is bounded: only regular files (a FIFO named ``x.crl`` would block for ever, a link to
``/dev/zero`` never ends), never beyond MAX_CRL_BYTES, and a file that is not a usable CRL or CA
certificate is skipped, never an error. This module never touches the network: downloading CRLs
and asking OCSP responders is `wizard.authority.revocation`'s, outside the core.

Times: TOLERANCE is 5 minutes either way, for clocks that drift (a phone's, a responder's).
"""

from __future__ import annotations

import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from cryptography import x509

from wizard.errors import StoreError
from wizard.keys.certificate import CERTIFICATE_ERRORS, load_certificate
from wizard.keys.safe_read import check_regular, read_regular_file

MAX_CRL_BYTES = 4 << 20  # the NCA's full CRLs are a few hundred KB
MAX_CA_BYTES = 256 << 10  # a CA certificate is one or two KB
MAX_CRLS = 64  # CRL files looked at for one certificate
MAX_CANDIDATES = 64  # CA certificates tried as the issuer
TOLERANCE = timedelta(minutes=5)  # clock skew allowed either way on every date we judge
CA_SUFFIXES = (".cer", ".crt", ".pem", ".der")

SOURCES = ("ocsp", "crl", "none")


class Status(StrEnum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"


# Why an answer is unknown (catalogue keys ``revocation.detail.<code>``), and the plain words of
# good and revoked answers. Kept here so that every code the checkers return has its text.
DETAILS = (
    # good / revoked
    "responder_good",
    "responder_revoked",
    "crl_current",
    "crl_listed",
    # unknown, nothing was asked or at hand
    "not_checked",
    "offline",
    "no_source",
    "no_responder",
    "no_crl",
    "no_issuer",
    "certificate_expired",
    # unknown, CRLs
    "crl_bad_signature",
    "crl_stale",
    "crl_before_certificate",
    "crl_not_yet_valid",
    "crl_partial",
    # unknown, OCSP
    "response_malformed",
    "response_too_large",
    "responder_refused",
    "responder_unknown",
    "response_bad_signature",
    "responder_foreign",
    "responder_not_delegated",
    "response_wrong_certificate",
    "response_nonce_missing",
    "response_nonce_mismatch",
    "response_stale",
    "response_not_yet_valid",
    # unknown, the network
    "http_error",
    "timeout",
)

# RFC 5280 CRLReason names, as `cryptography` spells them, in ours.
REASONS: dict[x509.ReasonFlags, str] = {
    x509.ReasonFlags.unspecified: "unspecified",
    x509.ReasonFlags.key_compromise: "key_compromise",
    x509.ReasonFlags.ca_compromise: "ca_compromise",
    x509.ReasonFlags.affiliation_changed: "affiliation_changed",
    x509.ReasonFlags.superseded: "superseded",
    x509.ReasonFlags.cessation_of_operation: "cessation_of_operation",
    x509.ReasonFlags.certificate_hold: "certificate_hold",
    x509.ReasonFlags.privilege_withdrawn: "privilege_withdrawn",
    x509.ReasonFlags.aa_compromise: "aa_compromise",
    x509.ReasonFlags.remove_from_crl: "remove_from_crl",
}
# The reason codes a revocation may be asked with (RFC 5280 §5.3.1 numbers).
REASON_CODES: dict[str, int] = {
    "unspecified": 0,
    "key_compromise": 1,
    "ca_compromise": 2,
    "affiliation_changed": 3,
    "superseded": 4,
    "cessation_of_operation": 5,
    "certificate_hold": 6,
    "privilege_withdrawn": 9,
    "aa_compromise": 10,
}


@dataclass(frozen=True)
class Attempt:
    """One place asked, and what it said (shown by `inspect --json` under ``attempts``)."""

    source: str  # ocsp | crl
    origin: str  # a URL or a file name
    detail: str

    def as_json(self) -> dict[str, str]:
        return {"source": self.source, "origin": self.origin, "detail": self.detail}


@dataclass(frozen=True)
class Revocation:
    """The answer for one certificate: good, revoked or unknown, and where it came from."""

    status: Status = Status.UNKNOWN
    source: str = "none"  # ocsp | crl | none
    detail: str = "not_checked"  # a code of DETAILS
    checked_at: datetime | None = None
    next_update: datetime | None = None  # until when the answer holds (the CRL's or OCSP's)
    revoked_at: datetime | None = None
    reason: str | None = None  # a REASONS value, when revoked and the answer gave one
    origin: str = ""  # the CRL file name or URL, or the responder's URL
    attempts: tuple[Attempt, ...] = field(default=())

    @property
    def checked(self) -> bool:
        """An answer that verified was had (the status is not unknown)."""
        return self.status is not Status.UNKNOWN

    @property
    def revoked(self) -> bool:
        return self.status is Status.REVOKED

    @property
    def message_key(self) -> str:
        return f"revocation.detail.{self.detail}"

    def with_attempts(self, attempts: Iterable[Attempt]) -> Revocation:
        return replace(self, attempts=tuple(attempts))

    def as_json(self) -> dict[str, Any]:
        """The `inspect --json` object (DESIGN.md: status, source, checked_at, next_update,
        detail), with the revocation's date and reason and what was asked besides."""
        return {
            "status": self.status.value,
            "source": self.source,
            "checked_at": _iso(self.checked_at),
            "next_update": _iso(self.next_update),
            "detail": self.detail,
            "revoked_at": _iso(self.revoked_at),
            "reason": self.reason,
            "origin": self.origin or None,
            "attempts": [a.as_json() for a in self.attempts],
        }


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat() if moment is not None else None


def unknown(detail: str, *, source: str = "none", origin: str = "", now: datetime | None = None):
    return Revocation(Status.UNKNOWN, source, detail, checked_at=now, origin=origin)


# --- what lies beside a store -----------------------------------------------------------------


def _is_regular(path: Path) -> bool:
    try:
        check_regular(path)
    except StoreError:
        return False
    return True


def _entries(place: Path) -> list[Path]:
    try:
        if not stat.S_ISDIR(place.stat().st_mode):
            return []
        return sorted(place.iterdir())
    except (OSError, ValueError):
        return []


def material_in(folder: Path) -> tuple[list[Path], list[Path]]:
    """CRL files and CA certificate files in a folder and its crl/ and ca/ subfolders: regular
    files only (links to them included), so nothing found here can block or flood a reader."""
    crls: list[Path] = []
    cas: list[Path] = []
    for place in (folder, folder / "crl", folder / "ca"):
        for path in _entries(place):
            suffix = path.suffix.lower()
            if suffix == ".crl":
                wanted = crls
            elif suffix in CA_SUFFIXES and place.name == "ca":
                wanted = cas
            else:
                continue
            if _is_regular(path):
                wanted.append(path)
    return crls, cas


def material_near(store: Path) -> tuple[list[Path], list[Path]]:
    """CRL files and CA certificate files kept beside a store (its folder, crl/ and ca/)."""
    return material_in(store.parent)


def _read(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file of at most ``cap`` bytes, or None (checked again on opening:
    the folder may have changed since it was listed)."""
    try:
        return read_regular_file(path, cap)
    except StoreError:
        return None


def read_ca_files(paths: Iterable[Path]) -> list[x509.Certificate]:
    """The CA certificates among ``paths`` that can be read; the rest are skipped."""
    found = []
    for path in list(paths)[:MAX_CANDIDATES]:
        data = _read(path, MAX_CA_BYTES)
        if data is None:
            continue
        try:
            found.append(load_certificate(data))
        except StoreError:
            continue
    return found


def read_crl_files(paths: Iterable[Path]) -> list[tuple[str, bytes]]:
    """(file name, bytes) of the CRL files that can be read, at most MAX_CRLS of them."""
    found = []
    for path in list(paths)[:MAX_CRLS]:
        data = _read(path, MAX_CRL_BYTES)
        if data:
            found.append((path.name, data))
    return found


def load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except CERTIFICATE_ERRORS:
        return None


# --- the issuer ---------------------------------------------------------------------------------


def _signed(issuer: x509.Certificate, signed: x509.Certificate | x509.CertificateRevocationList):
    from wizard.keys.signatures import issuer_signed

    try:
        return issuer_signed(issuer, signed)
    except (ImportError, ArithmeticError, StoreError, NotImplementedError, *CERTIFICATE_ERRORS):
        return False


def issuers_of(
    certificate: x509.Certificate, candidates: Iterable[x509.Certificate]
) -> list[x509.Certificate]:
    """The candidates that issued ``certificate``: its issuer's name, and a key that verifies
    the certificate's signature (whatever the scheme: RSA, GOST 2015 512)."""
    found: list[x509.Certificate] = []
    for candidate in list(candidates)[:MAX_CANDIDATES]:
        try:
            if candidate.subject != certificate.issuer or candidate in found:
                continue
        except CERTIFICATE_ERRORS:
            continue
        if _signed(candidate, certificate):
            found.append(candidate)
    return found


def shipped_issuers() -> list[x509.Certificate]:
    """The NCA's production CA certificates shipped with Qoltanba (`wizard.keys.anchors`)."""
    from wizard.keys.anchors import pinned_certificates

    try:
        return [p.certificate for p in pinned_certificates()]
    except (OSError, StoreError):
        return []


# --- CRLs -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Crl:
    origin: str
    crl: x509.CertificateRevocationList
    number: int | None
    delta_base: int | None  # the BaseCRLNumber of a delta CRL; None for a complete CRL
    partial: bool  # an IssuingDistributionPoint that leaves some certificates out

    @property
    def this_update(self) -> datetime:
        return self.crl.last_update_utc

    @property
    def next_update(self) -> datetime | None:
        return self.crl.next_update_utc


def _extension(crl: x509.CertificateRevocationList, kind: type) -> Any:
    try:
        return crl.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None


def _describe_crl(origin: str, crl: x509.CertificateRevocationList) -> _Crl:
    number = _extension(crl, x509.CRLNumber)
    delta = _extension(crl, x509.DeltaCRLIndicator)
    point = _extension(crl, x509.IssuingDistributionPoint)
    partial = bool(
        point is not None
        and (
            point.only_contains_ca_certs
            or point.only_contains_attribute_certs
            or point.only_some_reasons
            or point.indirect_crl
        )
    )
    return _Crl(
        origin=origin,
        crl=crl,
        number=number.crl_number if number is not None else None,
        delta_base=delta.crl_number if delta is not None else None,
        partial=partial,
    )


def _entry(crl: _Crl, serial: int) -> tuple[datetime, str | None] | None:
    """When and why ``crl`` lists ``serial``, or None."""
    listed = crl.crl.get_revoked_certificate_by_serial_number(serial)
    if listed is None:
        return None
    reason = None
    try:
        value = listed.extensions.get_extension_for_class(x509.CRLReason).value
        reason = REASONS.get(value.reason)
    except x509.ExtensionNotFound:
        pass
    return listed.revocation_date_utc, reason


def _current(crl: _Crl, now: datetime, tolerance: timedelta) -> str | None:
    """Why ``crl`` is not current at ``now`` (a detail code), or None."""
    if crl.this_update > now + tolerance:
        return "crl_not_yet_valid"
    if crl.next_update is None or crl.next_update + tolerance <= now:
        return "crl_stale"
    return None


# Of several reasons a CRL did not count, the one told (the most telling first).
_CRL_DETAIL_ORDER = (
    "crl_before_certificate",
    "crl_stale",
    "crl_not_yet_valid",
    "crl_partial",
    "crl_bad_signature",
    "no_issuer",
    "no_crl",
)


def crl_status(
    certificate: x509.Certificate,
    crls: Sequence[tuple[str, bytes]],
    candidates: Iterable[x509.Certificate],
    *,
    now: datetime,
    tolerance: timedelta = TOLERANCE,
) -> tuple[Revocation, list[Attempt]]:
    """What the CRLs among ``crls`` ((origin, bytes): a file name or a URL) say about
    ``certificate`` at ``now``, checked under the issuers among ``candidates`` (module
    docstring); with one Attempt per CRL of its issuer, saying how each counted."""
    attempts: list[Attempt] = []
    mine: list[_Crl] = []
    for origin, data in list(crls)[:MAX_CRLS]:
        crl = load_crl(data)
        if crl is None:
            continue
        try:
            if crl.issuer != certificate.issuer:
                continue
            mine.append(_describe_crl(origin, crl))
        except CERTIFICATE_ERRORS:
            continue  # a CRL damaged past its header says nothing
    if not mine:
        return unknown("no_crl", now=now), attempts
    issuers = issuers_of(certificate, candidates)
    if not issuers:
        attempts += [Attempt("crl", c.origin, "no_issuer") for c in mine]
        return unknown("no_issuer", source="crl", origin=mine[0].origin, now=now), attempts
    verified: list[_Crl] = []
    for described in mine:
        if any(_signed(issuer, described.crl) for issuer in issuers):
            verified.append(described)
        else:
            attempts.append(Attempt("crl", described.origin, "crl_bad_signature"))
    serial = certificate.serial_number
    try:
        return _judge(certificate, serial, verified, attempts, now, tolerance), attempts
    except CERTIFICATE_ERRORS:
        return unknown("crl_bad_signature", source="crl", now=now), attempts


def _judge(
    certificate: x509.Certificate,
    serial: int,
    verified: list[_Crl],
    attempts: list[Attempt],
    now: datetime,
    tolerance: timedelta,
) -> Revocation:
    bases = sorted((c for c in verified if c.delta_base is None), key=lambda c: c.this_update)
    deltas = sorted((c for c in verified if c.delta_base is not None), key=lambda c: c.this_update)
    # Listed anywhere that verified: revoked, unless a later delta lifts a hold.
    listings = []
    for crl in [*bases, *deltas]:
        entry = _entry(crl, serial)
        if entry is not None:
            listings.append((crl, *entry))
    listings.sort(key=lambda item: item[0].this_update)
    if listings:
        crl, when, reason = listings[-1]
        # removeFromCRL lifts only a certificateHold (RFC 5280 5.3.1), and only in a delta:
        # a revocation for any other reason (key compromise, ...) is for good.
        held = [r for _, _, r in listings[:-1] if r != "remove_from_crl"]
        lifted = (
            reason == "remove_from_crl"
            and crl.delta_base is not None
            and bool(held)
            and held[-1] == "certificate_hold"
        )
        if not lifted and reason == "remove_from_crl" and held:
            crl, when, reason = next(
                item for item in reversed(listings[:-1]) if item[2] != "remove_from_crl"
            )
        if not lifted and reason != "remove_from_crl":
            attempts.append(Attempt("crl", crl.origin, "crl_listed"))
            return Revocation(
                Status.REVOKED,
                "crl",
                "crl_listed",
                checked_at=now,
                next_update=crl.next_update,
                revoked_at=when,
                reason=reason,
                origin=crl.origin,
            )
    # Not listed: good only from a current, complete view that covers the issuance.
    reasons: list[str] = []
    issued = certificate.not_valid_before_utc
    for base in reversed(bases):
        if base.partial:
            attempts.append(Attempt("crl", base.origin, "crl_partial"))
            reasons.append("crl_partial")
            continue
        view, origin = base, base.origin
        delta = _delta_for(base, deltas, now, tolerance)
        if delta is not None:
            view, origin = delta, f"{base.origin} + {delta.origin}"
        problem = "crl_before_certificate" if view.this_update < issued else None
        problem = problem or _current(view, now, tolerance)
        attempts.append(Attempt("crl", origin, problem or "crl_current"))
        if problem is None:
            return Revocation(
                Status.GOOD,
                "crl",
                "crl_current",
                checked_at=now,
                next_update=view.next_update,
                origin=origin,
            )
        reasons.append(problem)
    if not bases and deltas:
        reasons.append("no_crl")  # a delta alone is no complete view
        attempts += [Attempt("crl", d.origin, "no_crl") for d in deltas]
    if not verified:
        reasons.append("crl_bad_signature")
    detail = next(d for d in _CRL_DETAIL_ORDER if d in reasons) if reasons else "no_crl"
    origin = bases[-1].origin if bases else ""
    return unknown(detail, source="crl", origin=origin, now=now)


def _delta_for(base: _Crl, deltas: list[_Crl], now: datetime, tolerance: timedelta) -> _Crl | None:
    """The newest current delta CRL that builds on ``base`` (RFC 5280 §5.2.4), or None."""
    for delta in reversed(deltas):
        if delta.partial or base.number is None or delta.delta_base is None:
            continue
        builds_on = delta.delta_base <= base.number and delta.this_update >= base.this_update
        if builds_on and _current(delta, now, tolerance) is None:
            return delta
    return None


def check(
    cert: x509.Certificate,
    crl_files: Iterable[Path],
    ca_files: Iterable[Path] = (),
    *,
    now: datetime | None = None,
    issuers: Iterable[x509.Certificate] = (),
    crls: Iterable[tuple[str, bytes]] = (),
    shipped: bool = True,
) -> Revocation:
    """The CRLs at hand (files, and ``crls`` already read or downloaded) on ``cert`` at ``now``,
    verified under the CA certificates in ``ca_files``, ``issuers`` and, with ``shipped``, the
    NCA's own that Qoltanba ships."""
    moment = now or datetime.now(UTC)
    candidates = [*read_ca_files(ca_files), *issuers]
    if shipped:
        candidates += shipped_issuers()
    every = [*read_crl_files(crl_files), *crls]
    answer, attempts = crl_status(cert, every, candidates, now=moment)
    return answer.with_attempts(attempts)
