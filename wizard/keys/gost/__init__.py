"""GOST cryptography for Kazakhstan's NCA keys, in pure Python (no C extension, runs on phones).

* ``streebog``  — the GOST R 34.11-2012 hash (Streebog-512 and -256);
* ``curve``     — point arithmetic on TC26 512 paramSetA;
* ``gost3410``  — GOST R 34.10-2015 512-bit keys and signatures in Kazakhstan's byte order.

The names most callers need are re-exported here.
"""

from wizard.keys.gost.gost3410 import (
    OID_KZ_GOST2015_512_PARAMSET,
    OID_KZ_GOST2015_512_PUBLIC_KEY,
    OID_KZ_GOST2015_512_SIGNATURE,
    OID_KZ_STREEBOG512,
    Point,
    decode_private_key,
    decode_public_key,
    decode_signature,
    encode_private_key,
    encode_public_key,
    encode_signature,
    generate_keypair,
    generate_private_key,
    public_key,
    sign,
    sign_digest,
    verify,
    verify_digest,
)
from wizard.keys.gost.streebog import Streebog, streebog256, streebog512

__all__ = [
    "OID_KZ_GOST2015_512_PARAMSET",
    "OID_KZ_GOST2015_512_PUBLIC_KEY",
    "OID_KZ_GOST2015_512_SIGNATURE",
    "OID_KZ_STREEBOG512",
    "Point",
    "Streebog",
    "decode_private_key",
    "decode_public_key",
    "decode_signature",
    "encode_private_key",
    "encode_public_key",
    "encode_signature",
    "generate_keypair",
    "generate_private_key",
    "public_key",
    "sign",
    "sign_digest",
    "streebog256",
    "streebog512",
    "verify",
    "verify_digest",
]
