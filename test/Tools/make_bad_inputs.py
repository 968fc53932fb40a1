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
