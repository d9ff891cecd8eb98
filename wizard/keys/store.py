"""Open a current key store from disk: every refusal is one clear StoreError or WrongPassword."""

from __future__ import annotations

import errno
import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from wizard.errors import StoreError, WrongPassword
from wizard.keys.certificate import (
    CertificateFacts,
    certificate_public_key_info,
    describe,
    load_certificate,
    utc_now,
)
from wizard.keys.keypair import KeyPair, key_pair_from_pkcs8
from wizard.keys.pkcs12 import StoreContents, read_pkcs12
from wizard.keys.revocation import Revocation, check, material_near
from wizard.keys.verdict import Verdict, renewability

MAX_STORE_BYTES = 1 << 20  # NCA stores are a few KB; anything over 1 MiB is not one


def read_store_file(path: Path) -> bytes:
    """The bytes of a store file, refusing folders, missing paths and oversized files first."""
    name = str(path)
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise StoreError("store_missing", path=name) from exc
    except OSError as exc:
        raise StoreError("store_unreadable", path=name) from exc
    if path.is_dir():
        raise StoreError("store_is_folder", path=name)
    if st.st_size > MAX_STORE_BYTES:
        raise StoreError("store_too_large", path=name, limit_kib=MAX_STORE_BYTES // 1024)
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_STORE_BYTES + 1)
    except OSError as exc:
        if exc.errno == errno.EISDIR:
            raise StoreError("store_is_folder", path=name) from exc
        raise StoreError("store_unreadable", path=name) from exc
    if len(data) > MAX_STORE_BYTES:
        raise StoreError("store_too_large", path=name, limit_kib=MAX_STORE_BYTES // 1024)
    if not data:
        raise StoreError("store_empty", path=name)
    return data


@dataclass(frozen=True)
class KeyStore:
    """An opened store: its certificate, the facts, and the private key (never in a repr)."""

    path: Path | None
    certificate: x509.Certificate
    facts: CertificateFacts
    contents: StoreContents = field(repr=False)
    private_key: KeyPair | None = field(repr=False)  # None when this build cannot use the key
    key_matches: bool | None  # the key belongs to the certificate (None: cannot tell yet)
    revocation: Revocation

    def verdict(self, now: datetime | None = None) -> Verdict:
        return renewability(
            self.facts,
            now or utc_now(),
            revocation=self.revocation,
            key_matches=self.key_matches,
        )


def _key_matches(private_key: KeyPair | None, certificate_der: bytes) -> bool | None:
    if private_key is None:
        return None
    return private_key.same_public_key(certificate_public_key_info(certificate_der))


def open_store_bytes(
    data: bytes,
    password: str,
    *,
    path: Path | None = None,
    crl_files: list[Path] | None = None,
    ca_files: list[Path] | None = None,
) -> KeyStore:
    """Open a store from its bytes (a picked file on the web has no path)."""
    if len(data) > MAX_STORE_BYTES:
        raise StoreError("store_too_large", path=str(path or ""), limit_kib=MAX_STORE_BYTES // 1024)
    try:
        contents = read_pkcs12(data, password)
    except WrongPassword:
        if any(ch.isalpha() and not ch.isascii() for ch in password):
            raise WrongPassword("wrong_password_layout") from None  # typed in the Cyrillic layout
        raise
    certificate = load_certificate(contents.certificates[0])
    private_key = key_pair_from_pkcs8(contents.private_key_info)
    facts = describe(certificate)
    revocation = check(certificate, crl_files or [], ca_files or [])
    return KeyStore(
        path=path,
        certificate=certificate,
        facts=facts,
        contents=contents,
        private_key=private_key,
        key_matches=_key_matches(private_key, contents.certificates[0]),
        revocation=revocation,
    )


def open_store(
    path: str | os.PathLike[str],
    password: str,
    *,
    crl_files: list[Path] | None = None,
    look_nearby: bool = True,
) -> KeyStore:
    """Open a store file; CRLs and CA certificates kept beside it are used for revocation."""
    store_path = Path(path)
    data = read_store_file(store_path)
    crls, cas = material_near(store_path) if look_nearby else ([], [])
    return open_store_bytes(
        data, password, path=store_path, crl_files=[*crls, *(crl_files or [])], ca_files=cas
    )
