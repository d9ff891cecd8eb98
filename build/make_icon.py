"""Draw assets/icon.png, the app icon `flet build` turns into every platform's icons and splash.

Run from the project root: ``python build/make_icon.py`` (standard library only, no Pillow).

A 1024x1024 RGBA PNG: an indigo disc (the wizard's seed colour) holding a white key and an
amber badge with a check mark, for "your key, renewed". Everything outside the disc is
transparent: flet-cli treats a transparent ``icon.png`` as a glyph and gives it each platform's
margin (Android's adaptive mask, iOS and macOS tiles), filling the rest with
``[tool.flet] icon_background``; an opaque square would be used full-bleed and cropped.
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from pathlib import Path

SIZE = 1024
INDIGO = (0x3F, 0x51, 0xB5)  # ft.Colors.INDIGO, the seed of the wizard's theme
WHITE = (0xFF, 0xFF, 0xFF)
AMBER = (0xFF, 0xC1, 0x07)
OUT = Path(__file__).resolve().parents[1] / "assets" / "icon.png"

CENTRE = SIZE / 2
DISC_RADIUS = 488
KEY_ANGLE = math.radians(45)  # the key's shaft runs from the upper left to the lower right
KEY_SCALE = 1.12
KEY_SHIFT = -10.0  # along the shaft, so that the key sits in the middle of the disc
BADGE = (736.0, 288.0)
BADGE_RADIUS = 132.0
BADGE_GAP = 22.0  # indigo ring between the badge and anything white under it


def _box(u: float, v: float, u0: float, u1: float, v0: float, v1: float, r: float = 0.0) -> float:
    """Signed distance to an axis-aligned box with rounded corners (negative inside)."""
    cu, cv = (u0 + u1) / 2, (v0 + v1) / 2
    hu, hv = (u1 - u0) / 2 - r, (v1 - v0) / 2 - r
    du, dv = abs(u - cu) - hu, abs(v - cv) - hv
    outside = math.hypot(max(du, 0.0), max(dv, 0.0))
    return outside + min(max(du, dv), 0.0) - r


def _segment(x: float, y: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    ax, ay = a
    bx, by = b
    dx, dy = bx - ax, by - ay
    t = max(0.0, min(1.0, ((x - ax) * dx + (y - ay) * dy) / (dx * dx + dy * dy)))
    return math.hypot(x - ax - t * dx, y - ay - t * dy)


def key_distance(x: float, y: float) -> float:
    """Signed distance (pixels) to the key: a ring-shaped bow, a shaft and two teeth."""
    px, py = x - CENTRE, y - CENTRE
    cos, sin = math.cos(KEY_ANGLE), math.sin(KEY_ANGLE)
    u = (px * cos + py * sin) / KEY_SCALE - KEY_SHIFT
    v = (-px * sin + py * cos) / KEY_SCALE
    bow = math.hypot(u + 175, v)
    ring = max(bow - 150, 64 - bow)
    shaft = _box(u, v, -60, 300, -38, 38, 14)
    tooth1 = _box(u, v, 170, 218, 20, 132, 10)
    tooth2 = _box(u, v, 242, 300, 20, 104, 10)
    return min(ring, shaft, tooth1, tooth2) * KEY_SCALE


def check_distance(x: float, y: float) -> float:
    bx, by = BADGE
    a = (bx - 62, by + 2)
    b = (bx - 16, by + 50)
    c = (bx + 66, by - 46)
    return min(_segment(x, y, a, b), _segment(x, y, b, c)) - 19


def coverage(distance: float) -> float:
    """Anti-aliased coverage of a pixel whose centre is `distance` pixels from an edge."""
    return max(0.0, min(1.0, 0.5 - distance))


def mix(under: tuple[float, ...], over: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    return tuple(u + (o - u) * alpha for u, o in zip(under, over, strict=True))


def pixel(x: int, y: int) -> tuple[int, int, int, int]:
    cx, cy = x + 0.5, y + 0.5
    disc = coverage(math.hypot(cx - CENTRE, cy - CENTRE) - DISC_RADIUS)
    if disc == 0.0:
        return (0, 0, 0, 0)
    colour: tuple[float, ...] = INDIGO
    badge_distance = math.hypot(cx - BADGE[0], cy - BADGE[1]) - BADGE_RADIUS
    key = coverage(key_distance(cx, cy)) * (1.0 - coverage(badge_distance - BADGE_GAP))
    colour = mix(colour, WHITE, key)
    colour = mix(colour, AMBER, coverage(badge_distance))
    colour = mix(colour, INDIGO, coverage(check_distance(cx, cy)))
    r, g, b = (round(c) for c in colour)
    return (r, g, b, round(disc * 255))


def png(width: int, height: int, rows: list[bytes]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    raw = b"".join(b"\x00" + row for row in rows)  # filter type 0 on every row
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def main(out: Path = OUT) -> Path:
    rows = []
    for y in range(SIZE):
        row = bytearray()
        for x in range(SIZE):
            row.extend(pixel(x, y))
        rows.append(bytes(row))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(png(SIZE, SIZE, rows))
    return out


if __name__ == "__main__":
    print(main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT))
