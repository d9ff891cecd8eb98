"""Which certificates the mock authority accepts: a chain to a trusted CA, valid now, not revoked.

Trust anchors are the DEMO CAs (in demo mode) and any CA certificate in the configured files or
folders (the NCA test CAs, say); CRL files found there are consulted through
`wizard.keys.revocation`, and serials revoked through the test endpoint through the ledger.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime

from cryptography import x509

from wizard.keys.anchors import TrustMaterial, read_trust_material
from wizard.keys.chain import is_ca, verify_chain
from wizard.keys.revocation import check as crl_check

__all__ = ["Trust", "TrustMaterial", "is_ca", "read_trust_material"]


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
        self,
        certificate: x509.Certificate,
        now: datetime,
        intermediates: Iterable[x509.Certificate] = (),
    ) -> list[x509.Certificate] | None:
        """The CAs from ``certificate``'s issuer up to a trusted CA (anchor last), or None
        (`wizard.keys.chain.verify_chain`: every CA on the way valid at ``now``)."""
        return verify_chain(certificate, intermediates, self._anchors, now)

    def examine(
        self,
        certificate: x509.Certificate,
        now: datetime,
        intermediates: Iterable[x509.Certificate] = (),
    ) -> str | None:
        """Why ``certificate`` is not acceptable at ``now`` (a refusal reason), or None."""
        # Anchors are trusted as configured; an intermediate found on the way must be valid.
        if self.chain(certificate, now, intermediates) is None:
            return "certificate_untrusted"
        if now >= certificate.not_valid_after_utc:
            return "certificate_expired"
        if now < certificate.not_valid_before_utc:
            return "certificate_not_yet_valid"
        if self._is_revoked(certificate):
            return "certificate_revoked"
        material = self._material
        if material.crl_files:
            verdict = crl_check(certificate, material.crl_files, material.ca_files, now=now)
            if verdict.revoked:
                return "certificate_revoked"
        return None
