"""Open a current key store from disk: every refusal is one clear StoreError or WrongPassword."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from cryptography import x509

from wizard.errors import QoltanbaError, StoreError, WrongPassword
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
from wizard.keys.safe_read import read_regular_file
from wizard.keys.verdict import Verdict, renewability

MAX_STORE_BYTES = 1 << 20  # NCA stores are a few KB; anything over 1 MiB is not one
# What a parser or a key's arithmetic may raise on hostile bytes that passed the MAC.
PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    ArithmeticError,
    AttributeError,
    RecursionError,
)


def read_store_file(path: Path) -> bytes:
    """The bytes of a store file, refusing missing paths, folders, FIFOs, devices, sockets, kernel
    files (/proc, /sys) and oversized files before reading more than the limit."""
    data = read_regular_file(path, MAX_STORE_BYTES)
    if not data:
        raise StoreError("store_empty", path=str(path))
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
    facts = describe(certificate)
    try:
        # The MAC vouches for these bytes only as far as the password's holder goes: a hostile
        # file made with a known password reaches here, so whatever breaks is still damage.
        private_key = key_pair_from_pkcs8(contents.private_key_info)
        key_matches = _key_matches(private_key, contents.certificates[0])
    except QoltanbaError:
        raise
    except PARSE_ERRORS as exc:
        raise StoreError("store_corrupt") from exc
    revocation = check(certificate, crl_files or [], ca_files or [])
    return KeyStore(
        path=path,
        certificate=certificate,
        facts=facts,
        contents=contents,
        private_key=private_key,
        key_matches=key_matches,
        revocation=revocation,
    )


def open_store(
    path: str | os.PathLike[str],
    password: str,
    *,
    crl_files: list[Path] | None = None,
    ca_files: list[Path] | None = None,
    look_nearby: bool = True,
) -> KeyStore:
    """Open a store file; CRLs and CA certificates kept beside it (and those given) are used for
    revocation (`wizard.keys.revocation`: only what is at hand, never the network)."""
    store_path = Path(path)
    data = read_store_file(store_path)
    crls, cas = material_near(store_path) if look_nearby else ([], [])
    return open_store_bytes(
        data,
        password,
        path=store_path,
        crl_files=[*crls, *(crl_files or [])],
        ca_files=[*cas, *(ca_files or [])],
    )
