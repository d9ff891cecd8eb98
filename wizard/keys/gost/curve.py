"""Point arithmetic on the TC26 512-bit curve paramSetA (id-tc26-gost-3410-12-512-paramSetA).

    y² = x³ + a·x + b over GF(p),  p = 2⁵¹² − 569,  a = −3,  prime group order q, cofactor 1

Pure Python, tuned for CPython's big ints rather than for elegance:

* Jacobian coordinates (x = X/Z², y = Y/Z³), one modular inversion per scalar multiplication;
  the doubling uses the a = −3 shortcut (3M + 5S).
* Lazy reduction: ``t % p`` on a 1024-bit product costs more than the product itself, so products
  are folded twice with 2⁵¹² ≡ 569 (mod p) instead.  Coordinates then live in roughly
  (−2¹⁰⁰, 2⁵¹³) and are reduced exactly only when a result leaves this module.
* Fixed base (the generator): a table of ±j·16ⁱ·G, j = 1…8, for every 4-bit window i, so k·G is
  about 128 mixed additions and no doublings.  It is built lazily on first use (~20 ms) and kept.
* Two scalars (verification, k₁·G + k₂·Q): interleaved wNAF sharing one doubling chain, width 8
  for G (its odd multiples are cached like the table above) and width 5 for Q.

Nothing here is constant-time: Python's integers leak timing through their sizes and the table
indices depend on the scalar.  Acceptable for a wizard signing its own requests on the user's own
device; not for a server exposed to remote timing measurements.
"""

from __future__ import annotations

__all__ = [
    "GX",
    "GY",
    "A",
    "B",
    "P",
    "Point",
    "Q",
    "is_on_curve",
    "mul",
    "mul_base",
    "mul_double",
    "precompute",
]

Point = tuple[int, int]
"""An affine point (x, y) with 0 <= x, y < P; the point at infinity is never a valid Point."""

# Domain parameters of id-tc26-gost-3410-12-512-paramSetA (RFC 7836, appendix A.2).
P = (1 << 512) - 569
A = P - 3
B = int(
    "00E8C2505DEDFC86DDC1BD0B2B6667F1DA34B82574761CB0E879BD081CFD0B62"
    "65EE3CB090F30D27614CB4574010DA90DD862EF9D4EBEE4761503190785A71C760",
    16,
)
Q = int(
    "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF"
    "27E69532F48D89116FF22B8D4E0560609B4B38ABFAD2B85DCACDB1411F10B275",
    16,
)
GX = 3
GY = int(
    "7503CFE87A836AE3A61B8816E25450E6CE5E1C93ACF1ABC1778064FDCBEFA921"
    "DF1626BE4FD036E93D75E6A50E3A41E98028FE5FC235F5B889A589CB5215F2A4",
    16,
)

_M = (1 << 512) - 1
_C = 569  # 2^512 mod P

_Jac = tuple[int, int, int]


def is_on_curve(point: Point) -> bool:
    """True if ``point`` has coordinates in [0, P) and satisfies the curve equation.

    With cofactor 1 this is also the subgroup check a received public key needs.
    """
    x, y = point
    if not (0 <= x < P and 0 <= y < P):
        return False
    return (y * y - (x * x * x + A * x + B)) % P == 0


def _double(x: int, y: int, z: int) -> _Jac:
    """2·(X:Y:Z) for a = −3 (dbl-2001-b); the curve has no point of order 2, so Y ≠ 0."""
    m, c = _M, _C
    d = z * z
    d = (d & m) + (d >> 512) * c
    d = (d & m) + (d >> 512) * c
    g = y * y
    g = (g & m) + (g >> 512) * c
    g = (g & m) + (g >> 512) * c
    b = x * g
    b = (b & m) + (b >> 512) * c
    b = (b & m) + (b >> 512) * c
    al = (x - d) * (x + d)
    al = (al & m) + (al >> 512) * c
    al = 3 * ((al & m) + (al >> 512) * c)
    x3 = al * al - (b << 3)
    x3 = (x3 & m) + (x3 >> 512) * c
    x3 = (x3 & m) + (x3 >> 512) * c
    z3 = (y * z) << 1
    z3 = (z3 & m) + (z3 >> 512) * c
    z3 = (z3 & m) + (z3 >> 512) * c
    y3 = al * ((b << 2) - x3) - ((g * g) << 3)
    y3 = (y3 & m) + (y3 >> 512) * c
    y3 = (y3 & m) + (y3 >> 512) * c
    return x3, y3, z3


def _add_affine(x1: int, y1: int, z1: int, x2: int, y2: int) -> _Jac | None:
    """(X1:Y1:Z1) + (x2, y2) with the second point affine; None is the point at infinity."""
    m, c = _M, _C
    zz = z1 * z1
    zz = (zz & m) + (zz >> 512) * c
    zz = (zz & m) + (zz >> 512) * c
    u2 = x2 * zz
    u2 = (u2 & m) + (u2 >> 512) * c
    u2 = (u2 & m) + (u2 >> 512) * c
    s2 = y2 * z1
    s2 = (s2 & m) + (s2 >> 512) * c
    s2 = (s2 & m) + (s2 >> 512) * c
    s2 = s2 * zz
    s2 = (s2 & m) + (s2 >> 512) * c
    s2 = (s2 & m) + (s2 >> 512) * c
    h = u2 - x1
    r = s2 - y1
    if h % P == 0:
        # Same x: either the same point (double it) or its negative (the sum is infinity).
        return _double(x1, y1, z1) if r % P == 0 else None
    hh = h * h
    hh = (hh & m) + (hh >> 512) * c
    hh = (hh & m) + (hh >> 512) * c
    hhh = h * hh
    hhh = (hhh & m) + (hhh >> 512) * c
    hhh = (hhh & m) + (hhh >> 512) * c
    v = x1 * hh
    v = (v & m) + (v >> 512) * c
    v = (v & m) + (v >> 512) * c
    x3 = r * r - hhh - (v << 1)
    x3 = (x3 & m) + (x3 >> 512) * c
    x3 = (x3 & m) + (x3 >> 512) * c
    y3 = r * (v - x3) - y1 * hhh
    y3 = (y3 & m) + (y3 >> 512) * c
    y3 = (y3 & m) + (y3 >> 512) * c
    z3 = z1 * h
    z3 = (z3 & m) + (z3 >> 512) * c
    z3 = (z3 & m) + (z3 >> 512) * c
    return x3, y3, z3


def _to_affine(point: _Jac) -> Point:
    """Exact affine coordinates of a finite Jacobian point (the one inversion)."""
    x, y, z = point
    zi = pow(z % P, -1, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def _batch_to_affine(points: list[_Jac]) -> list[Point]:
    """Many finite Jacobian points to affine with a single inversion (Montgomery's trick)."""
    prefix = []
    acc = 1
    for _, _, z in points:
        acc = acc * z % P
        prefix.append(acc)
    inv = pow(acc, -1, P)
    out: list[Point] = [(0, 0)] * len(points)
    for i in range(len(points) - 1, -1, -1):
        x, y, z = points[i]
        zi = inv * prefix[i - 1] % P if i else inv
        inv = inv * z % P
        zi2 = zi * zi % P
        out[i] = (x * zi2 % P, y * zi2 * zi % P)
    return out


def _odd_multiples(point: Point, count: int) -> list[Point]:
    """[1·pt, 3·pt, 5·pt, …] (``count`` points, affine), the wNAF lookup table."""
    x, y = point
    twice = _to_affine(_double(x, y, 1))
    jac: list[_Jac] = [(x, y, 1)]
    for _ in range(count - 1):
        nxt = _add_affine(*jac[-1], *twice)
        if nxt is None:  # cannot happen for a point of prime order q > 2·count
            raise ValueError("point of small order")
        jac.append(nxt)
    return _batch_to_affine(jac)


def _wnaf(k: int, width: int) -> list[int]:
    """Width-w non-adjacent form of k >= 0, least significant digit first (odd digits < 2^(w-1))."""
    digits = []
    full = 1 << width
    half = full >> 1
    while k:
        if k & 1:
            d = k & (full - 1)
            if d >= half:
                d -= full
            k -= d
        else:
            d = 0
        digits.append(d)
        k >>= 1
    return digits


_COMB_W = 4  # window width of the fixed-base table: 129 windows x 8 points
_COMB_WINDOWS = (512 + _COMB_W - 1) // _COMB_W + 1  # one extra for the carry of signed digits
_G_WNAF_W = 8  # wNAF width for G in k1·G + k2·Q (64 cached odd multiples)
_Q_WNAF_W = 5  # wNAF width for the variable point (8 odd multiples per call)

_comb_table: list[list[Point]] | None = None
_g_odd: list[Point] | None = None


def _build_comb_table() -> list[list[Point]]:
    """table[i][j − 1] = j·2^(w·i)·G for j = 1 … 2^(w−1), all affine."""
    half = 1 << (_COMB_W - 1)
    table = []
    base: Point = (GX, GY)
    for _ in range(_COMB_WINDOWS):
        bx, by = base
        jac: list[_Jac] = [(bx, by, 1), _double(bx, by, 1)]
        for _ in range(half - 2):
            nxt = _add_affine(*jac[-1], bx, by)
            if nxt is None:  # impossible: q is far larger than the window
                raise ArithmeticError("fixed-base table hit infinity")
            jac.append(nxt)
        nxt_base = _double(*jac[-1])  # 2^(w-1)·B doubled = next window's base 2^w·B
        *row, base = _batch_to_affine([*jac, nxt_base])
        table.append(row)
    return table


def _comb() -> list[list[Point]]:
    global _comb_table
    if _comb_table is None:
        _comb_table = _build_comb_table()
    return _comb_table


def _g_odd_multiples() -> list[Point]:
    global _g_odd
    if _g_odd is None:
        _g_odd = _odd_multiples((GX, GY), 1 << (_G_WNAF_W - 2))
    return _g_odd


def precompute() -> None:
    """Build the generator tables now (about 20 ms) instead of on the first signature."""
    _comb()
    _g_odd_multiples()


def mul_base(k: int) -> Point:
    """k·G for 1 <= k < Q (affine).  Raises ValueError outside that range."""
    if not 0 < k < Q:
        raise ValueError("scalar out of range")
    table = _comb()
    width = _COMB_W
    mask = (1 << width) - 1
    half = 1 << (width - 1)
    acc: _Jac | None = None
    started = False
    i = 0
    while k:
        d = k & mask
        k >>= width
        if d > half:
            # Signed digit in (−2^(w−1), 2^(w−1)]: halves the table, the borrow goes up a window.
            d -= 1 << width
            k += 1
        if d:
            x, y = table[i][d - 1] if d > 0 else table[i][-d - 1]
            if d < 0:
                y = P - y
            if not started:
                acc = (x, y, 1)
                started = True
            elif acc is None:
                acc = (x, y, 1)  # partial sum was infinity; restart from this point
            else:
                acc = _add_affine(*acc, x, y)
        i += 1
    if acc is None:  # only if k ≡ 0 (mod Q), excluded above
        raise ArithmeticError("k·G is the point at infinity")
    return _to_affine(acc)


def mul_double(k1: int, k2: int, point: Point) -> Point | None:
    """k1·G + k2·point (affine), or None for the point at infinity.

    Scalars must be in [0, Q); ``point`` must be on the curve (check it with is_on_curve).
    """
    if not (0 <= k1 < Q and 0 <= k2 < Q):
        raise ValueError("scalar out of range")
    g_tab = _g_odd_multiples() if k1 else []
    p_tab = _odd_multiples(point, 1 << (_Q_WNAF_W - 2)) if k2 else []
    n1 = _wnaf(k1, _G_WNAF_W)
    n2 = _wnaf(k2, _Q_WNAF_W)
    n = max(len(n1), len(n2))
    n1 += [0] * (n - len(n1))
    n2 += [0] * (n - len(n2))
    acc: _Jac | None = None
    dbl, add = _double, _add_affine
    for i in range(n - 1, -1, -1):
        if acc is not None:
            acc = dbl(*acc)
        d = n1[i]
        if d:
            # Odd digit ±(2j + 1) selects table entry j; a negative digit negates y.
            x, y = g_tab[d >> 1] if d > 0 else g_tab[(-d) >> 1]
            if d < 0:
                y = P - y
            acc = (x, y, 1) if acc is None else add(*acc, x, y)
        d = n2[i]
        if d:
            x, y = p_tab[d >> 1] if d > 0 else p_tab[(-d) >> 1]
            if d < 0:
                y = P - y
            acc = (x, y, 1) if acc is None else add(*acc, x, y)
    return None if acc is None else _to_affine(acc)


def mul(k: int, point: Point) -> Point | None:
    """k·point for 0 <= k < Q (affine), or None for the point at infinity (k = 0)."""
    return mul_double(0, k, point)
