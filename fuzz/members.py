#!/usr/bin/env python3
"""members.py — an .npz as the member list that fuzz_model and fuzz_params
take (fuzz_common.h): "@@ NAME" lines, each followed by the member's bytes.

    python3 fuzz/members.py in.npz > corpus/params/some-name

Only Python's standard library (zipfile); used to make seeds, not by tests.
"""
import sys
import zipfile


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: members.py FILE.npz > LIST")
    out = bytearray()
    with zipfile.ZipFile(sys.argv[1]) as z:
        for info in z.infolist():
            if out:
                out += b"\n"
            out += b"@@ " + info.filename.encode() + b"\n" + z.read(info)
    sys.stdout.buffer.write(bytes(out))


if __name__ == "__main__":
    main()
