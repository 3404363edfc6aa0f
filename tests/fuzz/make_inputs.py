#!/usr/bin/env python3
"""Inputs for the fuzz harnesses (tests/fuzz/fuzz_*.c).

  make_inputs.py seeds DIR     a small seed corpus per harness, DIR/<harness>/
  make_inputs.py limits DIR    the size-limit cases the readers must refuse
                               before allocating, DIR/<harness>/<case> with
                               <case>.expect (kept in tests/fuzz/regressions)

The store's seeds also need a database written by ddpmx itself; scripts/fuzz.sh
adds one made by a tiny run. Only the standard library is used.
"""
import gzip
import json
import os
import sqlite3
import struct
import sys
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.dirname(HERE)
ROOT = os.path.dirname(TESTS)
DDPMX_APP_ID = 0x44445058  # DX_STORE_APPLICATION_ID, core/store/store.h ("DDPX")


def sqlite_file(path, sql):
    if os.path.exists(path):
        os.remove(path)
    con = sqlite3.connect(path)
    con.executescript(sql)
    con.commit()
    con.close()


def put(dirname, name, data, expect=None):
    os.makedirs(dirname, exist_ok=True)
    with open(os.path.join(dirname, name), "wb") as f:
        f.write(data)
    if expect is not None:
        with open(os.path.join(dirname, name + ".expect"), "w") as f:
            f.write(expect + "\n")


def idx_images(n, rows, cols, payload=None):
    head = struct.pack(">IIII", 0x803, n, rows, cols)
    body = bytes((i * 7) % 256 for i in range(n * rows * cols)) if payload is None else payload
    return head + body


def idx_labels(n):
    return struct.pack(">II", 0x801, n) + bytes(i % 10 for i in range(n))


def png_chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(w, h, color_type, depth=8, rows=None, interlace=0, extra=b""):
    """A PNG with the given IHDR; rows: the raw filtered scanlines."""
    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    if rows is None:
        stride = (w * samples * depth + 7) // 8
        rows = b"".join(b"\0" + bytes((x + y) % 256 for x in range(stride)) for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    body = png_chunk(b"IHDR", ihdr) + extra
    if color_type == 3:
        body += png_chunk(b"PLTE", bytes(range(48)))
    body += png_chunk(b"IDAT", zlib.compress(rows, 9)) + png_chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def safetensors(tensors, meta=None):
    """tensors: name -> (dtype, shape, bytes)."""
    header, data = {}, b""
    if meta:
        header["__metadata__"] = meta
    for name, (dtype, shape, raw) in tensors.items():
        header[name] = {"dtype": dtype, "shape": shape,
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data


def pngs():
    return {
        "gray8.png": png(4, 3, 0),
        "gray1.png": png(9, 2, 0, depth=1),
        "gray16.png": png(3, 3, 0, depth=16),
        "rgb8.png": png(4, 4, 2),
        "rgba8.png": png(2, 5, 6),
        "graya8.png": png(3, 2, 4),
        "palette4.png": png(5, 3, 3, depth=4),
        "interlaced.png": png(9, 9, 2, rows=None, interlace=0),
        "trns.png": png(3, 3, 3, extra=b""),
    }


def seeds(out):
    d = lambda h: os.path.join(out, h)
    # YAML: every experiment and config fixture the project has.
    for folder in (os.path.join(ROOT, "experiments"), os.path.join(TESTS, "data", "config"),
                   os.path.join(TESTS, "data", "cli")):
        for name in sorted(os.listdir(folder)):
            if name.endswith(".yaml"):
                with open(os.path.join(folder, name), "rb") as f:
                    put(d("yaml"), os.path.basename(folder) + "_" + name, f.read())
    put(d("yaml"), "anchors.yaml",
        b"base: &b {lr: 1.0e-4, steps: 3}\ntrain:\n  <<: *b\n  batch: 2\nmodel: {dim_mults: [1, 2]}\n")
    # IDX: first byte 0 = images file, 1 = labels file (fuzz_idx.c).
    put(d("idx"), "images", b"\0" + idx_images(3, 5, 4))
    put(d("idx"), "images.gz", b"\0" + gzip.compress(idx_images(3, 5, 4), mtime=0))
    put(d("idx"), "labels", b"\1" + idx_labels(3))
    put(d("idx"), "labels.gz", b"\1" + gzip.compress(idx_labels(3), mtime=0))
    # CIFAR-10: records of 1 label byte + 3072 pixel bytes.
    recs = b"".join(bytes([r % 10]) + bytes((r + i) % 256 for i in range(3072)) for r in range(2))
    put(d("cifar"), "two_records", recs)
    put(d("cifar"), "two_records.gz", gzip.compress(recs, mtime=0))
    # PNG: the decoder takes the bytes; the folder reader a selector byte first.
    images = os.path.join(TESTS, "data", "cli", "images")
    for name, data in pngs().items():
        put(d("png"), name, data)
        put(d("png_folder"), name, b"\0" + data)
        put(d("png_folder"), "with_b_" + name, b"\1" + data)
    for name in sorted(os.listdir(images))[:2]:
        with open(os.path.join(images, name), "rb") as f:
            data = f.read()
        put(d("png"), "cli_" + name, data)
        put(d("png_folder"), "cli_" + name, b"\0" + data)
    # safetensors and its JSON header.
    f32 = struct.pack("<6f", *range(6))
    f64 = struct.pack("<2d", 0.5, -1.0)
    st = safetensors({"w": ("F32", [2, 3], f32), "b": ("F64", [2], f64)},
                     meta={"format": "pt", "step": "12"})
    put(d("safetensors"), "two.safetensors", st)
    put(d("safetensors"), "empty.safetensors", safetensors({}))
    put(d("safetensors"), "scalar.safetensors", safetensors({"s": ("F32", [], f32[:4])}))
    header = st[8:8 + struct.unpack("<Q", st[:8])[0]]
    put(d("json"), "header.json", header)
    put(d("json"), "values.json",
        b'{"a": [1, -2.5e-3, 0, true, false, null], "s": "x\\u00e9\\ud83d\\ude00\\n\\"", "o": {}}')
    # Foreign and odd SQLite files for the store (ddpmx's own: scripts/fuzz.sh).
    tmp = os.path.join(out, "tmp.db")
    for name, sql in (("foreign.db", "CREATE TABLE t(x); INSERT INTO t VALUES (1);"),
                      ("newer.db", "PRAGMA application_id = %d; PRAGMA user_version = 99;" % DDPMX_APP_ID),
                      ("empty_sqlite.db", "CREATE TABLE t(x); DROP TABLE t;")):
        sqlite_file(tmp, sql)
        with open(tmp, "rb") as f:
            put(d("store"), name, f.read())
        os.remove(tmp)
    put(d("store"), "not_sqlite.db", b"SQLite format 2\0" + bytes(84))


def limits(out):
    d = lambda h: os.path.join(out, h)
    # A gzip bomb: the header claims 3 images of 5x4, the stream holds 64 MiB.
    bomb = gzip.compress(idx_images(3, 5, 4, payload=bytes(64 << 20)), 9, mtime=0)
    put(d("idx"), "gzip_bomb", b"\0" + bomb, "header promises 60 bytes of data but the file holds more")
    # An IDX header claiming 2^31 images of 28x28.
    put(d("idx"), "claims_2pow31_images", b"\0" + struct.pack(">IIII", 0x803, 1 << 31, 28, 28) + bytes(64),
        "header claims 2147483648 items, more than the limit of 2147483647")
    put(d("idx"), "labels_claim_2pow32", b"\1" + struct.pack(">II", 0x801, 0xFFFFFFFF) + bytes(8),
        "header claims 4294967295 items")
    put(d("idx"), "claims_16gib", b"\0" + struct.pack(">IIII", 0x803, 1 << 30, 128, 128) + bytes(64),
        "more than the limit of 17179869184 (16 GiB)")
    put(d("cifar"), "gzip_bomb", gzip.compress(bytes(64 << 20), 9, mtime=0),
        "holds more than 10000 records")
    # A PNG claiming 100000x100000 pixels (its data is a few bytes).
    huge = png(100000, 100000, 2, rows=b"\0" * 16)
    put(d("png"), "claims_100000x100000", huge, "100000x100000 pixels is over the limit")
    put(d("png_folder"), "claims_100000x100000", b"\0" + huge, "is 100000x100000; the limit is 16384 a side")
    put(d("png_folder"), "claims_16384x16384", b"\0" + png(16384, 16384, 0, rows=b"\0" * 16),
        "the limit is 67108864 pixels an image")
    # A safetensors header length of 2^62 bytes.
    put(d("safetensors"), "header_length_2pow62", struct.pack("<Q", 1 << 62) + b"{}",
        "header length 4611686018427387904")
    put(d("safetensors"), "gzip_bomb", gzip.compress(bytes(64 << 20), 9, mtime=0),
        "it is gzip-compressed; safetensors files are not")
    # JSON nested 100000 deep, bare and as a safetensors header.
    deep = b"[" * 100000  # refused at level 65: the closing brackets would never be read
    put(d("json"), "nested_100000", deep, "nested deeper than 64 levels")
    put(d("safetensors"), "header_nested_100000", struct.pack("<Q", len(deep)) + deep,
        "nested deeper than 64 levels")
    # YAML nested 100000 deep, in flow and block style, and through aliases.
    put(d("yaml"), "flow_nested_100000", b"train: " + b"[" * 100000 + b"\n",
        "nested deeper than 64 levels")
    block = b"".join(b" " * i + b"k:\n" for i in range(200)) + b" " * 200 + b"v\n"
    put(d("yaml"), "block_nested_200", block, "nested deeper than 64 levels")
    alias = b"a0: &a0 [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    alias += b"a1: &a1 [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a0]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    alias += b"a2: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[*a1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n"
    put(d("yaml"), "alias_nested_99", alias, "nested deeper than 64 levels (aliases included)")
    # The store: another program's database, a newer ddpmx's, and no database at all.
    tmp = os.path.join(out, "tmp.db")
    for name, sql, expect in (
            ("foreign.db", "PRAGMA application_id = 7; CREATE TABLE t(x);", "an SQLite database of another program"),
            ("newer.db", "PRAGMA application_id = %d; PRAGMA user_version = 99;" % DDPMX_APP_ID,
             "has schema version 99, newer than this ddpmx knows")):
        sqlite_file(tmp, sql)
        with open(tmp, "rb") as f:
            put(d("store"), name, f.read(), expect)
        os.remove(tmp)
    put(d("store"), "not_a_database", b"ddpmx" * 200, "is not an SQLite database")
    put(d("yaml"), "extends_dev_zero", b"extends: /dev/zero\n",
        "holds more than 1048576 bytes (1 MiB), the limit for an experiment file")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] not in ("seeds", "limits"):
        sys.exit(__doc__)
    (seeds if sys.argv[1] == "seeds" else limits)(sys.argv[2])
