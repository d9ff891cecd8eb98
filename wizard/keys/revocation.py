"""Revocation from CRLs at hand: next to the store (``*.crl``, ``crl/``), or given explicitly.

Qoltanba works offline, so it never fetches a CRL; it uses those the person (or the NCA's test
material) keeps beside the keys. A CRL counts only when it names the certificate's issuer and, where
the issuing CA's certificate is at hand too, its signature verifies.

Whatever lies beside a store is read only if it is a regular file (a FIFO named ``x.crl`` would
block for ever, a link to ``/dev/zero`` never ends) and never beyond a size cap; a file that is not
a usable CRL or CA certificate is skipped, never an error.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509

from wizard.errors import StoreError
from wizard.keys.certificate import CERTIFICATE_ERRORS, load_certificate
from wizard.keys.safe_read import check_regular, read_regular_file

MAX_CRL_BYTES = 4 << 20  # the NCA's full CRLs are a few hundred KB
MAX_CA_BYTES = 256 << 10  # a CA certificate is one or two KB


@dataclass(frozen=True)
class Revocation:
    """The answer for one certificate: revoked or not, and the CRL that said so."""

    checked: bool  # a CRL of the issuer was at hand
    revoked: bool
    source: str = ""


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


def material_near(store: Path) -> tuple[list[Path], list[Path]]:
    """CRL files and CA certificate files kept beside a store (its folder, crl/ and ca/): regular
    files only (links to them included), so nothing found here can block or flood a reader."""
    folder = store.parent
    crls: list[Path] = []
    cas: list[Path] = []
    for place in (folder, folder / "crl", folder / "ca"):
        for path in _entries(place):
            suffix = path.suffix.lower()
            if suffix == ".crl":
                wanted = crls
            elif suffix in (".cer", ".crt", ".pem") and place.name == "ca":
                wanted = cas
            else:
                continue
            if _is_regular(path):
                wanted.append(path)
    return crls, cas


def _read(path: Path, cap: int) -> bytes | None:
    """The bytes of a regular file of at most ``cap`` bytes, or None (checked again on opening:
    the folder may have changed since it was listed)."""
    try:
        return read_regular_file(path, cap)
    except StoreError:
        return None


def _load_crl(data: bytes) -> x509.CertificateRevocationList | None:
    try:
        if data.lstrip().startswith(b"-----BEGIN"):
            return x509.load_pem_x509_crl(data)
        return x509.load_der_x509_crl(data)
    except CERTIFICATE_ERRORS:
        return None


def check(
    cert: x509.Certificate, crl_files: Iterable[Path], ca_files: Iterable[Path] = ()
) -> Revocation:
    """Look the certificate up in every usable CRL of its issuer."""
    from wizard.keys.signatures import issuer_signed

    issuers = []
    for path in ca_files:
        data = _read(path, MAX_CA_BYTES)
        if data is None:
            continue
        try:
            ca = load_certificate(data)
            if ca.subject == cert.issuer:
                issuers.append(ca)
        except (StoreError, *CERTIFICATE_ERRORS):
            continue
    checked = False
    for path in crl_files:
        data = _read(path, MAX_CRL_BYTES)
        crl = _load_crl(data) if data else None
        if crl is None:
            continue
        try:
            if crl.issuer != cert.issuer:
                continue
            if issuers and not any(_signed(ca, crl, issuer_signed) for ca in issuers):
                continue  # a CRL that its CA did not sign says nothing
            listed = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
        except CERTIFICATE_ERRORS:
            continue  # a CRL damaged past its header says nothing either
        checked = True
        if listed is not None:
            return Revocation(checked=True, revoked=True, source=path.name)
    return Revocation(checked=checked, revoked=False)


def _signed(ca, crl, issuer_signed) -> bool:
    try:
        return issuer_signed(ca, crl)
    except (ImportError, ArithmeticError, StoreError, *CERTIFICATE_ERRORS):
        return False
