"""Tests for wizard.keys.rc2: RFC 2268 known answers, CBC + PKCS#7, and OpenSSL agreement."""

from __future__ import annotations

import hashlib
import shutil
import subprocess

import pytest

from wizard.keys.rc2 import (
    RC2,
    pkcs7_pad,
    pkcs7_unpad,
    rc2_cbc_decrypt,
    rc2_cbc_encrypt,
)

# RFC 2268 section 5: (key, effective key bits, plaintext, ciphertext), all hex.
RFC2268_VECTORS = [
    ("0000000000000000", 63, "0000000000000000", "ebb773f993278eff"),
    ("ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"),
    ("3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"),
    ("88", 64, "0000000000000000", "61a8a244adacccf0"),
    ("88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"),
    ("88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"),
    ("88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"),
    (
        "88bca90e90875a7f0f79c384627bafb216f80a6f85920584c42fceb0be255daf1e",
        129,
        "0000000000000000",
        "5b78d3a43dfff1f1",
    ),
]

KEY40 = bytes.fromhex("0011223344")
IV = bytes.fromhex("0001020304050607")


def _data(n: int) -> bytes:
    """Deterministic, non-repeating test bytes of length n."""
    out = b""
    counter = 0
    while len(out) < n:
        out += hashlib.sha256(counter.to_bytes(4, "big")).digest()
        counter += 1
    return out[:n]


def _cbc_encrypt_raw(key: bytes, iv: bytes, plain: bytes, bits: int) -> bytes:
    """RC2-CBC without adding padding, to build ciphertexts whose padding is wrong on purpose."""
    assert len(plain) % 8 == 0
    cipher = RC2(key, bits)
    prev, out = iv, b""
    for i in range(0, len(plain), 8):
        block = bytes(a ^ b for a, b in zip(plain[i : i + 8], prev, strict=True))
        prev = cipher.encrypt_block(block)
        out += prev
    return out


@pytest.mark.parametrize(("key", "bits", "plain", "cipher"), RFC2268_VECTORS)
def test_rfc2268_known_answers(key: str, bits: int, plain: str, cipher: str) -> None:
    rc2 = RC2(bytes.fromhex(key), bits)
    assert rc2.encrypt_block(bytes.fromhex(plain)).hex() == cipher
    assert rc2.decrypt_block(bytes.fromhex(cipher)).hex() == plain


def test_effective_bits_change_the_cipher() -> None:
    # (Neighbouring values may agree for some keys: 63 and 64 bits do for this one, since
    # they differ only in masking one expanded-key byte, so the RFC's 63-bit vector covers that.)
    key = bytes.fromhex("88bca90e90875a7f0f79c384627bafb2")
    blocks = {RC2(key, bits).encrypt_block(bytes(8)) for bits in (40, 64, 128, 1024)}
    assert len(blocks) == 4


def test_cbc_known_answer_40_bit() -> None:
    # From `printf hello | openssl enc -rc2-40-cbc -K 0011223344 -iv 0001020304050607`
    # (OpenSSL 3.0.19 with the legacy provider), so CBC is pinned even where OpenSSL lacks RC2.
    assert rc2_cbc_encrypt(KEY40, IV, b"hello", 40).hex() == "92b3559791854334"
    assert rc2_cbc_decrypt(KEY40, IV, bytes.fromhex("92b3559791854334"), 40) == b"hello"


@pytest.mark.parametrize("length", [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 1000, 2048])
@pytest.mark.parametrize(("key", "bits"), [(KEY40, 40), (b"\x88" * 16, 128), (b"k", 1)])
def test_cbc_round_trip(length: int, key: bytes, bits: int) -> None:
    plain = _data(length)
    cipher = rc2_cbc_encrypt(key, IV, plain, bits)
    # PKCS#7 always adds 1..8 bytes.
    assert len(cipher) == (length // 8 + 1) * 8
    if length >= 8:
        assert plain[:8] not in cipher
    assert rc2_cbc_decrypt(key, IV, cipher, bits) == plain


def test_cbc_chains_blocks() -> None:
    plain = b"ABCDEFGH" * 3
    cipher = rc2_cbc_encrypt(KEY40, IV, plain, 40)
    blocks = [cipher[i : i + 8] for i in range(0, 24, 8)]
    assert len(set(blocks)) == 3  # ECB would repeat identical plaintext blocks
    assert rc2_cbc_encrypt(KEY40, bytes(8), plain, 40) != cipher  # the IV matters


@pytest.mark.parametrize(
    "last_block",
    [
        b"AAAAAAA\x00",  # zero is never a padding length
        b"AAAAAAA\x09",  # longer than a block
        b"\xff" * 8,
        b"AAAAA\x03\x02\x03",  # inconsistent padding bytes
        b"AAAAAAA\x02",  # says two bytes, but the one before is not 0x02
    ],
)
def test_bad_padding_refused(last_block: bytes) -> None:
    cipher = _cbc_encrypt_raw(KEY40, IV, b"12345678" + last_block, 40)
    with pytest.raises(ValueError, match="padding"):
        rc2_cbc_decrypt(KEY40, IV, cipher, 40)


def test_wrong_key_is_refused() -> None:
    cipher = rc2_cbc_encrypt(KEY40, IV, b"a certificate bag", 40)
    with pytest.raises(ValueError, match="padding"):
        rc2_cbc_decrypt(bytes.fromhex("0011223345"), IV, cipher, 40)


@pytest.mark.parametrize("length", [0, 7, 9, 17])
def test_ciphertext_length_refused(length: int) -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        rc2_cbc_decrypt(KEY40, IV, bytes(length), 40)


def test_bad_parameters_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        RC2(b"", 40)
    with pytest.raises(ValueError, match="key"):
        RC2(bytes(129), 40)
    with pytest.raises(ValueError, match="effective"):
        RC2(KEY40, 0)
    with pytest.raises(ValueError, match="effective"):
        RC2(KEY40, 1025)
    with pytest.raises(ValueError, match="IV"):
        rc2_cbc_encrypt(KEY40, bytes(7), b"x", 40)
    with pytest.raises(ValueError, match="IV"):
        rc2_cbc_decrypt(KEY40, bytes(9), bytes(8), 40)
    with pytest.raises(ValueError, match="blocks"):
        RC2(KEY40, 40).encrypt_block(bytes(7))
    with pytest.raises(ValueError, match="blocks"):
        RC2(KEY40, 40).decrypt_block(bytes(9))


def test_pkcs7_helpers() -> None:
    assert pkcs7_pad(b"") == b"\x08" * 8
    assert pkcs7_pad(b"abc") == b"abc" + b"\x05" * 5
    assert pkcs7_pad(b"abcdefgh") == b"abcdefgh" + b"\x08" * 8
    for n in range(20):
        assert pkcs7_unpad(pkcs7_pad(_data(n))) == _data(n)
    with pytest.raises(ValueError):
        pkcs7_unpad(b"")


# --- Cross-check with OpenSSL's command line (RC2 lives in OpenSSL 3's legacy provider) ---

_OPENSSL_CIPHERS = [("rc2-40-cbc", 5, 40), ("rc2-64-cbc", 8, 64), ("rc2-cbc", 16, 128)]


def _openssl_enc(
    name: str, key: bytes, iv: bytes, data: bytes, *, decrypt: bool = False
) -> subprocess.CompletedProcess[bytes] | None:
    exe = shutil.which("openssl")
    if exe is None:
        return None
    args = [exe, "enc", "-d" if decrypt else "-e", f"-{name}", "-K", key.hex(), "-iv", iv.hex()]
    args += ["-provider", "legacy", "-provider", "default"]
    return subprocess.run(args, input=data, capture_output=True, check=False, timeout=30)


def _require_openssl_rc2(name: str) -> None:
    key_len = next(n for cipher, n, _ in _OPENSSL_CIPHERS if cipher == name)
    probe = _openssl_enc(name, bytes(key_len), IV, b"x")
    if probe is None:
        pytest.skip("no `openssl` command on PATH")
    if probe.returncode != 0 or len(probe.stdout) != 8:
        lines = probe.stderr.decode(errors="replace").strip().splitlines()
        reason = lines[0] if lines else f"exit status {probe.returncode}"
        pytest.skip(f"openssl cannot do {name} (legacy provider unavailable?): {reason}")


@pytest.mark.parametrize("length", [0, 5, 8, 13, 2000])
@pytest.mark.parametrize(("name", "key_len", "bits"), _OPENSSL_CIPHERS)
def test_agrees_with_openssl(name: str, key_len: int, bits: int, length: int) -> None:
    _require_openssl_rc2(name)
    key = _data(key_len + 3)[3:]
    iv = _data(11)[3:]
    plain = _data(length)

    ours = rc2_cbc_encrypt(key, iv, plain, bits)
    theirs = _openssl_enc(name, key, iv, plain)
    assert theirs is not None and theirs.returncode == 0, theirs
    assert ours.hex() == theirs.stdout.hex()

    back = _openssl_enc(name, key, iv, ours, decrypt=True)
    assert back is not None and back.returncode == 0, back
    assert back.stdout == plain
    assert rc2_cbc_decrypt(key, iv, theirs.stdout, bits) == plain
