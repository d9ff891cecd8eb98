"""Cross-checks of our GOST R 34.10-2015 512 against independent implementations, both ways:

* gostcrypto (PyPI, pure Python): it takes big-endian keys, digests and signatures, so every
  value is byte-reversed on the way; skipped when gostcrypto is not installed;
* OpenSSL's gost engine (Debian package ``libengine-gost-openssl``): RFC 4491 layout, i.e. the
  whole signature byte-reversed, keys in PKCS#8 / SubjectPublicKeyInfo with the TC26 OIDs;
  skipped when the engine is absent.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from wizard.keys.gost import curve, gost3410
from wizard.keys.gost.streebog import streebog512

# --- gostcrypto ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def gc():
    """A gostcrypto signer for TC26 512 paramSetA."""
    sig = pytest.importorskip(
        "gostcrypto.gostsignature", reason="gostcrypto is not installed (pip install gostcrypto)"
    )
    from gostcrypto.gostsignature.gost_34_10_2012 import CURVES_R_1323565_1_024_2019

    return sig.new(sig.MODE_512, CURVES_R_1323565_1_024_2019["id-tc26-gost-3410-12-512-paramSetA"])


def _be_pair(data: bytes) -> bytes:
    """Our little-endian a‖b as gostcrypto's big-endian a‖b."""
    return data[:64][::-1] + data[64:][::-1]


def test_gostcrypto_curve_is_ours(gc) -> None:
    assert (gc._p, gc._a, gc._b, gc._q, gc._x, gc._y) == (
        curve.P,
        curve.A,
        curve.B,
        curve.Q,
        curve.GX,
        curve.GY,
    )


def test_ours_verifies_under_gostcrypto(gc) -> None:
    for _ in range(3):
        d, pub = gost3410.generate_keypair()
        data = os.urandom(100)
        sig = gost3410.sign(d, data)
        their_pub = bytes(gc.public_key_generate(bytearray(d.to_bytes(64, "big"))))
        assert their_pub == _be_pair(gost3410.encode_public_key(pub))
        # gostcrypto reads the digest big-endian; Kazakhstan reads it little-endian.
        digest = bytearray(streebog512(data)[::-1])
        assert gc.verify(bytearray(their_pub), digest, bytearray(_be_pair(sig)))
        tampered = bytearray(_be_pair(sig))
        tampered[5] ^= 0x40
        assert not gc.verify(bytearray(their_pub), digest, tampered)


def test_gostcrypto_verifies_under_ours(gc) -> None:
    for _ in range(3):
        d, pub = gost3410.generate_keypair()
        data = os.urandom(100)
        digest = bytearray(streebog512(data)[::-1])
        their_sig = bytes(gc.sign(bytearray(d.to_bytes(64, "big")), digest))
        ours = _be_pair(their_sig)
        assert gost3410.verify(pub, data, ours)
        assert not gost3410.verify(pub, data + b"\x00", ours)


def test_same_nonce_same_signature(gc) -> None:
    d = gost3410.generate_private_key()
    k = gost3410.generate_private_key()
    digest = streebog512(b"fixed nonce")
    theirs = bytes(
        gc.sign(
            bytearray(d.to_bytes(64, "big")),
            bytearray(digest[::-1]),
            bytearray(k.to_bytes(64, "big")),
        )
    )
    r, s = gost3410._sign_with_nonce(d, gost3410.digest_to_scalar(digest), k)
    assert gost3410.encode_signature(r, s) == _be_pair(theirs)


# --- OpenSSL gost engine ---------------------------------------------------------------------

# PKCS#8 head for id-tc26-gost3410-12-512 with {paramSetA, Streebog-512}, as the engine writes it;
# the private key OCTET STRING holds the 64-byte little-endian scalar.
_PKCS8_HEAD = bytes.fromhex(
    "3068020100"
    "3021"
    "0608"
    "2a85030701010102"  # 1.2.643.7.1.1.1.2 id-tc26-gost3410-12-512
    "3015"
    "0609"
    "2a8503070102010201"  # 1.2.643.7.1.2.1.2.1 id-tc26-gost-3410-12-512-paramSetA
    "0608"
    "2a85030701010203"  # 1.2.643.7.1.1.2.3 id-tc26-gost3411-12-512
    "0440"
)


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True, check=False)


@pytest.fixture(scope="module")
def engine(tmp_path_factory) -> Path:
    """A scratch folder, once OpenSSL with its gost engine is known to work here."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed")
    work = tmp_path_factory.mktemp("openssl-gost")
    probe = _openssl("dgst", "-engine", "gost", "-md_gost12_512", cwd=work, data=b"")
    if probe.returncode != 0:
        pytest.skip("OpenSSL's gost engine is absent (Debian package libengine-gost-openssl)")
    return work


def _write_key(work: Path, d: int) -> None:
    (work / "key.der").write_bytes(_PKCS8_HEAD + gost3410.encode_private_key(d))
    proc = _openssl(
        "pkey",
        "-engine",
        "gost",
        "-inform",
        "DER",
        "-in",
        "key.der",
        "-pubout",
        "-outform",
        "DER",
        "-out",
        "pub.der",
        cwd=work,
    )
    assert proc.returncode == 0, proc.stderr


def test_openssl_derives_our_public_key(engine: Path) -> None:
    d, pub = gost3410.generate_keypair()
    _write_key(engine, d)
    spki = (engine / "pub.der").read_bytes()
    # SubjectPublicKeyInfo ends with BIT STRING { OCTET STRING (128 bytes: x‖y little-endian) }.
    assert spki[-128:] == gost3410.encode_public_key(pub)
    assert spki[-131:-128] == b"\x04\x81\x80"


def test_ours_verifies_under_openssl(engine: Path) -> None:
    d, _ = gost3410.generate_keypair()
    _write_key(engine, d)
    data = os.urandom(300)
    (engine / "data.bin").write_bytes(data)
    (engine / "digest.bin").write_bytes(streebog512(data))
    (engine / "sig.bin").write_bytes(gost3410.sign(d, data)[::-1])
    proc = _openssl(
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_512",
        "-keyform",
        "DER",
        "-prverify",
        "key.der",
        "-signature",
        "sig.bin",
        "data.bin",
        cwd=engine,
    )
    assert proc.returncode == 0 and b"Verified OK" in proc.stdout, proc.stderr
    proc = _openssl(
        "pkeyutl",
        "-engine",
        "gost",
        "-verify",
        "-pubin",
        "-keyform",
        "DER",
        "-inkey",
        "pub.der",
        "-in",
        "digest.bin",
        "-sigfile",
        "sig.bin",
        cwd=engine,
    )
    assert proc.returncode == 0, proc.stderr
    # Negative control: a signature over other data must be refused by OpenSSL too.
    (engine / "sig.bin").write_bytes(gost3410.sign(d, data + b"x")[::-1])
    proc = _openssl(
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_512",
        "-keyform",
        "DER",
        "-prverify",
        "key.der",
        "-signature",
        "sig.bin",
        "data.bin",
        cwd=engine,
    )
    assert proc.returncode != 0


def test_openssl_verifies_under_ours(engine: Path) -> None:
    d, pub = gost3410.generate_keypair()
    _write_key(engine, d)
    data = os.urandom(300)
    (engine / "data.bin").write_bytes(data)
    (engine / "digest.bin").write_bytes(streebog512(data))
    proc = _openssl(
        "dgst",
        "-engine",
        "gost",
        "-md_gost12_512",
        "-keyform",
        "DER",
        "-sign",
        "key.der",
        "-out",
        "sig1.bin",
        "data.bin",
        cwd=engine,
    )
    assert proc.returncode == 0, proc.stderr
    proc = _openssl(
        "pkeyutl",
        "-engine",
        "gost",
        "-sign",
        "-keyform",
        "DER",
        "-inkey",
        "key.der",
        "-in",
        "digest.bin",
        "-out",
        "sig2.bin",
        cwd=engine,
    )
    assert proc.returncode == 0, proc.stderr
    for name in ("sig1.bin", "sig2.bin"):
        theirs = (engine / name).read_bytes()
        assert len(theirs) == 128
        assert gost3410.verify(pub, data, theirs[::-1]), name
        assert not gost3410.verify(pub, data, theirs), name  # RFC 4491 order is not ours
