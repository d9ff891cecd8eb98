"""GOST keys inside X.509: read a Kazakh GOST 2015 SubjectPublicKeyInfo and verify a signature
(certificates, CRLs, requests, CMS) under it."""

from __future__ import annotations

from asn1crypto import core

from wizard.keys.asn1 import RawPublicKeyInfo, public_key_bits
from wizard.keys.gost.gost3410 import OID_KZ_GOST2015_512_PUBLIC_KEY, Point, decode_public_key
from wizard.keys.gost.gost3410 import verify as gost_verify


def public_point(public_key_info: bytes) -> Point:
    """The public point of a GOST 2015 512 SPKI; ValueError for anything else."""
    spki = RawPublicKeyInfo.load(public_key_info)
    if spki["algorithm"]["algorithm"].dotted != OID_KZ_GOST2015_512_PUBLIC_KEY:
        raise ValueError("not a GOST 2015 512 public key")
    return decode_public_key(core.OctetString.load(public_key_bits(public_key_info)).native)


def verify_spki(public_key_info: bytes, data: bytes, signature: bytes) -> bool:
    """True when ``signature`` (Kazakh layout r‖s little-endian) over ``data`` verifies."""
    try:
        point = public_point(public_key_info)
    except (ValueError, TypeError, KeyError):
        return False
    return gost_verify(point, data, signature)
