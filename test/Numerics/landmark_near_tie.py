"""Why cpu_matrix.py redraws landmark top-k inputs with near-tied scores: a
row whose two best earlier landmark scores differ by less than f32 rounding
(here 1 + 2^-30 against 1) is a tie for the kernel, which takes the earlier
block (SPEC), and not for the float64 reference, which takes the later one.
Both are right; the outputs differ by far more than SPEC's tolerance.
Checks that the kernel's answer is the reference's for the tie it sees, that
it is not the float64 choice, and that cpu_matrix.topk_gap flags the input.
usage: landmark_near_tie.py WORKDIR"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cpu_matrix  # noqa: E402
import reference  # noqa: E402

work = sys.argv[1]
pattern = "#attn.landmark<block = 2, topk = 1>"
n, d = 6, 8
rng = np.random.default_rng(0)
q = np.zeros((1, 1, n, d))
q[..., :2] = 1.0
k = 0.1 * rng.standard_normal((1, 1, n, d))
k[0, 0, 1] = 0.0
k[0, 0, 1, 0] = 1.0                 # block 0's landmark: score 1 / sqrt(8)
k[0, 0, 3] = 0.0
k[0, 0, 3, :2] = [1.0, 2.0**-30]    # block 1's: (1 + 2^-30) / sqrt(8)
v = rng.standard_normal((1, 1, n, d))
paths = {}
for name, x in (("q", q), ("k", k), ("v", v)):
    paths[name] = os.path.join(work, name + ".npy")
    np.save(paths[name], x.astype(np.float32))
out = os.path.join(work, "o.npy")
subprocess.run([os.environ.get("ATTN_RUN", "attn-run"), "--pattern", pattern,
                "--q", paths["q"], "--k", paths["k"], "--v", paths["v"],
                "--out", out], check=True)
got = np.load(out).astype(np.float64)
parsed = reference.pattern_from_text(pattern)
k32 = k.astype(np.float32).astype(np.float64)
want64, _ = reference.attention(q, k32, v.astype(np.float32).astype(np.float64), parsed)
k_tie = k32.copy()
k_tie[0, 0, 3, 1] = 0.0             # the scores as f32 sees them: equal
want_tie, _ = reference.attention(q, k_tie, v.astype(np.float32).astype(np.float64), parsed)
print("rel error against the f32 tie: %.2e" % reference.rel_error(got, want_tie)[1])
print("rel error against the float64 choice: %.2e" % reference.rel_error(got, want64)[1])
gap = cpu_matrix.topk_gap(q, k32, parsed)
print("top-k gap %.2e, %s" % (gap, "redrawn" if gap < cpu_matrix.TOPK_MARGIN else "kept"))
