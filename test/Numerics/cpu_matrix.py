"""SPEC's test matrix on the CPU target: every supported pattern and lightning
attention (prefill, decode, states), f32/f16/bf16,
odd N, D in {32, 64, 80, 128} and head dims that are no multiple of any
vector width (8, 24, 72, 100: masked tails), GQA and MQA, Nq < Nk, Nq = 1, rows without keys.

Each case draws fresh random inputs, runs attn-run (which poisons its outputs
with NaN before the kernel runs) and compares O and LSE with the float64
reference in reference.py, written from SPEC.md independently of the compiler.
Prints one line per case and a summary; exits 1 on any failure.
usage: cpu_matrix.py WORKDIR [--quick]
"""
import os
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference  # noqa: E402

WORK = sys.argv[1]
os.makedirs(WORK, exist_ok=True)
RUN = os.environ.get("ATTN_RUN", "attn-run")

PATTERNS = [
    "#attn.full",
    "#attn.causal",
    "#attn.sliding_window<window = 7>",
    "#attn.sliding_window<window = 40>",
    "#attn.block_causal<block = 16>",
    "#attn.dilated<segments = [8, 16, 32], rates = [1, 2, 4]>",
    "#attn.dilated<segments = [12, 48], rates = [2, 4], causal = false, offsets = grouped>",
    # No rate 1: rows of some heads are selected by no pattern (O = 0, LSE = -inf).
    "#attn.dilated<segments = [16, 32], rates = [4, 8]>",
    "#attn.landmark<block = 16>",
    "#attn.landmark<block = 5>",
    "#attn.landmark<block = 8, topk = 2>",
]

# (B, H, Hk, Nq, Nk, D, Dv, what)
SHAPES = [
    (2, 8, 2, 77, 77, 32, 32, "GQA 8/2, odd N, D=32"),
    (1, 4, 1, 130, 130, 64, 64, "MQA, N=130, D=64"),
    (1, 2, 2, 100, 100, 80, 80, "D=80"),
    (1, 3, 3, 65, 65, 128, 128, "D=128, N=65"),
    (1, 2, 1, 33, 150, 64, 48, "Nq < Nk (bottom-right), Dv=48"),
    (2, 2, 2, 1, 97, 64, 64, "Nq = 1 (decoding)"),
    (1, 8, 2, 3, 300, 64, 64, "GQA 8/2, Nq = 3 against 300 keys (decode rows)"),
    (1, 2, 2, 40, 20, 32, 32, "Nq > Nk: early rows see no key"),
]
# Head dims that are no multiple of 8 or 16 lanes: every pattern on every
# host (f32 all four, 16-bit two of them).
ODD_D = [
    (1, 2, 1, 37, 37, 8, 8, "D=8, GQA 2/1"),
    (1, 2, 2, 45, 45, 24, 24, "D=24"),
    (1, 1, 1, 41, 41, 72, 72, "D=72"),
    (1, 2, 2, 33, 33, 100, 100, "D=100"),
]
# Hundreds of key tiles: the online softmax rescales once per tile, so any
# error in that rescaling accumulates over these.
LONG = [("#attn.landmark<block = 2>", (1, 1, 1, 700, 700, 32, 32, "N=700, 350 blocks")),
        ("#attn.causal", (1, 1, 1, 1500, 1500, 32, 32, "N=1500"))]
DTYPES = ["f32", "f16", "bf16"]
TOL = {"f32": 1e-5, "f16": 1e-2, "bf16": 1e-2}
# Landmark top-k picks blocks by score: a discontinuous choice. When the k-th
# and (k+1)-th best landmark scores of a row are closer than the kernel's f32
# rounding of a score (a D <= 128 dot product: below 1e-5), the kernel may pick
# the other block, a valid answer that SPEC's tolerance on O cannot cover (the
# row then mixes another block's values). Such inputs are drawn again; exact
# ties (SPEC: the earlier block wins) are kept.
TOPK_MARGIN = 1e-4


def quantize(x, dtype):
    """The values the kernel actually sees, as float64."""
    if dtype == "f16":
        return x.astype(np.float16).astype(np.float64)
    if dtype == "bf16":
        bits = x.astype(np.float32).view(np.uint32).astype(np.uint64)
        bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
        return bits.astype(np.uint32).view(np.float32).astype(np.float64)
    return x.astype(np.float32).astype(np.float64)


def topk_gap(q, k, pattern):
    """The smallest nonzero gap, over query rows that choose among their
    earlier landmarks, between the k-th and (k+1)-th best landmark score
    (scaled by SPEC's default 1/sqrt(D)); inf when no row chooses."""
    L, topk = pattern["block"], pattern["topk"]
    b, h, nq, d = q.shape
    hk, nk = k.shape[1], k.shape[2]
    lm = np.arange(L - 1, nk, L)
    if topk == 0 or lm.size <= topk:
        return np.inf
    kl = k[:, np.arange(h) // (h // hk)][:, :, lm]              # [b, h, nlm, d]
    s = q @ kl.transpose(0, 1, 3, 2) / np.sqrt(d)               # [b, h, nq, nlm]
    p = nk - nq + np.arange(nq)
    earlier = (p[:, None] >= 0) & (lm[None, :] // L < p[:, None] // L)
    best = -np.sort(-np.where(earlier, s, -np.inf), axis=-1)
    with np.errstate(invalid="ignore"):  # -inf - -inf in rows that do not choose
        gap = (best[..., topk - 1] - best[..., topk])[..., earlier.sum(-1) > topk]
    gap = gap[gap > 0]
    return gap.min() if gap.size else np.inf


def run_case(pattern, shape, dtype, rng, tie_landmarks=0):
    b, h, hk, nq, nk, d, dv, what = shape
    is_dilated = pattern.startswith("#attn.dilated")
    if is_dilated and nq != nk:
        return None
    parsed = reference.pattern_from_text(pattern)
    for _ in range(100):
        q = rng.standard_normal((b, h, nq, d))
        k = rng.standard_normal((b, hk, nk, d))
        if tie_landmarks:  # every landmark key the same: top-k must break ties
            k[:, :, tie_landmarks - 1::tie_landmarks, :] = k[:, :, tie_landmarks - 1, None, :]
        if parsed["kind"] != "landmark" or \
                topk_gap(quantize(q, dtype), quantize(k, dtype), parsed) >= TOPK_MARGIN:
            break
    v = rng.standard_normal((b, hk, nk, dv))
    file_dtype = np.float16 if dtype == "f16" else np.float32
    paths = {}
    for name, x in (("q", q), ("k", k), ("v", v)):
        paths[name] = os.path.join(WORK, f"{name}.npy")
        np.save(paths[name], x.astype(file_dtype))
    out = os.path.join(WORK, "o.npy")
    lse = os.path.join(WORK, "lse.npy")
    for f in (out, lse):
        if os.path.exists(f):
            os.remove(f)
    cmd = [RUN, "--pattern", pattern, "--q", paths["q"], "--k", paths["k"],
           "--v", paths["v"], "--out", out, "--lse", lse, "--threads", "2"]
    if dtype == "bf16":
        cmd += ["--dtype", "bf16"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return False, f"attn-run failed: {proc.stderr.strip()}"
    got_o = np.load(out).astype(np.float64)
    got_l = np.load(lse).astype(np.float64)
    want_o, want_l = reference.attention(
        quantize(q, dtype), quantize(k, dtype), quantize(v, dtype), parsed)
    if dtype == "f16":  # the kernel rounds O to f16 on the way out
        want_cmp = want_o
    else:
        want_cmp = want_o
    _, rel = reference.rel_error(got_o, want_cmp)
    inf_ok = np.array_equal(np.isneginf(got_l), np.isneginf(want_l))
    finite = np.isfinite(want_l)
    lse_err = (np.max(np.abs(got_l[finite] - want_l[finite]))
               / max(1.0, np.max(np.abs(want_l[finite])))) if finite.any() else 0.0
    empty_rows = int((~finite).sum())
    ok = rel <= TOL[dtype] and lse_err <= TOL[dtype] and inf_ok \
        and not np.isnan(got_o).any() and not np.isnan(got_l).any()
    msg = (f"rel {rel:.2e} lse {lse_err:.2e} empty rows {empty_rows}"
           + ("" if inf_ok else " LSE -inf rows differ"))
    return ok, msg


# (B, H, Hk, N, D, Dv, slopes, state in, state out, what)
LIGHTNING = [
    (2, 4, 2, 150, 64, 32, False, False, True, "GQA, N=150, default ALiBi slopes"),
    (1, 6, 6, 77, 32, 32, True, False, True, "6 heads, own slopes, odd N"),
    (1, 3, 3, 65, 128, 128, False, True, True, "D=128, state in and out"),
    (2, 2, 1, 1, 64, 64, True, True, True, "decode step (N = 1)"),
    (1, 2, 1, 70, 8, 8, False, False, True, "D=8, GQA"),
    (1, 2, 2, 65, 24, 72, True, True, True, "D=24, Dv=72, states"),
    (1, 1, 1, 33, 72, 24, False, True, True, "D=72, Dv=24"),
    (1, 2, 2, 66, 100, 100, False, False, True, "D=100"),
]


def run_lightning(case, dtype, rng):
    b, h, hk, n, d, dv, has_slopes, has_in, has_out, what = case
    q = 0.3 * rng.standard_normal((b, h, n, d))
    k = 0.3 * rng.standard_normal((b, hk, n, d))
    v = rng.standard_normal((b, hk, n, dv))
    file_dtype = np.float16 if dtype == "f16" else np.float32
    cmd = [RUN, "--pattern", "#attn.lightning", "--threads", "2"]
    for name, x in (("q", q), ("k", k), ("v", v)):
        path = os.path.join(WORK, f"{name}.npy")
        np.save(path, x.astype(file_dtype))
        cmd += [f"--{name}", path]
    out = os.path.join(WORK, "o.npy")
    cmd += ["--out", out]
    slopes = state_in = None
    if has_slopes:
        slopes = rng.uniform(0.001, 1.0, h)
        np.save(os.path.join(WORK, "s.npy"), slopes.astype(np.float32))
        cmd += ["--slopes", os.path.join(WORK, "s.npy")]
        slopes = slopes.astype(np.float32).astype(np.float64)
    if has_in:
        state_in = rng.standard_normal((b, h, d, dv))
        np.save(os.path.join(WORK, "kv_in.npy"), state_in.astype(np.float32))
        cmd += ["--state-in", os.path.join(WORK, "kv_in.npy")]
        state_in = state_in.astype(np.float32).astype(np.float64)
    if has_out:
        cmd += ["--state-out", os.path.join(WORK, "kv_out.npy")]
    if dtype == "bf16":
        cmd += ["--dtype", "bf16"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return False, f"attn-run failed: {proc.stderr.strip()}", what
    want_o, want_s = reference.lightning(
        quantize(q, dtype), quantize(k, dtype), quantize(v, dtype),
        slopes=slopes, state_in=state_in)
    _, rel = reference.rel_error(np.load(out).astype(np.float64), want_o)
    srel = 0.0
    if has_out:
        _, srel = reference.rel_error(
            np.load(os.path.join(WORK, "kv_out.npy")).astype(np.float64), want_s)
    ok = rel <= TOL[dtype] and srel <= TOL[dtype]
    return ok, f"rel {rel:.2e} state {srel:.2e}", what


def main():
    quick = "--quick" in sys.argv
    # Fresh inputs each run (SPEC), from a seed the output names, so that a
    # failure can be repeated.
    seed = int(os.environ.get("ATTN_MATRIX_SEED") or
               np.random.SeedSequence().entropy % 2**63)
    print(f"cpu matrix: seed {seed} (ATTN_MATRIX_SEED={seed} repeats this run)",
          flush=True)
    rng = np.random.default_rng(seed)
    passed = failed = 0
    for pattern in PATTERNS:
        for dtype in DTYPES:
            shapes = SHAPES if dtype == "f32" or not quick else SHAPES[:3]
            shapes = shapes + (ODD_D if dtype == "f32" else ODD_D[::3])
            for shape in shapes:
                result = run_case(pattern, shape, dtype, rng)
                if result is None:
                    continue
                ok, msg = result
                passed += ok
                failed += not ok
                print(f"{'PASS' if ok else 'FAIL'} {pattern} {dtype} "
                      f"[{shape[-1]}]: {msg}", flush=True)
    tie = ("#attn.landmark<block = 4, topk = 3>",
           (1, 2, 2, 61, 61, 32, 32, "all landmark scores tie"))
    for pattern, shape in LONG + [tie]:
        ok, msg = run_case(pattern, shape, "f32", rng,
                           tie_landmarks=4 if shape is tie[1] else 0)
        passed += ok
        failed += not ok
        print(f"{'PASS' if ok else 'FAIL'} {pattern} f32 [{shape[-1]}]: {msg}",
              flush=True)
    for case in LIGHTNING:
        for dtype in DTYPES:
            ok, msg, what = run_lightning(case, dtype, rng)
            passed += ok
            failed += not ok
            print(f"{'PASS' if ok else 'FAIL'} #attn.lightning {dtype} [{what}]: "
                  f"{msg}", flush=True)
    print(f"cpu matrix: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
