"""Trust anchors from files: the NCA's production CA certificates shipped with Qoltanba (pinned,
data/nca-roots/), and CA certificates and CRLs read from configured files and folders
(QOLTANBA_TRUST, `qoltanba authority serve --trust`)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from wizard.errors import StoreError, UsageError
from wizard.keys.certificate import load_certificate
from wizard.keys.chain import is_ca, valid_at
from wizard.keys.safe_read import read_regular_file

CERTIFICATE_SUFFIXES = (".cer", ".crt", ".pem", ".der")
CRL_SUFFIXES = (".crl",)
MAX_CA_BYTES = 256 << 10  # a CA certificate is a few KB; never read a FIFO or /dev/zero
PINNED_FOLDER = ("data", "nca-roots")


@dataclass(frozen=True)
class PinnedCertificate:
    """One shipped NCA CA certificate: its file name and what it is."""

    file: str
    certificate: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.der).hexdigest()

    @property
    def is_root(self) -> bool:
        return self.certificate.subject == self.certificate.issuer


@cache
def pinned_certificates() -> tuple[PinnedCertificate, ...]:
    """The NCA's production roots and issuing CAs shipped as package data, by file name."""
    from importlib import resources  # only when pinned trust is needed

    folder = resources.files("wizard.keys").joinpath(*PINNED_FOLDER)
    found = []
    for entry in sorted(folder.iterdir(), key=lambda e: e.name):
        if entry.name.endswith(".cer"):
            found.append(PinnedCertificate(entry.name, load_certificate(entry.read_bytes())))
    return tuple(found)


def pinned_anchors(now: datetime) -> list[x509.Certificate]:
    """The NCA's self-signed production roots valid at ``now``: what a real authority's
    certificates must chain to."""
    return [
        p.certificate for p in pinned_certificates() if p.is_root and valid_at(p.certificate, now)
    ]


def pinned_intermediates() -> list[x509.Certificate]:
    """The NCA's production issuing CAs, for paths whose authority did not send them."""
    return [p.certificate for p in pinned_certificates() if not p.is_root]


@dataclass(frozen=True)
class TrustMaterial:
    """CA certificates (anchors) and CRL files read from the configured paths."""

    anchors: tuple[x509.Certificate, ...] = ()
    ca_files: tuple[Path, ...] = ()
    crl_files: tuple[Path, ...] = ()


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
            raise UsageError("trust_path_missing", path=str(path))
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
                    raise UsageError("trust_not_certificate", path=str(candidate)) from exc
                continue
            if is_ca(certificate):
                anchors.append(certificate)
                ca_files.append(candidate)
            elif named:
                raise UsageError("trust_not_ca", path=str(candidate))
    return TrustMaterial(tuple(anchors), tuple(ca_files), tuple(crl_files))
