"""Writes malformed and mismatched .npy files for attn-run's error tests."""
import sys

import numpy as np

d = sys.argv[1]
rng = np.random.default_rng()
f = lambda *s: rng.standard_normal(s).astype(np.float32)
np.save(f"{d}/q.npy", f(1, 4, 16, 8))
np.save(f"{d}/k.npy", f(1, 2, 16, 8))
np.save(f"{d}/v.npy", f(1, 2, 16, 8))
np.save(f"{d}/rank3.npy", f(4, 16, 8))
np.save(f"{d}/int.npy", np.ones((1, 2, 16, 8), np.int32))
np.save(f"{d}/f64.npy", np.ones((1, 2, 16, 8), np.float64))
np.save(f"{d}/k_d4.npy", f(1, 2, 16, 4))
np.save(f"{d}/k_h3.npy", f(1, 3, 16, 8))
np.save(f"{d}/v_n9.npy", f(1, 2, 9, 8))
np.save(f"{d}/fortran.npy", np.asfortranarray(f(1, 2, 16, 8)))
np.save(f"{d}/k_f16.npy", f(1, 2, 16, 8).astype(np.float16))
np.save(f"{d}/nan.npy", np.full((1, 2, 16, 8), np.nan, np.float32))
raw = open(f"{d}/k.npy", "rb").read()
open(f"{d}/truncated.npy", "wb").write(raw[: len(raw) - 100])
open(f"{d}/garbage.npy", "wb").write(b"this is not a numpy file at all")
open(f"{d}/header.npy", "wb").write(raw[:20])


def npy(name, header, data=b""):
    """A .npy file with the literal header text `header` (padded as numpy
    pads it) and the raw bytes `data`."""
    h = header.encode()
    h += b" " * ((64 - (10 + len(h) + 1) % 64) % 64) + b"\n"
    blob = b"\x93NUMPY\x01\x00" + len(h).to_bytes(2, "little") + h + data
    open(f"{d}/{name}", "wb").write(blob)


def hdr(shape):
    return "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }" % shape


kdata = np.load(f"{d}/k.npy").tobytes()
# Shape products that overflow 64 bits: elements, then only bytes.
npy("overflow.npy", hdr("(107367629, 2684518405, 64, 16)"), b"\0" * 4096)
npy("wrap.npy", hdr("(1048576, 1048576, 1048576, 16)"))
npy("bytes.npy", hdr("(2305843009213693952, 1, 1, 1)"), b"\0" * 64)
# Shape entries numpy rejects (floats), and ones it accepts.
npy("shape_exp.npy", hdr("(1e3, 2, 16, 8)"), kdata)
npy("shape_dot.npy", hdr("(1.9, 2, 16, 8)"), kdata)
npy("shape_us.npy", hdr("(1, 2, 1_6, 8)"), kdata)
# Duplicate keys: Python's dict (and numpy) keep the last value.
npy("dup.npy", "{'descr': '<f4', 'fortran_order': False, "
    "'shape': (1, 2, 9, 8), 'shape': (1, 2, 16, 8)}", kdata)
# Values an f16 kernel cannot hold, and scores f32 cannot hold.
big = lambda scale: (rng.standard_normal((1, 2, 16, 8)) * scale).astype(np.float32)
np.save(f"{d}/q_1e5.npy", big(1e5).reshape(1, 2, 16, 8))
np.save(f"{d}/k_1e5.npy", big(1e5))
big20 = np.full((1, 2, 16, 8), 1e20, np.float32)
np.save(f"{d}/q_1e20.npy", big20)
big20[:, :, ::2] *= -1
np.save(f"{d}/k_1e20.npy", big20)
