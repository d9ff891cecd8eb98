"""GOST R 34.10-2015 (= 34.10-2012) 512-bit signatures as Kazakhstan's NCA uses them.

Curve TC26 512 paramSetA, hash Streebog-512, and Kazakhstan's byte order (DOMAIN.md §6), which
is the byte-reverse of the RFC 4491 / RFC 7091 layouts:

* private key: the scalar d (1 <= d < q) as 64 bytes little-endian;
* public key:  x little-endian (64 bytes) ‖ y little-endian (64 bytes), the content of the
  OCTET STRING inside subjectPublicKey;
* digest:      e = Streebog-512(data) read as a little-endian integer, mod q (0 becomes 1);
* signature:   r little-endian (64 bytes) ‖ s little-endian (64 bytes), the signatureValue /
  CMS signature bytes.

Only this combination verifies the NCA's real test chain root → intermediate → leaf.

Typical use::

    d = generate_private_key()
    pub = public_key(d)
    sig = sign(d, data)
    assert verify(pub, data, sig)
    der_key = encode_public_key(pub)          # 128 bytes for the certificate request

The arithmetic is pure Python and not constant-time (see ``curve``).
"""

from __future__ import annotations

import secrets

from wizard.keys.gost import curve
from wizard.keys.gost.curve import Point
from wizard.keys.gost.streebog import streebog512

__all__ = [
    "DIGEST_SIZE",
    "OID_KZ_GOST2015_512_PARAMSET",
    "OID_KZ_GOST2015_512_PUBLIC_KEY",
    "OID_KZ_GOST2015_512_SIGNATURE",
    "OID_KZ_STREEBOG512",
    "OID_TC26_512_PARAMSET_A",
    "PRIVATE_KEY_SIZE",
    "PUBLIC_KEY_SIZE",
    "SIGNATURE_SIZE",
    "Point",
    "decode_private_key",
    "decode_public_key",
    "decode_signature",
    "digest_to_scalar",
    "encode_private_key",
    "encode_public_key",
    "encode_signature",
    "generate_keypair",
    "generate_private_key",
    "public_key",
    "sign",
    "sign_digest",
    "verify",
    "verify_digest",
]

# Kazakhstan's own OIDs (not the Russian 1.2.643.7.1.*), as the NCA's certificates carry them.
OID_KZ_GOST2015_512_PUBLIC_KEY = "1.2.398.3.10.1.1.2.2"
OID_KZ_GOST2015_512_PARAMSET = "1.2.398.3.10.1.1.2.2.1"
OID_KZ_STREEBOG512 = "1.2.398.3.10.1.3.3"
OID_KZ_GOST2015_512_SIGNATURE = "1.2.398.3.10.1.1.2.3.2"
# The same curve under its TC26 name, for interoperability with other GOST software.
OID_TC26_512_PARAMSET_A = "1.2.643.7.1.2.1.2.1"

PRIVATE_KEY_SIZE = 64
PUBLIC_KEY_SIZE = 128
SIGNATURE_SIZE = 128
DIGEST_SIZE = 64

_Q = curve.Q


def generate_private_key() -> int:
    """A fresh private scalar d, uniform in [1, q), from the ``secrets`` CSPRNG."""
    return secrets.randbelow(_Q - 1) + 1


def public_key(private_key: int) -> Point:
    """The public point d·G of a private scalar.  Raises ValueError unless 1 <= d < q."""
    _check_private(private_key)
    return curve.mul_base(private_key)


def generate_keypair() -> tuple[int, Point]:
    """A fresh (private scalar, public point) pair."""
    d = generate_private_key()
    return d, curve.mul_base(d)


def digest_to_scalar(digest: bytes) -> int:
    """e of GOST R 34.10: the 64-byte digest as a little-endian integer mod q, 0 mapped to 1."""
    if len(digest) != DIGEST_SIZE:
        raise ValueError(f"a Streebog-512 digest is {DIGEST_SIZE} bytes, got {len(digest)}")
    return int.from_bytes(digest, "little") % _Q or 1


def sign(private_key: int, data: bytes) -> bytes:
    """Sign ``data`` (hashed here with Streebog-512); returns r‖s, 128 bytes little-endian."""
    return sign_digest(private_key, streebog512(data))


def sign_digest(private_key: int, digest: bytes) -> bytes:
    """Sign a 64-byte Streebog-512 digest (as ``streebog512`` returns it); returns r‖s."""
    _check_private(private_key)
    e = digest_to_scalar(digest)
    while True:
        k = secrets.randbelow(_Q - 1) + 1
        result = _sign_with_nonce(private_key, e, k)
        if result is not None:  # r or s came out 0: astronomically rare, draw another k
            return encode_signature(*result)


def _sign_with_nonce(d: int, e: int, k: int) -> tuple[int, int] | None:
    """(r, s) for scalar d, digest scalar e and nonce k, or None if r or s is 0.

    Separate from sign_digest so tests can compare with other implementations for a fixed k;
    never reuse a nonce for real signatures.
    """
    r = curve.mul_base(k)[0] % _Q
    if r == 0:
        return None
    s = (r * d + k * e) % _Q
    if s == 0:
        return None
    return r, s


def verify(public: Point, data: bytes, signature: bytes) -> bool:
    """True if ``signature`` (r‖s little-endian) is valid for ``data`` under ``public``.

    A malformed signature is simply invalid (False); a public point that is not on the curve
    raises ValueError, since that is a broken key rather than a bad signature.
    """
    return verify_digest(public, streebog512(data), signature)


def verify_digest(public: Point, digest: bytes, signature: bytes) -> bool:
    """Like ``verify`` for an already computed 64-byte Streebog-512 digest."""
    if not curve.is_on_curve(public):
        raise ValueError("public key is not a point of the TC26 512 paramSetA curve")
    e = digest_to_scalar(digest)
    if len(signature) != SIGNATURE_SIZE:
        return False
    r, s = decode_signature(signature)
    if not (0 < r < _Q and 0 < s < _Q):
        return False
    v = pow(e, -1, _Q)
    z1 = s * v % _Q
    z2 = -r * v % _Q
    c = curve.mul_double(z1, z2, public)
    return c is not None and c[0] % _Q == r


def encode_private_key(private_key: int) -> bytes:
    """The 64-byte little-endian form of a private scalar (Kazakhstan's private-key layout)."""
    _check_private(private_key)
    return private_key.to_bytes(PRIVATE_KEY_SIZE, "little")


def decode_private_key(data: bytes) -> int:
    """A private scalar from its 64-byte little-endian form; ValueError unless 1 <= d < q."""
    if len(data) != PRIVATE_KEY_SIZE:
        raise ValueError(f"a private key is {PRIVATE_KEY_SIZE} bytes, got {len(data)}")
    d = int.from_bytes(data, "little")
    _check_private(d)
    return d


def encode_public_key(point: Point) -> bytes:
    """x‖y, each 64 bytes little-endian: the OCTET STRING content of the subjectPublicKey."""
    if not curve.is_on_curve(point):
        raise ValueError("public key is not a point of the TC26 512 paramSetA curve")
    x, y = point
    return x.to_bytes(64, "little") + y.to_bytes(64, "little")


def decode_public_key(data: bytes) -> Point:
    """The point from x‖y (little-endian, 128 bytes); ValueError if it is not on the curve."""
    if len(data) != PUBLIC_KEY_SIZE:
        raise ValueError(f"a public key is {PUBLIC_KEY_SIZE} bytes, got {len(data)}")
    point = (int.from_bytes(data[:64], "little"), int.from_bytes(data[64:], "little"))
    if not curve.is_on_curve(point):
        raise ValueError("public key is not a point of the TC26 512 paramSetA curve")
    return point


def encode_signature(r: int, s: int) -> bytes:
    """r‖s, each 64 bytes little-endian (the signatureValue bytes of an NCA certificate)."""
    if not (0 < r < _Q and 0 < s < _Q):
        raise ValueError("signature component out of range")
    return r.to_bytes(64, "little") + s.to_bytes(64, "little")


def decode_signature(data: bytes) -> tuple[int, int]:
    """(r, s) from the 128-byte little-endian r‖s (range is left to the verifier)."""
    if len(data) != SIGNATURE_SIZE:
        raise ValueError(f"a signature is {SIGNATURE_SIZE} bytes, got {len(data)}")
    return int.from_bytes(data[:64], "little"), int.from_bytes(data[64:], "little")


def _check_private(d: int) -> None:
    if not isinstance(d, int) or not 0 < d < _Q:
        raise ValueError("private key must be an integer with 1 <= d < q")
