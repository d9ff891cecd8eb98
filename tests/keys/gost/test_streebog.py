"""Streebog (GOST R 34.11-2012): the standard's examples, the empty message, the incremental
interface, and agreement with gostcrypto and OpenSSL's gost engine when they are installed."""

from __future__ import annotations

import os
import random
import shutil
import subprocess

import pytest

from wizard.keys.gost.streebog import Streebog, streebog256, streebog512

# GOST R 34.11-2012 / RFC 6986 print messages and hashes as big-endian vectors; in memory (and in
# every implementation's output) the bytes come reversed, hence the [::-1] below.
M1 = bytes.fromhex(
    "323130393837363534333231303938373635343332313039383736353433323130393837363534333231303938"
    "373635343332313039383736353433323130"
)[::-1]
M2 = bytes.fromhex(
    "fbe2e5f0eee3c820fbeafaebef20fffbf0e1e0f0f520e0ed20e8ece0ebe5f0f2f120fff0eeec20f120faf2fee5e2"
    "202ce8f6f3ede220e8e6eee1e8f0f2d1202ce8f0f2e5e220e5d1"
)[::-1]
H512_M1 = bytes.fromhex(
    "486f64c1917879417fef082b3381a4e211c324f074654c38823a7b76f830ad00"
    "fa1fbae42b1285c0352f227524bc9ab16254288dd6863dccd5b9f54a1ad0541b"
)[::-1]
H256_M1 = bytes.fromhex("00557be5e584fd52a449b16b0251d05d27f94ab76cbaa6da890b59d8ef1e159d")[::-1]
H512_M2 = bytes.fromhex(
    "28fbc9bada033b1460642bdcddb90c3fb3e56c497ccd0f62b8a2ad4935e85f03"
    "7613966de4ee00531ae60f3b5a47f8dae06915d5f2f194996fcabf2622e6881e"
)[::-1]
H256_M2 = bytes.fromhex("508f7e553c06501d749a66fc28c6cac0b005746d97537fa85d9e40904efed29d")[::-1]


def test_messages_are_the_standards() -> None:
    assert M1 == b"012345678901234567890123456789012345678901234567890123456789012"
    assert M2.decode("cp1251").startswith("Се ветри, Стрибожи внуци")
    assert len(M1) == 63 and len(M2) == 72


@pytest.mark.parametrize(
    ("message", "h512", "h256"),
    [(M1, H512_M1, H256_M1), (M2, H512_M2, H256_M2)],
    ids=["M1", "M2"],
)
def test_standard_examples(message: bytes, h512: bytes, h256: bytes) -> None:
    assert streebog512(message) == h512
    assert streebog256(message) == h256


def test_empty_message() -> None:
    # As OpenSSL's gost engine prints them (byte order).
    assert streebog512(b"").hex() == (
        "8e945da209aa869f0455928529bcae4679e9873ab707b55315f56ceb98bef0a7"
        "362f715528356ee83cda5f2aac4c6ad2ba3a715c1bcd81cb8e9f90bf4c1c1a8a"
    )
    assert streebog256(b"").hex() == (
        "3f539a213e97c802cc229d474c6aa32a825a360b2a933a949fd925208d9ce1bb"
    )


def test_incremental_matches_one_shot() -> None:
    rng = random.Random(2012)
    data = rng.randbytes(1000)
    for chunk in (1, 7, 63, 64, 65, 200):
        for size in (64, 32):
            h = Streebog(digest_size=size)
            for i in range(0, len(data), chunk):
                h.update(data[i : i + chunk])
            one_shot = streebog512(data) if size == 64 else streebog256(data)
            assert h.digest() == one_shot, (chunk, size)
            assert h.hexdigest() == one_shot.hex()


def test_copy_and_digest_leave_state_alone() -> None:
    h = Streebog(M1[:40])
    twin = h.copy()
    assert h.digest() == h.digest()
    h.update(M1[40:])
    assert h.digest() == H512_M1
    assert twin.digest() == streebog512(M1[:40])
    assert h.name == "streebog512" and Streebog(digest_size=32).name == "streebog256"
    assert h.digest_size == 64 and h.block_size == 64


def test_bad_digest_size_refused() -> None:
    with pytest.raises(ValueError):
        Streebog(digest_size=48)


def test_distinct_inputs_differ() -> None:
    # Padding must separate messages that differ only by trailing zero bytes.
    assert streebog512(b"") != streebog512(b"\x00")
    assert streebog512(b"\x00" * 63) != streebog512(b"\x00" * 64)
    assert streebog512(b"\x01") != streebog512(b"")


def test_agrees_with_gostcrypto() -> None:
    gosthash = pytest.importorskip("gostcrypto.gosthash", reason="gostcrypto is not installed")
    rng = random.Random(34112012)
    for length in (0, 1, 55, 63, 64, 65, 127, 128, 129, 500, 4096 + 17):
        data = rng.randbytes(length)
        ref512 = bytes(gosthash.new("streebog512", data=bytearray(data)).digest())
        ref256 = bytes(gosthash.new("streebog256", data=bytearray(data)).digest())
        assert streebog512(data) == ref512, length
        assert streebog256(data) == ref256, length


def _openssl_gost_digest(data: bytes, bits: int) -> bytes | None:
    """The digest from `openssl dgst -engine gost`, or None when the engine is not there."""
    if shutil.which("openssl") is None:
        return None
    proc = subprocess.run(
        ["openssl", "dgst", "-engine", "gost", f"-md_gost12_{bits}", "-binary"],
        input=data,
        capture_output=True,
        check=False,
    )
    if proc.returncode != 0 or len(proc.stdout) != bits // 8:
        return None
    return proc.stdout


def test_agrees_with_openssl_gost_engine() -> None:
    if _openssl_gost_digest(b"", 512) is None:
        pytest.skip("OpenSSL's gost engine is absent (Debian package libengine-gost-openssl)")
    for length in (0, 63, 64, 100, 1000):
        data = os.urandom(length)
        assert streebog512(data) == _openssl_gost_digest(data, 512), length
        assert streebog256(data) == _openssl_gost_digest(data, 256), length
