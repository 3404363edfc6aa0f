#!/usr/bin/env python3
"""Writes the inputs of docs/generation.md's pictures, 28x28 grey PNGs:
docs/generation/mask.png (white keeps, a black 12x12 square in the middle to
fill) and docs/generation/sketch.png (a flat, rough T-shirt silhouette, light
on black as Fashion-MNIST's garments are). Standard library only."""
import os
import struct
import sys
import zlib


def write_png(path, rows):
    h, w = len(rows), len(rows[0])
    raw = b"".join(b"\x00" + bytes(r) for r in rows)

    def chunk(kind, data):
        c = kind + data
        return struct.pack(">I", len(data)) + c + struct.pack(">I", zlib.crc32(c) & 0xFFFFFFFF)

    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0))
    png += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(png)


def mask():
    return [[0 if 8 <= y < 20 and 8 <= x < 20 else 255 for x in range(28)] for y in range(28)]


def sketch():
    rows = [[0] * 28 for _ in range(28)]
    for y in range(28):
        for x in range(28):
            body = 5 <= y < 26 and 8 <= x < 20
            sleeve = 5 <= y < 13 and (3 + (12 - y) // 3 <= x < 8 or 20 <= x < 25 - (12 - y) // 3)
            neck = y < 8 and 11 <= x < 17 and (x - 14) ** 2 + (y - 4) ** 2 < 12
            if (body or sleeve) and not neck:
                # an uneven fill, as a quick scribble would leave it
                rows[y][x] = 150 + 40 * ((x * 7 + y * 3) % 3 == 0)
    return rows


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "docs/generation"
    os.makedirs(out, exist_ok=True)
    write_png(os.path.join(out, "mask.png"), mask())
    write_png(os.path.join(out, "sketch.png"), sketch())


if __name__ == "__main__":
    main()
