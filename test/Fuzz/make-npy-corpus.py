"""Writes the seed corpus of the .npy fuzzer into DIR: valid files numpy
writes (f32/f16, ranks 0-4, format versions 1 and 2) and near misses."""
import io
import os
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def save(name, array, version=None):
    buf = io.BytesIO()
    if version:
        np.lib.format.write_array(buf, array, version=version)
    else:
        np.save(buf, array)
    open(os.path.join(out, name), "wb").write(buf.getvalue())
    return buf.getvalue()


rng = np.random.default_rng(0)
save("f32-rank4.npy", rng.standard_normal((1, 2, 3, 4)).astype(np.float32))
save("f16-rank2.npy", rng.standard_normal((3, 5)).astype(np.float16))
save("f32-scalar.npy", np.float32(1.5))
save("f32-empty.npy", np.zeros((0, 4), np.float32))
save("f32-v2.npy", np.arange(6, dtype=np.float32), version=(2, 0))
raw = save("f32-rank1.npy", np.arange(4, dtype=np.float32))
open(os.path.join(out, "truncated.npy"), "wb").write(raw[:-3])
open(os.path.join(out, "fortran.npy"), "wb").write(
    raw.replace(b"'fortran_order': False", b"'fortran_order': True "))


def header(text, data=b""):
    h = text.encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    return b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data


open(os.path.join(out, "overflow.npy"), "wb").write(header(
    "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (107367629, 2684518405, 64, 16), }", b"\0" * 64))
open(os.path.join(out, "duplicate.npy"), "wb").write(header(
    "{'descr': '<f2', 'fortran_order': False, 'shape': (9,), "
    "'shape': (1_2,), }", b"\0" * 24))
