"""Writes fresh random q.npy, k.npy, v.npy for a test: DIR B H Hk Nq Nk D [dtype]."""
import sys

import numpy as np

out, b, h, hk, nq, nk, d = sys.argv[1], *map(int, sys.argv[2:8])
dtype = np.float16 if len(sys.argv) > 8 and sys.argv[8] == "f16" else np.float32
rng = np.random.default_rng()
np.save(f"{out}/q.npy", rng.standard_normal((b, h, nq, d)).astype(dtype))
np.save(f"{out}/k.npy", rng.standard_normal((b, hk, nk, d)).astype(dtype))
np.save(f"{out}/v.npy", rng.standard_normal((b, hk, nk, d)).astype(dtype))
