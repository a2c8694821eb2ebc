#!/usr/bin/env python3
"""Writes the .npy/.csv fixtures of tests/test_io.c into tests/data/io/.

Generated with numpy 2.4.6 (Python 3.11.7); numpy 1.26.4 writes identical
files except the pickle inside err_object.npy. The files are committed; the test
suite never runs Python. Run from the repository root:

    python3 -m venv .venv-ref && .venv-ref/bin/pip install numpy
    .venv-ref/bin/python tools/make_io_fixtures.py

Values (tests/test_io.c recomputes them; k is the C-order element index,
n the element count):
    float:    (k - 5) / 3            (float32 files: that double rounded)
    signed:   (k - 5) * 3, except k = 0 is the type's min, k = n-1 its max
    unsigned: k * 7,       except k = n-1 is the type's max
"""
import os
import numpy as np
from numpy.lib import format as npf

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data", "io")

# file tag -> dtype string as numpy writes it
DTYPES = {
    "f8le": "<f8", "f8be": ">f8", "f4le": "<f4", "f4be": ">f4",
    "i1": "|i1", "u1": "|u1",
    "i2le": "<i2", "i2be": ">i2", "u2le": "<u2", "u2be": ">u2",
    "i4le": "<i4", "i4be": ">i4", "u4le": "<u4", "u4be": ">u4",
    "i8le": "<i8", "i8be": ">i8", "u8le": "<u8", "u8be": ">u8",
}


def values(dt, shape):
    dt = np.dtype(dt)
    n = int(np.prod(shape))
    k = np.arange(n)
    if dt.kind == "f":
        a = ((k - 5) / 3.0).astype(dt)
    elif dt.kind == "i":
        info = np.iinfo(dt)
        a = ((k - 5) * 3).astype(dt)
        a[0], a[-1] = info.min, info.max
    else:
        info = np.iinfo(dt)
        a = (k * 7).astype(dt)
        a[-1] = info.max
    return a.reshape(shape)


def write(name, arr, version=None):
    with open(os.path.join(OUT, name), "wb") as f:
        npf.write_array(f, arr, version=version, allow_pickle=True)


def main():
    os.makedirs(OUT, exist_ok=True)
    for tag, dt in DTYPES.items():
        a = values(dt, (3, 4))
        assert a.dtype.str == dt, (a.dtype.str, dt)
        for v in (1, 2, 3):
            write(f"{tag}_v{v}_C.npy", np.ascontiguousarray(a), (v, 0))
            write(f"{tag}_v{v}_F.npy", np.asfortranarray(a), (v, 0))
        write(f"{tag}_1d.npy", values(dt, (5,)))

    # np.save output that ntk_io_write must reproduce byte for byte
    for name, shape in (("save_3x4", (3, 4)), ("save_12x3", (12, 3)),
                        ("save_5", (5,)), ("save_100", (100,))):
        np.save(os.path.join(OUT, name + ".npy"), values("<f8", shape))

    # files ntk_io_read must refuse
    write("err_c16.npy", np.arange(4, dtype="<c16"))
    write("err_object.npy", np.array([1, "a"], dtype=object))
    write("err_unicode.npy", np.array(["ab", "cd"], dtype="<U8"))
    write("err_struct.npy", np.zeros(2, dtype=[("a", "<f8"), ("b", "<i4")]))
    write("err_bool.npy", np.array([True, False]))
    write("err_f2.npy", np.arange(3, dtype="<f2"))
    write("err_3d.npy", np.zeros((2, 3, 4)))
    write("err_0d.npy", np.array(3.0))
    write("err_empty.npy", np.zeros((0, 3)))
    write("err_empty1d.npy", np.zeros((0,)))

    # CSV as numpy writes it (%.18e), without and with a header row
    a = values("<f8", (3, 4))
    np.savetxt(os.path.join(OUT, "savetxt.csv"), a, delimiter=",")
    np.savetxt(os.path.join(OUT, "savetxt_header.csv"), a, delimiter=",",
               header="a,b,c,d", comments="")
    print(f"numpy {np.__version__}: wrote {len(os.listdir(OUT))} files to {os.path.normpath(OUT)}")


if __name__ == "__main__":
    main()
