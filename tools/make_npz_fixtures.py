#!/usr/bin/env python3
"""Writes the .npz fixtures of tests/test_npz.c into tests/data/npz/, and
checks that numpy reads the archive our writer made (written_by_ntk.npz).

Generated with numpy 1.26.4 (Python 3.11.7 zipfile). The files are
committed; the test suite never runs Python. Run from the repository root:

    python3 -m venv .venv-ref && .venv-ref/bin/pip install numpy==1.26.4
    .venv-ref/bin/python tools/make_npz_fixtures.py          # write + check
    .venv-ref/bin/python tools/make_npz_fixtures.py --check  # check only

written_by_ntk.npz is made by the C writer, not here: the test
test_written_by_ntk compares its own output with it byte for byte, and
rewrites it first when run as
    NTK_NPZ_REGEN=1 ctest --test-dir build -R test_npz
The check below then loads it with numpy and compares its bytes with what
zipfile writes for the same members opened as np.savez opens them.

zip64.npz (limits 10 and 1) and zip64_all.npz (limits 0: every size and
offset, and the end record) are np.savez output with zipfile.ZIP64_LIMIT and
ZIP_FILECOUNT_LIMIT lowered, where zipfile puts the zip64 records a > 2 GiB
archive gets; test_npz.c writes the same arrays with the same limits
(ntk_npz_write_limits) and compares the bytes. zip64_deflate.npz is
np.savez_compressed with limits 0, for the reader.

Values (tests/test_npz.c recomputes them; k is the C-order element index):
    float arrays:   (k - 5) / 3   (float32: that double rounded)
    integer arrays: (k - 5) * 3
"""
import io
import os
import struct
import sys
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "tests", "data", "npz")

# What written_by_ntk.npz holds (test_npz.c: write_reference_archive).
ARCH = b"dense(4,w_std=1.5,b_std=0.05),relu,dense(1)\n"
SPECIAL = [0.0, -0.0, 1.0, -1.5, 1e-310, 1.7976931348623157e308, float("inf"),
           float("-inf"), float("nan"), 1.0 / 3.0]


def values(dt, shape, order="C"):
    dt = np.dtype(dt)
    k = np.arange(int(np.prod(shape)))
    a = ((k - 5) / 3.0) if dt.kind == "f" else ((k - 5) * 3)
    return np.array(a.astype(dt).reshape(shape), order=order)


def mixed():
    """The arrays of savez.npz / savez_compressed.npz / savez_stream.npz."""
    return {
        "W": values("<f8", (3, 4)),
        "b": values("<f8", (4,)),
        "f32": values("<f4", (2, 3)),
        "i8": values("<i8", (5,)),
        "F": values("<f8", (3, 2), order="F"),
        "be": values(">f8", (2, 2)),
        "dense0.W": values("<f8", (2, 5)),
    }


def f8_only():
    """savez_f8.npz: what the C writer must reproduce byte for byte."""
    return {"W": values("<f8", (3, 4)), "b": values("<f8", (4,)),
            "v": values("<f8", (100,))}


class Unseekable(io.RawIOBase):
    """A stream zipfile cannot seek: it writes data descriptors (flag bit 3)."""

    def __init__(self, f):
        self.f = f

    def writable(self):
        return True

    def write(self, b):
        return self.f.write(b)

    def tell(self):
        return self.f.tell()

    def seekable(self):
        return False

    def seek(self, *a):
        raise OSError("not seekable")

    def flush(self):
        self.f.flush()


def path(name):
    return os.path.join(OUT, name)


def write_fixtures():
    os.makedirs(OUT, exist_ok=True)
    np.savez(path("savez.npz"), **mixed())
    np.savez_compressed(path("savez_compressed.npz"), **mixed())
    np.savez(path("savez_f8.npz"), **f8_only())
    with open(path("savez_stream.npz"), "wb") as f:
        np.savez(Unseekable(f), **mixed())

    # np.savez output plus a deflated arch.txt added by zipfile (version
    # 2.0, no zip64 extra, a fixed date): how a Python user would add the
    # architecture to a parameter file
    p = path("savez_arch.npz")
    np.savez(p, W=values("<f8", (3, 4)), b=values("<f8", (4,)))
    with zipfile.ZipFile(p, "a") as z:
        zi = zipfile.ZipInfo("arch.txt", date_time=(2024, 1, 1, 0, 0, 0))
        zi.compress_type = zipfile.ZIP_DEFLATED
        z.writestr(zi, ARCH)

    # zip64 everywhere: with the limits lowered, zipfile puts the sizes and
    # offsets in the central directory's zip64 extra field and writes a
    # zip64 end record and locator (0xffff members in the end record)
    saved = zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 10, 1
    try:
        np.savez(path("zip64.npz"), W=values("<f8", (3, 4)), b=values("<f8", (4,)))
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    d = open(path("zip64.npz"), "rb").read()
    assert b"PK\x06\x06" in d and b"PK\x06\x07" in d, "zipfile wrote no zip64 end record"

    # zip64 for everything (limits 0): every size, every offset but the
    # first, and the end record; test_npz.c writes the same arrays with
    # ntk_npz_write_limits(..., 0, 0) and compares the bytes. Then the same
    # with deflate (savez_compressed), for the reader only.
    zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = 0, 0
    try:
        np.savez(path("zip64_all.npz"), **f8_only())
        np.savez_compressed(path("zip64_deflate.npz"), **mixed())
    finally:
        zipfile.ZIP64_LIMIT, zipfile.ZIP_FILECOUNT_LIMIT = saved
    for name in ("zip64_all.npz", "zip64_deflate.npz"):
        d = open(path(name), "rb").read()
        assert b"PK\x06\x06" in d and b"PK\x06\x07" in d, name
        with zipfile.ZipFile(path(name)) as z:
            assert z.testzip() is None
            assert all(i.file_size > 0 and len(i.extra) >= 12 for i in z.infolist()), name
    with np.load(path("zip64_all.npz")) as z:
        for k, v in f8_only().items():
            assert np.array_equal(z[k], v), k
    with np.load(path("zip64_deflate.npz")) as z:
        for k, v in mixed().items():
            assert z[k].dtype == v.dtype and np.array_equal(z[k], v), k

    # members that are valid .npy files ntk cannot use
    np.savez(path("unsupported.npz"), cube=np.zeros((2, 2, 2)), text=np.array(["ab", "cd"]),
             c16=np.arange(3, dtype="<c16"))

    for name in ("savez.npz", "savez_compressed.npz", "savez_stream.npz"):
        with np.load(path(name)) as z:
            for k, v in mixed().items():
                assert z[k].dtype == v.dtype and np.array_equal(z[k], v), (name, k)
    with zipfile.ZipFile(path("savez_stream.npz")) as z:
        assert all(i.flag_bits & 8 for i in z.infolist()), "no data descriptors"
    with np.load(path("zip64.npz")) as z:
        assert np.array_equal(z["W"], values("<f8", (3, 4)))
    with np.load(path("savez_arch.npz")) as z:
        assert z["arch.txt"] == ARCH


def check_written_by_ntk():
    p = path("written_by_ntk.npz")
    with zipfile.ZipFile(p) as z:
        assert z.testzip() is None, "CRC error"
        names = z.namelist()
    want = {
        "W": values("<f8", (3, 4)),
        "b": values("<f8", (4,)),
        "dense0.W": values("<f8", (2, 5)),
        "special": np.array(SPECIAL),
        "\u03b8": np.array([2.5, -0.5]),  # a non-ASCII name: UTF-8, flag bit 11
    }
    assert names == [k + ".npy" for k in want] + ["arch.txt"], names
    with np.load(p) as z:
        assert z.files == list(want) + ["arch.txt"], z.files
        for k, v in want.items():
            got = z[k]
            assert got.dtype == np.dtype("<f8") and got.shape == v.shape, (k, got.dtype, got.shape)
            assert got.view("<u8").tolist() == v.view("<u8").tolist(), (k, got, v)
        arch = z["arch.txt"]
        assert isinstance(arch, bytes) and arch == ARCH, arch

    # and the bytes are exactly zipfile's, writing the members the way
    # np.savez does (force_zip64), arch.txt included
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_STORED) as z:
        for k, v in want.items():
            with z.open(k + ".npy", "w", force_zip64=True) as f:
                np.lib.format.write_array(f, v)
        with z.open("arch.txt", "w", force_zip64=True) as f:
            f.write(ARCH)
    ours = open(p, "rb").read()
    assert ours == buf.getvalue(), "written_by_ntk.npz differs from zipfile's bytes"
    print(f"{p}: numpy {np.__version__} reads it: {len(want)} arrays bitwise equal, "
          f"arch.txt as bytes ({len(ARCH)}), CRCs ok, identical to zipfile/np.savez bytes "
          f"({len(ours)} bytes)")


def main():
    if "--check" not in sys.argv:
        write_fixtures()
        print(f"wrote fixtures to {os.path.normpath(OUT)} with numpy {np.__version__}")
    if os.path.exists(path("written_by_ntk.npz")):
        check_written_by_ntk()
    else:
        print("written_by_ntk.npz is missing: run "
              "NTK_NPZ_REGEN=1 ctest --test-dir build -R test_npz first")


if __name__ == "__main__":
    main()
