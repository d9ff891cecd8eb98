"""A GOST R 34.10-2015 512 key pair as the rest of Qoltanba uses it (`wizard.keys.keypair.KeyPair`),
and its key structures exactly as the NCA writes them (DOMAIN.md §6, checked on the real stores):

    SubjectPublicKeyInfo ::= SEQUENCE {
        SEQUENCE { OID 1.2.398.3.10.1.1.2.2,
                   SEQUENCE { OID 1.2.398.3.10.1.1.2.2.1, OID 1.2.398.3.10.1.3.3 } },
        BIT STRING { OCTET STRING (x little-endian 64 ‖ y little-endian 64) } }

    PrivateKeyInfo ::= SEQUENCE {
        INTEGER 0,
        SEQUENCE { OID 1.2.398.3.10.1.1.2.2,
                   SEQUENCE { OID 1.2.398.3.10.1.1.2.2.1, OID 1.2.398.3.10.1.3.3 } },
        OCTET STRING { OCTET STRING (d little-endian, 64 bytes) } }

Written the same way, a store of ours holds the key byte for byte as an NCA store would.
"""

from __future__ import annotations

from typing import Any

from asn1crypto import core

from wizard.errors import StoreError
from wizard.keys.asn1 import RawPrivateKeyInfo
from wizard.keys.gost import gost3410
from wizard.keys.gost.curve import Point
from wizard.keys.keypair import KeyPair
from wizard.keys.oids import Scheme

# The TC26 512 paramSetA curve under Kazakhstan's OID, and under TC26's own (same curve).
_CURVES = (gost3410.OID_KZ_GOST2015_512_PARAMSET, gost3410.OID_TC26_512_PARAMSET_A)


class _Algorithm(core.Sequence):
    _fields = [("algorithm", core.ObjectIdentifier), ("parameters", core.Any, {"optional": True})]


class _KeyParameters(core.Sequence):
    _fields = [
        ("public_key_param_set", core.ObjectIdentifier),
        ("digest_param_set", core.ObjectIdentifier, {"optional": True}),
    ]


class _PublicKeyInfo(core.Sequence):
    _fields = [("algorithm", _Algorithm), ("public_key", core.OctetBitString)]


class _PrivateKeyInfo(core.Sequence):
    _fields = [
        ("version", core.Integer),
        ("private_key_algorithm", _Algorithm),
        ("private_key", core.OctetString),
    ]


def _algorithm() -> _Algorithm:
    parameters = _KeyParameters(
        {
            "public_key_param_set": gost3410.OID_KZ_GOST2015_512_PARAMSET,
            "digest_param_set": gost3410.OID_KZ_STREEBOG512,
        }
    )
    return _Algorithm(
        {
            "algorithm": gost3410.OID_KZ_GOST2015_512_PUBLIC_KEY,
            "parameters": core.Any.load(parameters.dump()),
        }
    )


def encode_public_key_info(point: Point) -> bytes:
    """The NCA's SubjectPublicKeyInfo (DER) for a public point."""
    bits = core.OctetString(gost3410.encode_public_key(point)).dump()
    return _PublicKeyInfo({"algorithm": _algorithm(), "public_key": bits}).dump()


def encode_private_key_info(private_key: int) -> bytes:
    """The NCA's PKCS#8 PrivateKeyInfo (DER) for a private scalar."""
    inner = core.OctetString(gost3410.encode_private_key(private_key)).dump()
    return _PrivateKeyInfo(
        {"version": 0, "private_key_algorithm": _algorithm(), "private_key": inner}
    ).dump()


def is_nca_public_key_info(public_key_info: bytes) -> bool:
    """True for a GOST 2015 512 SubjectPublicKeyInfo encoded exactly as the NCA encodes one: a
    point on the curve, with the NCA's algorithm parameters, in DER."""
    from wizard.keys.gost.x509 import public_point

    try:
        return encode_public_key_info(public_point(public_key_info)) == public_key_info
    except (ValueError, TypeError, KeyError):
        return False


def decode_private_key_info(private_key_info: bytes) -> int | None:
    """The private scalar of a GOST 2015 512 PKCS#8 key; None for another curve or algorithm
    (a key this build cannot use); StoreError("store_corrupt") for a damaged one."""
    try:
        info = RawPrivateKeyInfo.load(private_key_info)
        algorithm = info["private_key_algorithm"]
        if algorithm["algorithm"].dotted != gost3410.OID_KZ_GOST2015_512_PUBLIC_KEY:
            return None
        raw_parameters = algorithm["parameters"]
        if raw_parameters is None or isinstance(raw_parameters, core.Void):
            return None  # no curve named: nothing says it is TC26 512 paramSetA
        parameters = _KeyParameters.load(raw_parameters.dump())
        if parameters["public_key_param_set"].dotted not in _CURVES:
            return None
        digest = parameters["digest_param_set"]
        if digest.native is not None and digest.dotted != gost3410.OID_KZ_STREEBOG512:
            return None
        content = info["private_key"].native
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as exc:
        raise StoreError("store_corrupt") from exc
    if len(content) != gost3410.PRIVATE_KEY_SIZE:
        # The NCA wraps the 64 bytes in one more OCTET STRING; bare 64 bytes are read too.
        try:
            content = core.OctetString.load(content, strict=True).native
        except (ValueError, TypeError) as exc:
            raise StoreError("store_corrupt") from exc
    try:
        return gost3410.decode_private_key(content)
    except ValueError as exc:
        raise StoreError("store_corrupt") from exc


class GostKeyPair(KeyPair):
    """A GOST R 34.10-2015 512-bit key (TC26 paramSetA) signing with Streebog-512 in
    Kazakhstan's byte order. The scalar never appears in a repr."""

    scheme = Scheme.GOST2015

    def __init__(self, private_key: int, public: Point | None = None) -> None:
        self._d = private_key
        self._point = public if public is not None else gost3410.public_key(private_key)
        self._spki = encode_public_key_info(self._point)

    @classmethod
    def generate(cls) -> GostKeyPair:
        """A fresh key from the ``secrets`` CSPRNG."""
        d, point = gost3410.generate_keypair()
        return cls(d, point)

    @classmethod
    def from_private_key_info(cls, private_key_info: bytes) -> GostKeyPair | None:
        d = decode_private_key_info(private_key_info)
        return None if d is None else cls(d)

    @property
    def public_point(self) -> Point:
        return self._point

    def public_key_info(self) -> bytes:
        return self._spki

    def private_key_info(self) -> bytes:
        return encode_private_key_info(self._d)

    def sign(self, data: bytes) -> bytes:
        return gost3410.sign(self._d, data)

    @property
    def signature_algorithm(self) -> dict[str, Any]:
        return {"algorithm": gost3410.OID_KZ_GOST2015_512_SIGNATURE, "parameters": None}

    @property
    def digest_algorithm(self) -> str:
        return gost3410.OID_KZ_STREEBOG512
