"""GOST R 34.10-2015 512 (TC26 paramSetA) in Kazakhstan's byte order: curve arithmetic, a fixed
known answer, round trips, tampering, and the encoders' refusals."""

from __future__ import annotations

import random

import pytest

from wizard.keys.gost import curve, gost3410
from wizard.keys.gost.streebog import streebog512

G = (curve.GX, curve.GY)

# Computed with gostcrypto 1.2.5 (an independent implementation, big-endian API) for
# d = Streebog-512("Qoltanba known-answer private key") mod q and
# k = Streebog-512("Qoltanba known-answer nonce") mod q, both read little-endian, then converted
# to Kazakhstan's little-endian layout.
KAT_DATA = b"Qoltanba known-answer message"
KAT_PUBLIC = bytes.fromhex(
    "989032d0fd467ca6a84b7811bc66606d23b29fe6b8edab4ec9f0f93aba9f6b7a"
    "860eac461495b3ca696c84fac6f41aed91788693402d33737ebb67cc88ff92f9"
    "1646c77cf34b7e220f25149fa583bef5b0fbd414bfe37358d13e4a7e1424ba0d"
    "8490a7f3d4badcf51bee3d0888425461730919f991a4e16248656cf3c645cf86"
)
KAT_SIGNATURE = bytes.fromhex(
    "4b2045a013a4722fe99aeafa6af4628649b80a216b0f144d4b725777dfa1249b"
    "f18e431adcc361c2604d720a2667bb74bf348a2eb80262db88ac1813b660dd50"
    "77f2d7adef5d93dfb8c5a75e22294fb9001c087f9ea2fd1db357deec457cd693"
    "de6e8cd00e5df7f31b229b433396ed6dc05281944374fde675c71198d68aa232"
)


def _kat_scalar(label: bytes) -> int:
    return int.from_bytes(streebog512(label), "little") % curve.Q


# --- the curve -------------------------------------------------------------------------------


def test_domain_parameters() -> None:
    assert curve.P == 2**512 - 569
    assert curve.A == curve.P - 3
    assert curve.is_on_curve(G)
    assert curve.Q.bit_length() == 512
    # Fermat test with a few bases: p and q are prime (cheap sanity check of the constants).
    for n in (curve.P, curve.Q):
        for base in (2, 3, 5, 7):
            assert pow(base, n - 1, n) == 1


def test_group_order() -> None:
    assert curve.mul_double(1, curve.Q - 1, G) is None  # G + (q−1)·G = q·G = O
    assert curve.mul_base(curve.Q - 1) == (curve.GX, curve.P - curve.GY)
    assert curve.mul(1, G) == G
    assert curve.mul(0, G) is None


def test_fixed_and_variable_base_agree() -> None:
    rng = random.Random(3410)
    edges = (1, 2, 3, 15, 16, 17, 2**255, 2**511, curve.Q - 2)
    for k in (*edges, *[rng.randrange(1, curve.Q) for _ in range(6)]):
        expected = curve.mul(k, G)
        assert curve.mul_base(k) == expected, k
        assert curve.is_on_curve(expected)


def test_linearity() -> None:
    rng = random.Random(7836)
    for _ in range(4):
        a, b = rng.randrange(1, curve.Q), rng.randrange(1, curve.Q)
        point = curve.mul_base(rng.randrange(1, curve.Q))
        # a·G + b·P computed jointly equals the two products added the slow way.
        total = curve.mul_double(a, b, point)
        assert total == curve.mul(1, total)  # stays a normalised affine point
        a_g, b_p, b_g = curve.mul_base(a), curve.mul(b, point), curve.mul_base(b)
        assert total == _affine_add(a_g, b_p)
        assert curve.mul_base((a + b) % curve.Q) == _affine_add(a_g, b_g)


def test_doubling_inside_addition() -> None:
    # Adding a point to itself must double it, not divide by zero.
    assert curve.mul_double(1, 1, G) == curve.mul_base(2)
    point = curve.mul_base(12345)
    assert curve.mul_double(12345, 1, point) == curve.mul_base(24690)


def test_scalar_range_enforced() -> None:
    for bad in (0, curve.Q, -1):
        with pytest.raises(ValueError):
            curve.mul_base(bad)
    with pytest.raises(ValueError):
        curve.mul_double(curve.Q, 1, G)


def _affine_add(p1: tuple[int, int], p2: tuple[int, int]) -> tuple[int, int]:
    """Textbook affine addition, distinct x only: an independent reference for the tests."""
    (x1, y1), (x2, y2) = p1, p2
    lam = (y2 - y1) * pow(x2 - x1, -1, curve.P) % curve.P
    x3 = (lam * lam - x1 - x2) % curve.P
    return x3, (lam * (x1 - x3) - y1) % curve.P


# --- signatures ------------------------------------------------------------------------------


def test_known_answer_from_gostcrypto() -> None:
    d = _kat_scalar(b"Qoltanba known-answer private key")
    k = _kat_scalar(b"Qoltanba known-answer nonce")
    assert gost3410.encode_public_key(gost3410.public_key(d)) == KAT_PUBLIC
    e = gost3410.digest_to_scalar(streebog512(KAT_DATA))
    r, s = gost3410._sign_with_nonce(d, e, k)
    assert gost3410.encode_signature(r, s) == KAT_SIGNATURE
    pub = gost3410.decode_public_key(KAT_PUBLIC)
    assert gost3410.verify(pub, KAT_DATA, KAT_SIGNATURE)
    assert not gost3410.verify(pub, KAT_DATA + b".", KAT_SIGNATURE)


def test_round_trip() -> None:
    d, pub = gost3410.generate_keypair()
    assert pub == gost3410.public_key(d)
    for data in (b"", b"x", bytes(range(256)) * 5):
        sig = gost3410.sign(d, data)
        assert len(sig) == gost3410.SIGNATURE_SIZE
        assert gost3410.verify(pub, data, sig)
        digest = streebog512(data)
        assert gost3410.verify_digest(pub, digest, sig)
        assert gost3410.verify(pub, data, gost3410.sign_digest(d, digest))


def test_signatures_are_randomised() -> None:
    d = gost3410.generate_private_key()
    assert gost3410.sign(d, b"same") != gost3410.sign(d, b"same")


def test_tampering_fails() -> None:
    d, pub = gost3410.generate_keypair()
    data = b"application for renewal"
    sig = gost3410.sign(d, data)
    assert gost3410.verify(pub, data, sig)
    assert not gost3410.verify(pub, data + b"!", sig)
    assert not gost3410.verify(pub, b"Application for renewal", sig)
    for pos in (0, 63, 64, 127):  # a bit of r and a bit of s, both ends
        bad = bytearray(sig)
        bad[pos] ^= 0x01
        assert not gost3410.verify(pub, data, bytes(bad)), pos
    other = gost3410.public_key(gost3410.generate_private_key())
    assert not gost3410.verify(other, data, sig)
    # The byte order matters: RFC 4491's layout (the byte-reverse) does not verify.
    assert not gost3410.verify(pub, data, sig[::-1])


def test_malformed_signatures_are_invalid_not_errors() -> None:
    d, pub = gost3410.generate_keypair()
    data = b"data"
    sig = gost3410.sign(d, data)
    r, s = gost3410.decode_signature(sig)
    q_le = curve.Q.to_bytes(64, "little")
    zero = bytes(64)
    for bad in (
        b"",
        sig[:-1],
        sig + b"\x00",
        zero + sig[64:],
        sig[:64] + zero,
        q_le + sig[64:],
        sig[:64] + q_le,
        b"\xff" * 128,
    ):
        assert gost3410.verify(pub, data, bad) is False
    assert gost3410.verify(pub, data, gost3410.encode_signature(r, s)) is True


def test_digest_scalar() -> None:
    assert gost3410.digest_to_scalar(bytes(64)) == 1  # e = 0 becomes 1
    assert gost3410.digest_to_scalar(curve.Q.to_bytes(64, "little")) == 1
    assert gost3410.digest_to_scalar(b"\x02" + bytes(63)) == 2  # little-endian
    with pytest.raises(ValueError):
        gost3410.digest_to_scalar(bytes(32))


def test_zero_digest_signs_and_verifies() -> None:
    d, pub = gost3410.generate_keypair()
    sig = gost3410.sign_digest(d, bytes(64))
    assert gost3410.verify_digest(pub, bytes(64), sig)
    assert gost3410.verify_digest(pub, curve.Q.to_bytes(64, "little"), sig)  # same e = 1


# --- encodings -------------------------------------------------------------------------------


def test_key_encodings_round_trip() -> None:
    d, pub = gost3410.generate_keypair()
    raw = gost3410.encode_private_key(d)
    assert len(raw) == 64 and int.from_bytes(raw, "little") == d
    assert gost3410.decode_private_key(raw) == d
    enc = gost3410.encode_public_key(pub)
    assert enc[:64] == pub[0].to_bytes(64, "little") and enc[64:] == pub[1].to_bytes(64, "little")
    assert gost3410.decode_public_key(enc) == pub


def test_bad_keys_refused() -> None:
    for bad in (0, curve.Q, -5):
        with pytest.raises(ValueError):
            gost3410.public_key(bad)
        with pytest.raises(ValueError):
            gost3410.sign(bad, b"data")
    with pytest.raises(ValueError):
        gost3410.decode_private_key(bytes(64))
    with pytest.raises(ValueError):
        gost3410.decode_private_key(curve.Q.to_bytes(64, "little"))
    with pytest.raises(ValueError):
        gost3410.decode_private_key(b"\x01" * 63)
    pub = gost3410.encode_public_key(gost3410.public_key(7))
    y_plus_1 = (int.from_bytes(pub[64:], "little") + 1) % curve.P
    off_curve = pub[:64] + y_plus_1.to_bytes(64, "little")
    with pytest.raises(ValueError):
        gost3410.decode_public_key(off_curve)
    with pytest.raises(ValueError):
        gost3410.decode_public_key(pub[:-1])
    with pytest.raises(ValueError):
        gost3410.verify((curve.GX, curve.GY + 1), b"data", bytes(128))
    with pytest.raises(ValueError):
        gost3410.encode_signature(0, 1)


def test_nothing_heavy_is_imported() -> None:
    import subprocess
    import sys
    from pathlib import Path

    code = (
        "import sys, wizard.keys.gost; "
        "bad = [m for m in ('flet', 'httpx') if m in sys.modules]; "
        "print(','.join(bad))"
    )
    root = Path(__file__).resolve().parents[3]
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=root
    )
    assert out.stdout.strip() == ""
