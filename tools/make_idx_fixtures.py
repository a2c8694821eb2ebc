#!/usr/bin/env python3
"""Writes the IDX fixtures of tests/test_idx.c and tests/cli/fit_ok.sh into
tests/data/idx/. Plain Python 3 (struct, gzip): no numpy. The files are
committed; the test suite never runs Python. Run from the repository root:

    python3 tools/make_idx_fixtures.py

The IDX format (MNIST): magic 0x00 0x00 <type> <ndim>, the dimensions as
big-endian u32, then the elements big-endian in C order.

Values (tests/test_idx.c recomputes them; k is the C-order element index):
    u8:  (37·k + 11) mod 256        i8:  ((37·k + 11) mod 256) − 128
    i16: (k − 5)·1001               i32: (k − 15)·70000001
    f32: (k − 5)/4 (exact)          f64: (k − 5)/3
Shapes: "<t>-3d" is 3 × 2 × 5 (→ 3 × 10), "<t>-1d" is 7 (→ 7 × 1); every
file also comes gzip'd (mtime 0, so the bytes are reproducible).

Broken files for the error tests (the test also crafts its own):
    bad-magic-idx1-ubyte     first byte 0x01
    bad-type-idx1-ubyte      type 0x0A
    trunc-data-idx3-ubyte    the u8 3-D file less its last 3 bytes
    trunc-dims-idx3-ubyte    stops inside the dimensions
    trailing-idx1-ubyte      two bytes after the data
    trunc-idx3-ubyte.gz      the gzip'd u8 3-D file cut in the middle
    corrupt-idx3-ubyte.gz    one byte of its deflate data flipped
    garbage-idx3-ubyte.gz    a gzip magic followed by noise

Tiny "images" for the CLI tests: images-idx3-ubyte.gz is 24 × 8 × 8 u8
(three classes: a bright band in rows 0-2, 3-5 or 6-7 of the image, plus
deterministic noise) and labels-idx1-ubyte.gz the 24 class labels.
"""
import gzip
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "idx")

TYPES = {  # name: (code, struct format, value of element k)
    "u8": (0x08, "B", lambda k: (37 * k + 11) % 256),
    "i8": (0x09, "b", lambda k: (37 * k + 11) % 256 - 128),
    "i16": (0x0B, "h", lambda k: (k - 5) * 1001),
    "i32": (0x0C, "i", lambda k: (k - 15) * 70000001),
    "f32": (0x0D, "f", lambda k: (k - 5) / 4),
    "f64": (0x0E, "d", lambda k: (k - 5) / 3),
}


def idx_bytes(code, fmt, dims, values):
    head = bytes([0, 0, code, len(dims)]) + struct.pack(">%dI" % len(dims), *dims)
    return head + struct.pack(">%d%s" % (len(values), fmt), *values)


def gz(data):
    return gzip.compress(data, compresslevel=9, mtime=0)


def write(name, data):
    with open(os.path.join(OUT, name), "wb") as f:
        f.write(data)


def main():
    os.makedirs(OUT, exist_ok=True)
    for t, (code, fmt, val) in TYPES.items():
        for tag, dims, suffix in (("3d", (3, 2, 5), "-idx3-ubyte"), ("1d", (7,), "-idx1-ubyte")):
            n = 1
            for d in dims:
                n *= d
            data = idx_bytes(code, fmt, dims, [val(k) for k in range(n)])
            write(t + "-" + tag + suffix, data)
            write(t + "-" + tag + suffix + ".gz", gz(data))
    # the ".idx" name form
    code, fmt, val = TYPES["f64"]
    write("f64-2d.idx", idx_bytes(code, fmt, (4, 3), [val(k) for k in range(12)]))

    u8 = TYPES["u8"]
    good = idx_bytes(u8[0], u8[1], (3, 2, 5), [u8[2](k) for k in range(30)])
    lab = idx_bytes(u8[0], u8[1], (7,), [u8[2](k) for k in range(7)])
    write("bad-magic-idx1-ubyte", b"\x01" + lab[1:])
    write("bad-type-idx1-ubyte", lab[:2] + b"\x0a" + lab[3:])
    write("trunc-data-idx3-ubyte", good[:-3])
    write("trunc-dims-idx3-ubyte", good[:10])
    write("trailing-idx1-ubyte", lab + b"\x00\x01")
    z = gz(good)
    write("trunc-idx3-ubyte.gz", z[: len(z) // 2])
    # flip a byte inside the deflate data (after the 10-byte gzip header,
    # before the 8-byte CRC/size trailer): a data or CRC error
    mid = 10 + (len(z) - 18) // 2
    write("corrupt-idx3-ubyte.gz", z[:mid] + bytes([z[mid] ^ 0xFF]) + z[mid + 1 :])
    noise = bytes((97 * k + 13) % 251 for k in range(64))
    write("garbage-idx3-ubyte.gz", b"\x1f\x8b\x08\x00" + noise)

    # tiny images for the CLI tests
    images, labels = [], []
    for i in range(24):
        c = i % 3
        rows = (range(0, 3), range(3, 6), range(6, 8))[c]
        for r in range(8):
            for col in range(8):
                noise = (i * 131 + r * 17 + col * 29) % 61
                images.append(min(255, (180 if r in rows else 20) + noise))
        labels.append(c)
    write("images-idx3-ubyte.gz", gz(idx_bytes(0x08, "B", (24, 8, 8), images)))
    write("labels-idx1-ubyte.gz", gz(idx_bytes(0x08, "B", (24,), labels)))


if __name__ == "__main__":
    main()
