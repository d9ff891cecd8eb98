"""Revocation from CRLs at hand: next to the store (``*.crl``, ``crl/``), or given explicitly.

Qoltanba works offline, so it never fetches a CRL; it uses those the person (or the NCA's test
material) keeps beside the keys. A CRL counts only when it names the certificate's issuer and, where
the issuing CA's certificate is at hand too, its signature verifies.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from wizard.keys.certificate import load_certificate

MAX_CRL_BYTES = 4 << 20


@dataclass(frozen=True)
class Revocation:
    """The answer for one certificate: revoked or not, and the CRL that said so."""

    checked: bool  # a CRL of the issuer was at hand
    revoked: bool
    source: str = ""


def material_near(store: Path) -> tuple[list[Path], list[Path]]:
    """CRL files and CA certificate files kept beside a store (its folder, crl/ and ca/)."""
    folder = store.parent
    crls: list[Path] = []
    cas: list[Path] = []
    for place in (folder, folder / "crl", folder / "ca"):
        if not place.is_dir():
            continue
        for path in sorted(place.iterdir()):
            suffix = path.suffix.lower()
            if suffix == ".crl":
                crls.append(path)
            elif suffix in (".cer", ".crt", ".pem") and place.name == "ca":
                cas.append(path)
    return crls, cas


def _load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except ValueError:
        return None


def check(
    cert: x509.Certificate, crl_files: Iterable[Path], ca_files: Iterable[Path] = ()
) -> Revocation:
    """Look the certificate up in every usable CRL of its issuer."""
    from wizard.keys.signatures import issuer_signed

    issuers = []
    for path in ca_files:
        try:
            ca = load_certificate(path.read_bytes())
        except (OSError, ValueError):
            continue
        if ca.subject == cert.issuer:
            issuers.append(ca)
    checked = False
    for path in crl_files:
        try:
            if path.stat().st_size > MAX_CRL_BYTES:
                continue
            crl = _load_crl(path.read_bytes())
        except OSError:
            continue
        if crl is None or crl.issuer != cert.issuer:
            continue
        if issuers and not any(_signed(ca, crl, issuer_signed) for ca in issuers):
            continue  # a CRL that its CA did not sign says nothing
        checked = True
        if crl.get_revoked_certificate_by_serial_number(cert.serial_number) is not None:
            return Revocation(checked=True, revoked=True, source=path.name)
    return Revocation(checked=checked, revoked=False)


def _signed(ca, crl, issuer_signed) -> bool:
    try:
        return issuer_signed(ca, crl)
    except (ValueError, TypeError, ImportError):
        return False
