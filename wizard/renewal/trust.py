"""Which CAs a renewal's new certificates must chain to: decided before the application is
submitted, recorded with it, and never what a real authority says of itself (no trust on first
use).

- A demo authority (its `AuthorityInfo` says demo): its DEMO roots (the self-signed CA
  certificates it publishes whose name says DEMO) and the CA certificates of QOLTANBA_TRUST.
- Any other: the NCA's production roots shipped with Qoltanba (wizard/keys/data/nca-roots), and
  the roots its adapter declares (`AuthorityAdapter.roots`, shown by `qoltanba authority list`).

Only anchors valid at the moment of the decision count. The path itself is checked by
`wizard.keys.chain.verify_chain`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.authority.interface import AuthorityInfo
from wizard.errors import StoreError
from wizard.keys.anchors import pinned_anchors, pinned_intermediates, read_trust_material
from wizard.keys.certificate import load_certificate
from wizard.keys.chain import is_ca, valid_at

DEMO_MARK = "DEMO"  # a demo authority's own CAs say so in their name


def _der(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.DER)


def certificates_among(items: Iterable[bytes]) -> list[x509.Certificate]:
    """The certificates among ``items`` (DER or PEM); anything else is left out."""
    found = []
    for data in items:
        try:
            found.append(load_certificate(data))
        except StoreError:
            continue
    return found


def demo_roots(ca_certificates: Iterable[bytes]) -> list[x509.Certificate]:
    """The DEMO roots among a demo authority's CA certificates: self-signed CAs named DEMO."""
    return [
        c
        for c in certificates_among(ca_certificates)
        if c.subject == c.issuer and is_ca(c) and DEMO_MARK in c.subject.rfc4514_string()
    ]


@dataclass(frozen=True)
class RenewalTrust:
    """The trust policy of one `Renewer`: what its adapter declares, and where the demo's extra
    CAs come from (None: QOLTANBA_TRUST, read when a demo renewal is submitted)."""

    declared_roots: tuple[bytes, ...] = ()
    demo_trust: tuple[Path, ...] | None = None

    def anchors(self, info: AuthorityInfo, now: datetime) -> list[bytes]:
        """The DER anchors a renewal with this authority accepts, decided at ``now``."""
        return self.anchors_for(info.demo, info.ca_certificates, now)

    def anchors_for(
        self, demo: bool, ca_certificates: Iterable[bytes], now: datetime
    ) -> list[bytes]:
        """`anchors` from the facts a journal recorded (a demo or not, its CA certificates)."""
        if demo:
            found = demo_roots(ca_certificates) + list(self._demo_material())
        else:
            found = pinned_anchors(now) + certificates_among(self.declared_roots)
        unique: list[bytes] = []
        for certificate in found:
            der = _der(certificate)
            if valid_at(certificate, now) and der not in unique:
                unique.append(der)
        return unique

    def _demo_material(self) -> tuple[x509.Certificate, ...]:
        if self.demo_trust is None:
            from wizard.authority.connect import trusted_paths

            paths: Iterable[Path] = trusted_paths()
        else:
            paths = self.demo_trust
        return read_trust_material(paths).anchors


def intermediates(*sources: Iterable[bytes], nca: bool = True) -> list[x509.Certificate]:
    """CA certificates a path may go through: what the authority sent (its CA certificates, a
    download's chain) and, with ``nca``, the NCA's pinned issuing CAs (a real authority need not
    send them; a demo's chains never pass through them). Sent ones prove nothing by themselves:
    a path counts only when it ends in an anchor."""
    sent = [c for source in sources for c in certificates_among(source)]
    return [*sent, *pinned_intermediates()] if nca else sent
