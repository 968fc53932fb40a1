"""attn.dist (the Python package's sequence parallelism) under mpirun: each
rank passes its range of the same seeded inputs and must get its rows of
the whole sequence's result, against the independent float64 reference
(test/Numerics/reference.py, 1e-5 relative: SPEC's f32 bar) and against
the package's single-process attn.attention / attn.lightning. Rank 0 prints
one line per case and PASS or FAIL; the exit status says the same.

usage: mpirun -np P python3 dist_python.py
"""
import os
import sys

import numpy as np
from mpi4py import MPI

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Numerics"))
import reference  # noqa: E402

import attn  # noqa: E402
import attn.dist  # noqa: E402

comm = MPI.COMM_WORLD
me, P = comm.Get_rank(), comm.Get_size()
TOL = 1e-5


def split(n, uneven):
    """Each rank's [begin, end): even, or rank p about p + 1 shares."""
    w = [p + 1 if uneven else 1 for p in range(P)]
    edges = [n * sum(w[:p]) // sum(w) for p in range(P + 1)]
    return edges[me], edges[me + 1]


def inputs(seed, B, H, Hk, N, D):
    rng = np.random.default_rng(seed)
    f = lambda *s: rng.standard_normal(s).astype(np.float32)  # noqa: E731
    return f(B, H, N, D), f(B, Hk, N, D), f(B, Hk, N, D)


def rel(a, b):
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-30))


failed = False
cases = [(1000, False, [64, 256, 1024], [1, 4, 16], True, True),
         (777, True, [32, 128], [1, 4], False, False)]
for N, uneven, segs, rates, grouped, causal in cases:
    q, k, v = inputs(N, 2, 4, 2, N, 32)
    b, e = split(N, uneven)
    o = attn.dist.dilated(q[:, :, b:e], k[:, :, b:e], v[:, :, b:e], segs, rates,
                          comm=comm, grouped=grouped, causal=causal)
    pattern = (f"#attn.dilated<segments = {segs}, rates = {rates}"
               + ("" if causal else ", causal = false")
               + (", offsets = grouped" if grouped else "") + ">")
    ref = reference.attention(q.astype(np.float64), k.astype(np.float64),
                              v.astype(np.float64),
                              reference.pattern_from_text(pattern))[0][:, :, b:e]
    one = attn.attention(q, k, v, pattern=pattern)[:, :, b:e]
    err = comm.allreduce(max(rel(o, ref), 0.0), op=MPI.MAX)
    err1 = comm.allreduce(rel(o, one), op=MPI.MAX)
    sent, received = attn.dist.last_stats()
    ok = err <= TOL and err1 <= TOL and np.isfinite(o).all()
    failed |= not comm.allreduce(ok, op=MPI.LAND)
    if me == 0:
        print(f"dilated {pattern}, N = {N}{' uneven' if uneven else ''}, {P} ranks: "
              f"{err:.2e} against float64, {err1:.2e} against one process; "
              f"rank 0 sent {sent} bytes")

for N, uneven in ((1000, False), (555, True)):
    q, k, v = inputs(N + 1, 1, 3, 3, N, 32)
    k *= 0.25
    slopes = np.array([0.05, 0.1, 0.3], np.float32)
    b, e = split(N, uneven)
    o, state = attn.dist.lightning(q[:, :, b:e], k[:, :, b:e], v[:, :, b:e], comm=comm,
                                   slopes=slopes, return_state=True)
    ref, ref_state = reference.lightning(q.astype(np.float64), k.astype(np.float64),
                                         v.astype(np.float64), slopes.astype(np.float64))
    err = comm.allreduce(rel(o, ref[:, :, b:e]), op=MPI.MAX)
    serr = rel(state, ref_state) if me == P - 1 else 0.0
    serr = comm.allreduce(serr, op=MPI.MAX)
    ok = err <= TOL and serr <= TOL
    failed |= not comm.allreduce(ok, op=MPI.LAND)
    if me == 0:
        print(f"lightning N = {N}{' uneven' if uneven else ''}, {P} ranks: {err:.2e} "
              f"against float64, final state {serr:.2e}")

# Bad arguments fail every rank alike with the library's message (the
# ranks agree on validity before any data moves).
q, k, v = inputs(5, 1, 2, 2, 8, 32)
bad_calls = [
    ("negative slopes", lambda: attn.dist.lightning(q, k, v, comm=comm,
                                                    slopes=np.array([0.1, -1], np.float32))),
    ("fewer K/V heads", lambda: attn.dist.lightning(q, k[:, :1], v[:, :1], comm=comm)),
    ("K rows differ", lambda: attn.dist.dilated(q, k[:, :, :4], v[:, :, :4], [4], [1], comm=comm)),
    ("negative scale", lambda: attn.dist.dilated(q, k, v, [4], [1], comm=comm, scale=-1.0)),
    ("rate not dividing", lambda: attn.dist.dilated(q, k, v, [6], [4], comm=comm)),
]
for what, call in bad_calls:
    try:
        call()
        failed = True
        if me == 0:
            print(f"{what}: no error")
    except attn.AttnError as ex:
        if me == 0:
            print(f"{what}: {type(ex).__name__}: {ex}")

# A wrong communicator type is a clear error, not a crash.
try:
    attn.dist.dilated(q, k, v, [16], [1], comm=object())
    failed = True
except TypeError as ex:
    if me == 0:
        print("comm=object():", ex)
if me == 0:
    print("FAIL" if failed else "PASS")
sys.exit(1 if failed else 0)
