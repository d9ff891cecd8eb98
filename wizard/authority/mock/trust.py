"""Which certificates the mock authority accepts: a chain to a trusted CA, valid now, not revoked.

Trust anchors are the DEMO CAs (in demo mode) and any CA certificate in the configured files or
folders (the NCA test CAs, say); CRL files found there are consulted through
`wizard.keys.revocation`, and serials revoked through the test endpoint through the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509

from wizard.errors import StoreError, UsageError
from wizard.keys.certificate import load_certificate
from wizard.keys.revocation import check as crl_check
from wizard.keys.safe_read import read_regular_file
from wizard.keys.signatures import issuer_signed

CERTIFICATE_SUFFIXES = (".cer", ".crt", ".pem", ".der")
CRL_SUFFIXES = (".crl",)
MAX_CHAIN = 6

MAX_CA_BYTES = 256 << 10  # a CA certificate is a few KB; never read a FIFO or /dev/zero


@dataclass(frozen=True)
class TrustMaterial:
    """CA certificates (anchors) and CRL files read from the configured paths."""

    anchors: tuple[x509.Certificate, ...] = ()
    ca_files: tuple[Path, ...] = ()
    crl_files: tuple[Path, ...] = ()


def is_ca(certificate: x509.Certificate) -> bool:
    try:
        basic = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        return False
    return basic.ca


def read_trust_material(paths: Iterable[Path | str]) -> TrustMaterial:
    """Anchors and CRLs from files and folders (searched recursively); a missing path or a named
    file that is neither a CA certificate nor a CRL is a UsageError."""
    anchors: list[x509.Certificate] = []
    ca_files: list[Path] = []
    crl_files: list[Path] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            candidates = sorted(p for p in path.rglob("*") if p.is_file())
            named = False
        elif path.is_file():
            candidates, named = [path], True
        else:
            raise UsageError(detail=f"trusted CA path not found: {path}")
        for candidate in candidates:
            suffix = candidate.suffix.lower()
            if suffix in CRL_SUFFIXES:
                crl_files.append(candidate)
                continue
            if suffix not in CERTIFICATE_SUFFIXES and not named:
                continue
            try:
                certificate = load_certificate(read_regular_file(candidate, MAX_CA_BYTES))
            except (OSError, ValueError, StoreError) as exc:
                if named:
                    raise UsageError(detail=f"not a certificate or CRL: {candidate}") from exc
                continue
            if is_ca(certificate):
                anchors.append(certificate)
                ca_files.append(candidate)
            elif named:
                raise UsageError(detail=f"not a CA certificate: {candidate}")
    return TrustMaterial(tuple(anchors), tuple(ca_files), tuple(crl_files))


def _signed_by(issuer: x509.Certificate, subject: x509.Certificate) -> bool:
    try:
        return issuer_signed(issuer, subject)
    except (ValueError, TypeError, ImportError, NotImplementedError):
        return False  # a signature scheme this build cannot check proves nothing


class Trust:
    """Decides whether a certificate is acceptable now; the answer is a refusal reason or None."""

    def __init__(
        self,
        anchors: Sequence[x509.Certificate],
        material: TrustMaterial,
        is_revoked: Callable[[x509.Certificate], bool],
    ) -> None:
        self._anchors = list(anchors) + list(material.anchors)
        self._material = material
        self._is_revoked = is_revoked

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return tuple(self._anchors)

    def chain(
        self, certificate: x509.Certificate, intermediates: Iterable[x509.Certificate] = ()
    ) -> list[x509.Certificate] | None:
        """The path from ``certificate`` up to a trusted CA (anchor last), or None."""
        others = [c for c in intermediates if is_ca(c)]
        path = [certificate]
        current = certificate
        for _ in range(MAX_CHAIN):
            for anchor in self._anchors:
                if anchor.subject == current.issuer and _signed_by(anchor, current):
                    return [*path, anchor]
            step = next(
                (
                    c
                    for c in others
                    if c.subject == current.issuer and c not in path and _signed_by(c, current)
                ),
                None,
            )
            if step is None:
                return None
            path.append(step)
            current = step
        return None

    def examine(
        self,
        certificate: x509.Certificate,
        now: datetime,
        intermediates: Iterable[x509.Certificate] = (),
    ) -> str | None:
        """Why ``certificate`` is not acceptable at ``now`` (a refusal reason), or None."""
        path = self.chain(certificate, intermediates)
        if path is None:
            return "certificate_untrusted"
        # Anchors are trusted as configured; an intermediate found on the way must be valid.
        for ca in path[1:-1]:
            if not ca.not_valid_before_utc <= now < ca.not_valid_after_utc:
                return "certificate_untrusted"
        if now >= certificate.not_valid_after_utc:
            return "certificate_expired"
        if now < certificate.not_valid_before_utc:
            return "certificate_not_yet_valid"
        if self._is_revoked(certificate):
            return "certificate_revoked"
        material = self._material
        if material.crl_files:
            verdict = crl_check(certificate, material.crl_files, material.ca_files)
            if verdict.revoked:
                return "certificate_revoked"
        return None
