"""RC2 (RFC 2268) in pure Python, because `cryptography` refuses the 40-bit RC2 NCA key stores use.

NCA PKCS#12 files encrypt their certificate bag with pbeWithSHA1And40BitRC2-CBC. This module
gives the block cipher (with the "effective key bits" parameter RFC 2268 defines) and CBC mode
with PKCS#7 padding; deriving the key and IV from a password is the caller's business.
"""

from __future__ import annotations

import struct

__all__ = [
    "BLOCK_SIZE",
    "RC2",
    "pkcs7_pad",
    "pkcs7_unpad",
    "rc2_cbc_decrypt",
    "rc2_cbc_encrypt",
]

BLOCK_SIZE = 8

# RFC 2268 section 2: a permutation of 0..255 derived from the digits of pi.
_PITABLE = bytes.fromhex(
    "d978f9c419ddb5ed28e9fd794aa0d89d"
    "c67e37832b76538e624c6488448bfba2"
    "179a59f587b34f1361456d8d09817d32"
    "bd8f40eb86b77b0bf09521225c6b4e82"
    "54d66593ce60b21c7356c014a78cf1dc"
    "1275ca1f3bbee4d1423dd430a33cb626"
    "6fbf0eda4669075727f21d9bbc944303"
    "f811c7f690ef3ee706c3d52fc8661ed7"
    "08e8eade8052eef784aa72ac354d6a2a"
    "961ad2715a1549744b9fd05e0418a4ec"
    "c2e0416e0f51cbcc2491af50a1f47039"
    "997c3a8523b8b47afc02365b25559731"
    "2d5dfa98e38a92ae05df2910676cbac9"
    "d300e6cfe19ea82c6316013f58e289a9"
    "0d38341bab33ffb0bb480c5fb9b1cd2e"
    "c5f3db47e5a59c770aa62068fe7fc1ad"
)

_BLOCK = struct.Struct("<4H")
_MASK = 0xFFFF


def _expand_key(key: bytes, effective_bits: int) -> tuple[int, ...]:
    """RFC 2268 section 2: expand `key` into the 64 16-bit words K[0..63]."""
    t = len(key)
    if not 1 <= t <= 128:
        raise ValueError(f"RC2 key must be 1 to 128 bytes long, not {t}")
    if not 1 <= effective_bits <= 1024:
        raise ValueError(f"RC2 effective key bits must be 1 to 1024, not {effective_bits}")
    t8 = (effective_bits + 7) // 8
    tm = 0xFF >> (8 * t8 - effective_bits)  # == 255 MOD 2^(8 + T1 - 8*T8)

    buf = bytearray(128)
    buf[:t] = key
    for i in range(t, 128):
        buf[i] = _PITABLE[(buf[i - 1] + buf[i - t]) & 0xFF]
    buf[128 - t8] = _PITABLE[buf[128 - t8] & tm]
    for i in range(127 - t8, -1, -1):
        buf[i] = _PITABLE[buf[i + 1] ^ buf[i + t8]]
    return struct.unpack("<64H", buf)


class RC2:
    """The RC2 block cipher with an expanded key: encrypts and decrypts single 8-byte blocks."""

    __slots__ = ("_k",)

    def __init__(self, key: bytes, effective_bits: int) -> None:
        self._k = _expand_key(key, effective_bits)

    def encrypt_block(self, block: bytes) -> bytes:
        """Encrypt one 8-byte block (RFC 2268 section 3)."""
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"RC2 blocks are {BLOCK_SIZE} bytes, not {len(block)}")
        k = self._k
        r0, r1, r2, r3 = _BLOCK.unpack(block)
        # 16 mixing rounds, with a mashing round before rounds 5 and 11.
        for rnd in range(16):
            if rnd == 5 or rnd == 11:
                r0 = (r0 + k[r3 & 63]) & _MASK
                r1 = (r1 + k[r0 & 63]) & _MASK
                r2 = (r2 + k[r1 & 63]) & _MASK
                r3 = (r3 + k[r2 & 63]) & _MASK
            j = 4 * rnd
            r0 = (r0 + k[j] + (r3 & r2) + (~r3 & r1)) & _MASK
            r0 = ((r0 << 1) | (r0 >> 15)) & _MASK
            r1 = (r1 + k[j + 1] + (r0 & r3) + (~r0 & r2)) & _MASK
            r1 = ((r1 << 2) | (r1 >> 14)) & _MASK
            r2 = (r2 + k[j + 2] + (r1 & r0) + (~r1 & r3)) & _MASK
            r2 = ((r2 << 3) | (r2 >> 13)) & _MASK
            r3 = (r3 + k[j + 3] + (r2 & r1) + (~r2 & r0)) & _MASK
            r3 = ((r3 << 5) | (r3 >> 11)) & _MASK
        return _BLOCK.pack(r0, r1, r2, r3)

    def decrypt_block(self, block: bytes) -> bytes:
        """Decrypt one 8-byte block (RFC 2268 section 4)."""
        if len(block) != BLOCK_SIZE:
            raise ValueError(f"RC2 blocks are {BLOCK_SIZE} bytes, not {len(block)}")
        k = self._k
        r0, r1, r2, r3 = _BLOCK.unpack(block)
        # The encryption rounds undone in reverse order, r-mashing after rounds 11 and 5.
        for rnd in range(15, -1, -1):
            j = 4 * rnd
            r3 = ((r3 >> 5) | (r3 << 11)) & _MASK
            r3 = (r3 - k[j + 3] - (r2 & r1) - (~r2 & r0)) & _MASK
            r2 = ((r2 >> 3) | (r2 << 13)) & _MASK
            r2 = (r2 - k[j + 2] - (r1 & r0) - (~r1 & r3)) & _MASK
            r1 = ((r1 >> 2) | (r1 << 14)) & _MASK
            r1 = (r1 - k[j + 1] - (r0 & r3) - (~r0 & r2)) & _MASK
            r0 = ((r0 >> 1) | (r0 << 15)) & _MASK
            r0 = (r0 - k[j] - (r3 & r2) - (~r3 & r1)) & _MASK
            if rnd == 5 or rnd == 11:
                r3 = (r3 - k[r2 & 63]) & _MASK
                r2 = (r2 - k[r1 & 63]) & _MASK
                r1 = (r1 - k[r0 & 63]) & _MASK
                r0 = (r0 - k[r3 & 63]) & _MASK
        return _BLOCK.pack(r0, r1, r2, r3)


def pkcs7_pad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Append 1 to `block_size` bytes, each holding the count, so the length is a multiple."""
    n = block_size - len(data) % block_size
    return bytes(data) + bytes([n]) * n


def pkcs7_unpad(data: bytes, block_size: int = BLOCK_SIZE) -> bytes:
    """Remove PKCS#7 padding; ValueError if it is missing or malformed."""
    if not data or len(data) % block_size:
        raise ValueError(f"padded data must be a non-empty multiple of {block_size} bytes")
    n = data[-1]
    if not 1 <= n <= block_size or data[-n:] != bytes([n]) * n:
        raise ValueError("bad PKCS#7 padding (wrong key or password, or damaged data)")
    return bytes(data[:-n])


def _xor8(a: bytes, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(8, "little")


def _check_iv(iv: bytes) -> None:
    if len(iv) != BLOCK_SIZE:
        raise ValueError(f"RC2-CBC IV must be {BLOCK_SIZE} bytes, not {len(iv)}")


def rc2_cbc_encrypt(key: bytes, iv: bytes, data: bytes, effective_bits: int) -> bytes:
    """PKCS#7-pad `data` and encrypt it with RC2 in CBC mode."""
    _check_iv(iv)
    cipher = RC2(key, effective_bits)
    padded = pkcs7_pad(data)
    out = bytearray()
    prev = bytes(iv)
    for i in range(0, len(padded), BLOCK_SIZE):
        prev = cipher.encrypt_block(_xor8(padded[i : i + BLOCK_SIZE], prev))
        out += prev
    return bytes(out)


def rc2_cbc_decrypt(key: bytes, iv: bytes, data: bytes, effective_bits: int) -> bytes:
    """Decrypt RC2-CBC `data` and strip its PKCS#7 padding; ValueError if the padding is bad."""
    _check_iv(iv)
    if not data or len(data) % BLOCK_SIZE:
        raise ValueError(f"RC2-CBC ciphertext must be a non-empty multiple of {BLOCK_SIZE} bytes")
    cipher = RC2(key, effective_bits)
    out = bytearray()
    prev = bytes(iv)
    for i in range(0, len(data), BLOCK_SIZE):
        block = bytes(data[i : i + BLOCK_SIZE])
        out += _xor8(cipher.decrypt_block(block), prev)
        prev = block
    return pkcs7_unpad(bytes(out))
