"""Streebog, the GOST R 34.11-2012 hash (RFC 6986), in pure Python: 512- and 256-bit digests.

Bytes follow the usual software convention (OpenSSL's gost engine, CMS, NCALayer): a digest is the
64-byte little-endian image of the standard's 512-bit vector, so it is the *reverse* of the hex the
standard and RFC 6986 print. Kazakhstan's signatures read this digest as a little-endian integer.

Speed comes from one table trick: the round transformation L∘P∘S is folded into eight tables of
256 64-bit words (built once at import, about 2 ms), so one LPS is 64 lookups and XORs on Python
ints, and the 512-bit state lives in a single Python int.
"""

from __future__ import annotations

__all__ = ["Streebog", "streebog256", "streebog512"]

# Substitution π (RFC 6986 §6.2), shared with the Kuznyechik cipher.
# fmt: off
_PI = bytes((
    252, 238, 221, 17, 207, 110, 49, 22, 251, 196, 250, 218, 35, 197, 4, 77,
    233, 119, 240, 219, 147, 46, 153, 186, 23, 54, 241, 187, 20, 205, 95, 193,
    249, 24, 101, 90, 226, 92, 239, 33, 129, 28, 60, 66, 139, 1, 142, 79,
    5, 132, 2, 174, 227, 106, 143, 160, 6, 11, 237, 152, 127, 212, 211, 31,
    235, 52, 44, 81, 234, 200, 72, 171, 242, 42, 104, 162, 253, 58, 206, 204,
    181, 112, 14, 86, 8, 12, 118, 18, 191, 114, 19, 71, 156, 183, 93, 135,
    21, 161, 150, 41, 16, 123, 154, 199, 243, 145, 120, 111, 157, 158, 178, 177,
    50, 117, 25, 61, 255, 53, 138, 126, 109, 84, 198, 128, 195, 189, 13, 87,
    223, 245, 36, 169, 62, 168, 67, 201, 215, 121, 214, 246, 124, 34, 185, 3,
    224, 15, 236, 222, 122, 148, 176, 188, 220, 232, 40, 80, 78, 51, 10, 74,
    167, 151, 96, 115, 30, 0, 98, 68, 26, 184, 56, 130, 100, 159, 38, 65,
    173, 69, 70, 146, 39, 94, 85, 47, 140, 163, 165, 125, 105, 213, 149, 59,
    7, 88, 179, 64, 134, 172, 29, 247, 48, 55, 107, 228, 136, 217, 231, 137,
    225, 27, 131, 73, 76, 63, 248, 254, 141, 83, 170, 144, 202, 216, 133, 97,
    32, 113, 103, 164, 45, 43, 9, 91, 203, 155, 37, 208, 190, 229, 108, 82,
    89, 166, 116, 210, 230, 244, 180, 192, 209, 102, 175, 194, 57, 75, 99, 182,
))

# Rows of the linear map l (RFC 6986 §6.4); _A[0] is the row of the most significant bit.
_A = (
    0x8E20FAA72BA0B470, 0x47107DDD9B505A38, 0xAD08B0E0C3282D1C, 0xD8045870EF14980E,
    0x6C022C38F90A4C07, 0x3601161CF205268D, 0x1B8E0B0E798C13C8, 0x83478B07B2468764,
    0xA011D380818E8F40, 0x5086E740CE47C920, 0x2843FD2067ADEA10, 0x14AFF010BDD87508,
    0x0AD97808D06CB404, 0x05E23C0468365A02, 0x8C711E02341B2D01, 0x46B60F011A83988E,
    0x90DAB52A387AE76F, 0x486DD4151C3DFDB9, 0x24B86A840E90F0D2, 0x125C354207487869,
    0x092E94218D243CBA, 0x8A174A9EC8121E5D, 0x4585254F64090FA0, 0xACCC9CA9328A8950,
    0x9D4DF05D5F661451, 0xC0A878A0A1330AA6, 0x60543C50DE970553, 0x302A1E286FC58CA7,
    0x18150F14B9EC46DD, 0x0C84890AD27623E0, 0x0642CA05693B9F70, 0x0321658CBA93C138,
    0x86275DF09CE8AAA8, 0x439DA0784E745554, 0xAFC0503C273AA42A, 0xD960281E9D1D5215,
    0xE230140FC0802984, 0x71180A8960409A42, 0xB60C05CA30204D21, 0x5B068C651810A89E,
    0x456C34887A3805B9, 0xAC361A443D1C8CD2, 0x561B0D22900E4669, 0x2B838811480723BA,
    0x9BCF4486248D9F5D, 0xC3E9224312C8C1A0, 0xEFFA11AF0964EE50, 0xF97D86D98A327728,
    0xE4FA2054A80B329C, 0x727D102A548B194E, 0x39B008152ACB8227, 0x9258048415EB419D,
    0x492C024284FBAEC0, 0xAA16012142F35760, 0x550B8E9E21F7A530, 0xA48B474F9EF5DC18,
    0x70A6A56E2440598E, 0x3853DC371220A247, 0x1CA76E95091051AD, 0x0EDD37C48A08A6D8,
    0x07E095624504536C, 0x8D70C431AC02A736, 0xC83862965601DD1B, 0x641C314B2B8EE083,
)

# Round constants C1..C12 (RFC 6986 §6.5) as 512-bit integers, most significant hex digit first.
_C = tuple(int(c, 16) for c in (
    "b1085bda1ecadae9ebcb2f81c0657c1f2f6a76432e45d016714eb88d7585c4fc"
    "4b7ce09192676901a2422a08a460d31505767436cc744d23dd806559f2a64507",
    "6fa3b58aa99d2f1a4fe39d460f70b5d7f3feea720a232b9861d55e0f16b50131"
    "9ab5176b12d699585cb561c2db0aa7ca55dda21bd7cbcd56e679047021b19bb7",
    "f574dcac2bce2fc70a39fc286a3d843506f15e5f529c1f8bf2ea7514b1297b7b"
    "d3e20fe490359eb1c1c93a376062db09c2b6f443867adb31991e96f50aba0ab2",
    "ef1fdfb3e81566d2f948e1a05d71e4dd488e857e335c3c7d9d721cad685e353f"
    "a9d72c82ed03d675d8b71333935203be3453eaa193e837f1220cbebc84e3d12e",
    "4bea6bacad4747999a3f410c6ca923637f151c1f1686104a359e35d7800fffbd"
    "bfcd1747253af5a3dfff00b723271a167a56a27ea9ea63f5601758fd7c6cfe57",
    "ae4faeae1d3ad3d96fa4c33b7a3039c02d66c4f95142a46c187f9ab49af08ec6"
    "cffaa6b71c9ab7b40af21f66c2bec6b6bf71c57236904f35fa68407a46647d6e",
    "f4c70e16eeaac5ec51ac86febf240954399ec6c7e6bf87c9d3473e33197a93c9"
    "0992abc52d822c3706476983284a05043517454ca23c4af38886564d3a14d493",
    "9b1f5b424d93c9a703e7aa020c6e41414eb7f8719c36de1e89b4443b4ddbc49a"
    "f4892bcb929b069069d18d2bd1a5c42f36acc2355951a8d9a47f0dd4bf02e71e",
    "378f5a541631229b944c9ad8ec165fde3a7d3a1b258942243cd955b7e00d0984"
    "800a440bdbb2ceb17b2b8a9aa6079c540e38dc92cb1f2a607261445183235adb",
    "abbedea680056f52382ae548b2e4f3f38941e71cff8a78db1fffe18a1b336103"
    "9fe76702af69334b7a1e6c303b7652f43698fad1153bb6c374b4c7fb98459ced",
    "7bcd9ed0efc889fb3002c6cd635afe94d8fa6bbbebab07612001802114846679"
    "8a1d71efea48b9caefbacd1d7d476e98dea2594ac06fd85d6bcaa4cd81f32d1b",
    "378ee767f11631bad21380b00449b17acda43c32bcdf1d77f82012d430219f9b"
    "5d80ef9d1891cc86e71da4aa88e12852faf417d5d9b21b9948bc924af11bd720",
))
# fmt: on

_MASK512 = (1 << 512) - 1
_IV512 = 0
_IV256 = int.from_bytes(b"\x01" * 64, "little")


def _build_tables() -> tuple[tuple[int, ...], ...]:
    """Eight tables, one per byte position b of a 64-bit row: T[b][v] = l(π(v) << 8b)."""
    tables = []
    for b in range(8):
        # Bit j of that byte is bit 8b+j of the row, and _A lists rows from the top bit down.
        rows = [_A[63 - 8 * b - j] for j in range(8)]
        lin = [0] * 256
        for v in range(1, 256):
            low = v & -v
            lin[v] = lin[v ^ low] ^ rows[low.bit_length() - 1]
        tables.append(tuple(lin[_PI[v]] for v in range(256)))
    return tuple(tables)


_T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7 = _build_tables()


def _lps(x: int) -> int:
    """L∘P∘S of the 512-bit state x: P is the byte transpose, so output row k reads byte k of
    every input row."""
    s = x.to_bytes(64, "little")
    t0, t1, t2, t3, t4, t5, t6, t7 = _T0, _T1, _T2, _T3, _T4, _T5, _T6, _T7
    # fmt: off
    return (
        (
            t0[s[0]]
            ^ t1[s[8]]
            ^ t2[s[16]]
            ^ t3[s[24]]
            ^ t4[s[32]]
            ^ t5[s[40]]
            ^ t6[s[48]]
            ^ t7[s[56]]
        )
        | (
            t0[s[1]]
            ^ t1[s[9]]
            ^ t2[s[17]]
            ^ t3[s[25]]
            ^ t4[s[33]]
            ^ t5[s[41]]
            ^ t6[s[49]]
            ^ t7[s[57]]
        )
        << 64
        | (
            t0[s[2]]
            ^ t1[s[10]]
            ^ t2[s[18]]
            ^ t3[s[26]]
            ^ t4[s[34]]
            ^ t5[s[42]]
            ^ t6[s[50]]
            ^ t7[s[58]]
        )
        << 128
        | (
            t0[s[3]]
            ^ t1[s[11]]
            ^ t2[s[19]]
            ^ t3[s[27]]
            ^ t4[s[35]]
            ^ t5[s[43]]
            ^ t6[s[51]]
            ^ t7[s[59]]
        )
        << 192
        | (
            t0[s[4]]
            ^ t1[s[12]]
            ^ t2[s[20]]
            ^ t3[s[28]]
            ^ t4[s[36]]
            ^ t5[s[44]]
            ^ t6[s[52]]
            ^ t7[s[60]]
        )
        << 256
        | (
            t0[s[5]]
            ^ t1[s[13]]
            ^ t2[s[21]]
            ^ t3[s[29]]
            ^ t4[s[37]]
            ^ t5[s[45]]
            ^ t6[s[53]]
            ^ t7[s[61]]
        )
        << 320
        | (
            t0[s[6]]
            ^ t1[s[14]]
            ^ t2[s[22]]
            ^ t3[s[30]]
            ^ t4[s[38]]
            ^ t5[s[46]]
            ^ t6[s[54]]
            ^ t7[s[62]]
        )
        << 384
        | (
            t0[s[7]]
            ^ t1[s[15]]
            ^ t2[s[23]]
            ^ t3[s[31]]
            ^ t4[s[39]]
            ^ t5[s[47]]
            ^ t6[s[55]]
            ^ t7[s[63]]
        )
        << 448
    )


def _g(h: int, n: int, m: int) -> int:
    """Compression g_N(h, m) = E(LPS(h ⊕ N), m) ⊕ h ⊕ m, the key schedule run alongside."""
    lps = _lps
    k = lps(h ^ n)
    t = k ^ m
    for c in _C:
        t = lps(t)
        k = lps(k ^ c)
        t ^= k
    return t ^ h ^ m


class Streebog:
    """Incremental Streebog hasher with a hashlib-like interface.

    ``Streebog()`` gives the 512-bit hash, ``Streebog(digest_size=32)`` the 256-bit one.
    """

    block_size = 64

    __slots__ = ("_buf", "_h", "_n", "_sigma", "digest_size")

    def __init__(self, data: bytes = b"", *, digest_size: int = 64) -> None:
        if digest_size not in (32, 64):
            raise ValueError("Streebog digest_size must be 32 or 64")
        self.digest_size = digest_size
        self._h = _IV512 if digest_size == 64 else _IV256
        self._n = 0
        self._sigma = 0
        self._buf = b""
        if data:
            self.update(data)

    @property
    def name(self) -> str:
        """hashlib-style name: ``streebog512`` or ``streebog256``."""
        return f"streebog{self.digest_size * 8}"

    def update(self, data: bytes | bytearray | memoryview) -> None:
        """Feed more message bytes."""
        buf = self._buf + bytes(data)
        h, n, sigma = self._h, self._n, self._sigma
        full = len(buf) - len(buf) % 64
        from_bytes = int.from_bytes
        for i in range(0, full, 64):
            m = from_bytes(buf[i : i + 64], "little")
            h = _g(h, n, m)
            n = (n + 512) & _MASK512
            sigma = (sigma + m) & _MASK512
        self._h, self._n, self._sigma = h, n, sigma
        self._buf = buf[full:]

    def digest(self) -> bytes:
        """The digest of everything fed so far (the hasher stays usable)."""
        rest = self._buf
        # Padding: the tail, one 0x01 byte, then zeros up to the block (little-endian image).
        m = int.from_bytes(rest + b"\x01", "little")
        h = _g(self._h, self._n, m)
        n = (self._n + 8 * len(rest)) & _MASK512
        sigma = (self._sigma + m) & _MASK512
        h = _g(h, 0, n)
        h = _g(h, 0, sigma)
        out = h.to_bytes(64, "little")
        # The 256-bit hash is the most significant half, i.e. the last 32 bytes of the image.
        return out if self.digest_size == 64 else out[32:]

    def hexdigest(self) -> str:
        """The digest as lowercase hex (in byte order, as OpenSSL prints it)."""
        return self.digest().hex()

    def copy(self) -> Streebog:
        """An independent hasher in the same state."""
        other = Streebog.__new__(Streebog)
        other.digest_size = self.digest_size
        other._h, other._n, other._sigma, other._buf = self._h, self._n, self._sigma, self._buf
        return other


def streebog512(data: bytes | bytearray | memoryview) -> bytes:
    """Streebog-512 of ``data``: 64 bytes, little-endian image of the standard's vector."""
    return Streebog(bytes(data)).digest()


def streebog256(data: bytes | bytearray | memoryview) -> bytes:
    """Streebog-256 of ``data``: 32 bytes, little-endian image of the standard's vector."""
    return Streebog(bytes(data), digest_size=32).digest()
