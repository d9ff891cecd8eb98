"""Key structures read without knowing the key's algorithm: asn1crypto's own refuse the Kazakh
GOST OIDs, so these keep the algorithm as a raw OID and its parameters as raw bytes."""

from __future__ import annotations

import hashlib

from asn1crypto import core

# What asn1crypto and cryptography raise on malformed input, whichever structure it was (the
# names and extensions of a certificate are parsed lazily, long after the load succeeded).
PARSE_ERRORS = (
    ValueError,
    TypeError,
    KeyError,
    IndexError,
    OverflowError,
    AttributeError,
    RecursionError,
)


class RawAlgorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class RawPublicKeyInfo(core.Sequence):
    """SubjectPublicKeyInfo with any algorithm."""

    _fields = [("algorithm", RawAlgorithm), ("public_key", core.BitString)]


class RawPrivateKeyInfo(core.Sequence):
    """PKCS#8 PrivateKeyInfo with any algorithm."""

    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", RawAlgorithm),
        ("private_key", core.OctetString),
        ("attributes", core.Any, {"implicit": 0, "optional": True}),
    ]


def public_key_bits(public_key_info: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's bytes (after the unused-bits octet)."""
    return RawPublicKeyInfo.load(public_key_info)["public_key"].contents[1:]


def key_identifier(public_key_info: bytes) -> bytes:
    """RFC 5280 method 1 (SHA-1 of the key bits), as the NCA names its stores, for any scheme."""
    return hashlib.sha1(public_key_bits(public_key_info), usedforsecurity=False).digest()
