"""A private key as the rest of Qoltanba uses it, whatever its scheme: sign, show its public key,
export it as PKCS#8. RSA goes through `cryptography`; GOST R 34.10-2015 512 is
`wizard.keys.gost.keypair.GostKeyPair` (pure Python, imported only when a GOST key is met)."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wizard.errors import QoltanbaError, StoreError
from wizard.keys import oids
from wizard.keys.asn1 import key_identifier
from wizard.keys.oids import Scheme

RSA_BITS = 2048
SHA256_WITH_RSA = "1.2.840.113549.1.1.11"
SHA256 = "2.16.840.1.101.3.4.2.1"


class KeyPair(ABC):
    """One private key with its public half. Never printed: the repr names the scheme only."""

    scheme: Scheme

    @abstractmethod
    def public_key_info(self) -> bytes:
        """SubjectPublicKeyInfo, DER."""

    @abstractmethod
    def private_key_info(self) -> bytes:
        """PKCS#8 PrivateKeyInfo, DER (only ever written encrypted)."""

    @abstractmethod
    def sign(self, data: bytes) -> bytes:
        """The signature value over ``data`` with this scheme's hash."""

    @property
    @abstractmethod
    def signature_algorithm(self) -> dict[str, Any]:
        """The AlgorithmIdentifier of its signatures, for asn1crypto (``algorithm`` as an OID)."""

    @property
    @abstractmethod
    def digest_algorithm(self) -> str:
        """The OID of the hash its signatures use (CMS digestAlgorithm)."""

    def key_identifier(self) -> bytes:
        """RFC 5280 method 1: SHA-1 of the public key bits (the NCA names files after it)."""
        return key_identifier(self.public_key_info())

    def same_public_key(self, other: KeyPair | bytes) -> bool:
        theirs = other.public_key_info() if isinstance(other, KeyPair) else other
        return self.public_key_info() == theirs

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.scheme.value}>"


class RsaSha256KeyPair(KeyPair):
    """An RSA key pair signing PKCS#1 v1.5 with SHA-256, wherever its private key lives (in
    memory here, on a token in keys/tokens)."""

    scheme = Scheme.RSA

    @property
    def signature_algorithm(self) -> dict[str, Any]:
        return {"algorithm": SHA256_WITH_RSA, "parameters": None}

    @property
    def digest_algorithm(self) -> str:
        return SHA256


class RsaKeyPair(RsaSha256KeyPair):
    def __init__(self, key: rsa.RSAPrivateKey) -> None:
        self._key = key

    @classmethod
    def generate(cls, bits: int = RSA_BITS) -> RsaKeyPair:
        return cls(rsa.generate_private_key(public_exponent=65537, key_size=bits))

    @property
    def key(self) -> rsa.RSAPrivateKey:
        return self._key

    def public_key_info(self) -> bytes:
        return self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    def private_key_info(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.DER,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def key_pair_from_pkcs8(private_key_info: bytes) -> KeyPair | None:
    """The key pair held by a PKCS#8 blob, or None for a scheme this build cannot use."""
    from wizard.keys.pkcs12 import private_key_algorithm

    algorithm = private_key_algorithm(private_key_info)
    if algorithm == oids.RSA_ENCRYPTION:
        try:
            # The store's MAC vouched for these bytes and the public half is compared with the
            # certificate; OpenSSL re-checks every CRT signature, so the slow prime test is skipped.
            key = serialization.load_der_private_key(
                private_key_info, None, unsafe_skip_rsa_key_validation=True
            )
        except (ValueError, TypeError) as exc:
            raise StoreError("store_corrupt") from exc
        if isinstance(key, rsa.RSAPrivateKey):
            return RsaKeyPair(key)
    if algorithm == oids.GOST2015_512_KEY:
        from wizard.keys.gost.keypair import GostKeyPair

        return GostKeyPair.from_private_key_info(private_key_info)
    return None


def generate(scheme: Scheme, *, not_equal_to: Iterable[bytes] = ()) -> KeyPair:
    """A fresh key pair of the scheme, generated on this device, differing from the current keys
    (given as their SubjectPublicKeyInfo DER): a renewal must never certify an old key again."""
    key: KeyPair
    if scheme is Scheme.RSA:
        key = RsaKeyPair.generate()
    elif scheme is Scheme.GOST2015:
        from wizard.keys.gost.keypair import GostKeyPair

        key = GostKeyPair.generate()
    else:
        raise StoreError("store_unsupported")
    if any(key.same_public_key(old) for old in not_equal_to):
        raise QoltanbaError("key_not_new")
    return key
