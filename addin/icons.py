"""Draws the add-in's icons (a white beacon on Beacon blue) as PNGs, without Pillow.

`python -m addin.icons` writes static/addin/icon-<size>.png for every size the manifest
names; the files are committed, so this runs only when the icon changes.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

BLUE = (29, 78, 216)
WHITE = (255, 255, 255)
SAMPLES = 4  # per axis: edges are anti-aliased


def _inside(x: float, y: float) -> tuple[int, int, int, int] | None:
    """The colour at (x, y) in a 1x1 square, or None outside the rounded tile."""
    r = 0.18
    cx, cy = min(max(x, r), 1 - r), min(max(y, r), 1 - r)
    if (x - cx) ** 2 + (y - cy) ** 2 > r * r:
        return None
    dx, dy = x - 0.5, y - 0.62
    d = math.hypot(dx, dy)
    up = dy < 0 and abs(dx) < -dy * 1.2  # the signal's cone, opening upwards
    if d < 0.085 or (up and (0.2 < d < 0.27 or 0.36 < d < 0.43)):
        return (*WHITE, 255)
    return (*BLUE, 255)


def png(size: int) -> bytes:
    rows = []
    for py in range(size):
        row = bytearray([0])  # filter: none
        for px in range(size):
            total = [0, 0, 0, 0]
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px + (sx + 0.5) / SAMPLES) / size
                    y = (py + (sy + 0.5) / SAMPLES) / size
                    colour = _inside(x, y)
                    if colour:
                        for i in range(4):
                            total[i] += colour[i]
            n = SAMPLES * SAMPLES
            alpha = total[3] // n
            rgb = [c // max(1, round(total[3] / 255)) for c in total[:3]]
            row += bytes([*rgb, alpha])
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    from addin.views import ICON_SIZES

    folder = Path(__file__).resolve().parent.parent / "static" / "addin"
    for size in ICON_SIZES:
        (folder / f"icon-{size}.png").write_bytes(png(size))
