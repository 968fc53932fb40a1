"""SPEC's test matrix on the GPU, for the kernels of a bundle made by
tools/gpu/bundle.py: every pattern kernel, f16 and bf16, D in {64, 128} (and
causal and sliding-window kernels at D = 80, 96 and 256 in bf16), both
targets (sm_80 PTX compiled by the driver; sm_90a cubins: the default, 8
warps with TMA and wgmma, and 4 warps with TMA and mma.sync), GQA and MQA, odd N,
Nq < Nk, Nq = 1, rows without keys, [B, N, H, D] storage through strides.

Each case draws fresh random inputs, poisons O and LSE with NaN, launches the
kernel through the runtime core's C API (libattnrt, ctypes) on PyTorch device
tensors, and compares with the float64 reference of reference.py (written
from SPEC.md) on the inputs as the kernel sees them (rounded to f16/bf16).
Prints one line per case and a summary; exits 1 on any failure.
usage: gpu_matrix.py BUNDLE [--quick] [--sanitize] [--targets=sm_80,sm_90a,sm_90a_w4]
                    [--only=PREFIX]
"""
import math
import os
import sys

import numpy as np
import torch

BUNDLE = os.path.abspath(sys.argv[1])
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402
import reference  # noqa: E402
from bundle import in_folder, lightning_kernels, paged_kernels  # noqa: E402
from bundle_patterns import EXTRA_D_PATTERNS, EXTRA_HEAD_DIMS, MATRIX_PATTERNS  # noqa: E402

SANITIZE = "--sanitize" in sys.argv
QUICK = "--quick" in sys.argv
# --only=PREFIX: the kernels whose name starts with PREFIX (e.g. paged_).
ONLY = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "")
TARGETS = next((a.split("=", 1)[1].split(",") for a in sys.argv
                if a.startswith("--targets=")),
               ["sm_80", "sm_90a", "sm_90a_w4", "sm_90a_persist"])
LIGHTNING = lightning_kernels(QUICK)

TIES = "top-k: all landmarks tie"
# (B, H, Hk, Nq, Nk, layout, what)
SHAPES = [
    (2, 8, 2, 77, 77, "bhnd", "GQA 8/2, odd N"),
    (1, 4, 1, 130, 130, "bnhd", "MQA, N=130, [B,N,H,D] storage"),
    (1, 2, 1, 33, 150, "bhnd", "Nq < Nk (bottom-right)"),
    (2, 2, 2, 1, 97, "bhnd", "Nq = 1 (decoding)"),
    (1, 2, 2, 40, 20, "bhnd", "Nq > Nk: early rows see no key"),
    (1, 2, 2, 1000, 1000, "bhnd", "N=1000"),
    (1, 1, 1, 300, 2500, "bhnd", "Nk=2500, 40 key tiles"),
    # Full and causal D = 128 on sm_90a switch to the warp-specialized
    # kernel from 2048 and 3968 keys (metadata 'keys LO HI').
    (1, 2, 1, 130, 4100, "bhnd", "Nk=4100: long-row kernels"),
    # Top-k only: every landmark key equal, so every landmark scores the
    # same for a query and SPEC's tie rule (earlier blocks first) decides.
    (1, 2, 1, 200, 700, "bhnd", TIES),
    # Split-KV decoding (where Nq * H / Hk <= 16: one CTA holds the query
    # rows of a KV head, the keys split over CTAs, then merged; the split
    # count follows the SMs and B * Hk, capped by Nk / 256 keys, on an H100:
    # 20, 9, 13, 3, 79 and 1 for these; windows read few keys: 1).
    (2, 8, 2, 1, 5000, "bhnd", "decode GQA 8/2, Nk=5000: split-KV"),
    (1, 4, 1, 3, 2300, "bnhd", "decode Nq=3, MQA 4/1 (12 packed rows), [B,N,H,D]"),
    (1, 2, 2, 16, 3100, "bhnd", "decode Nq=16 (16 rows), split-KV"),
    (3, 2, 2, 1, 700, "bhnd", "decode MHA, Nk=700: 3 splits"),
    (1, 16, 1, 1, 20000, "bhnd", "decode MQA 16/1 (16 rows), Nk=20000"),
    (1, 1, 1, 12, 5, "bhnd", "decode Nq=12 > Nk=5: rows without keys"),
    (1, 2, 2, 17, 900, "bhnd", "Nq=17: past the decoding rows"),
    # More (query tile, head, batch) items than a persistent grid has CTAs
    # (132 SMs): each CTA runs two or more, its load ring and barrier
    # phases carried from one to the next.
    (3, 8, 2, 1100, 1100, "bhnd", "216 work items (persistent: 2 per CTA)"),
]
if SANITIZE:
    SHAPES = [(1, 2, 1, 77, 150, "bhnd", "sanitizer"),
              (1, 2, 1, 150, 150, "bhnd", "sanitizer, self-attention"),
              (1, 1, 1, 16, 4100, "bhnd", "sanitizer, long rows"),
              (2, 8, 2, 1, 3000, "bhnd", "sanitizer, split-KV decoding"),
              (1, 64, 8, 300, 300, "bhnd", "sanitizer, 192 work items")]
TORCH = {"f16": torch.float16, "bf16": torch.bfloat16}
TOL_O = 1e-2      # O relative to max |O|: P is rounded to f16/bf16 for P V
                  # (dilated: O is also rounded between merged patterns)
TOL_LSE = 2e-3    # LSE absolute (f32 sums, ex2.approx)
TOL_STATE = 1e-2  # lightning state relative to its max (decay-scaled K and the
                  # state's copy for Q KV are rounded to f16/bf16)


def make(shape, dtype, rng, b, h, n, d, layout):
    x = rng.standard_normal((b, h, n, d)).astype(np.float32)
    t = torch.from_numpy(x).to(TORCH[dtype])
    if layout == "bnhd":
        t = t.permute(0, 2, 1, 3).contiguous().cuda().permute(0, 2, 1, 3)
    else:
        t = t.cuda()
    return t, t.float().cpu().numpy().astype(np.float64)


def run_case(rt, ctx, kernel, pattern, dtype, d, shape, rng):
    b, h, hk, nq, nk, layout, _ = shape
    q, q64 = make(shape, dtype, rng, b, h, nq, d, layout)
    k, k64 = make(shape, dtype, rng, b, hk, nk, d, layout)
    if shape[6] == TIES:
        block = reference.pattern_from_text(pattern)["block"]
        k[:, :, block - 1::block] = k[:, :, block - 1:block].clone()
        k64 = k.float().cpu().numpy().astype(np.float64)
    v, v64 = make(shape, dtype, rng, b, hk, nk, d, layout)
    o = torch.full((b, h, nq, d), float("nan"), dtype=TORCH[dtype], device="cuda")
    lse = torch.full((b, h, nq), float("nan"), dtype=torch.float32, device="cuda")
    rt.launch(ctx, kernel, rt.args([q, k, v, o, lse]))
    torch.cuda.synchronize()
    want_o, want_lse = reference.attention(q64, k64, v64,
                                           reference.pattern_from_text(pattern))
    got_o = o.float().cpu().numpy()
    got_lse = lse.cpu().numpy()
    _, err_o = reference.rel_error(got_o, want_o)
    finite = np.isfinite(want_lse)
    if np.isnan(got_lse).any() or (np.isinf(got_lse) != ~finite).any():
        err_lse = math.inf
    else:
        err_lse = float(np.max(np.abs(got_lse[finite] - want_lse[finite]), initial=0.0))
    return err_o, err_lse


# (B, H, Hk, N, what) of the lightning cases (self-attention, Nq = Nk).
LIGHTNING_SHAPES = [
    (2, 4, 2, 77, "GQA 4/2, odd N"),
    (1, 2, 1, 1, "N = 1 (decoding step)"),
    (1, 3, 3, 64, "H = 3 (non-power-of-two slopes), one block"),
    (1, 2, 2, 1000, "N = 1000, 16 blocks"),
    # Enough (batch, head) pairs for the wider column slices: the runtime
    # picks 64 columns of V per CTA from 256 CTAs, 32 from 128, else 16.
    (8, 32, 8, 100, "B*H = 256: 64/32-column slices"),
    (2, 32, 32, 130, "B*H = 64: 32-column slices"),
]
if SANITIZE:
    LIGHTNING_SHAPES = [(1, 2, 1, 77, "sanitizer")]


def run_lightning(rt, ctx, kernel, dtype, d, with_state, shape, rng):
    """Lightning prefill: O and the final state against reference.lightning
    (with random slopes and initial state when the kernel takes them)."""
    b, h, hk, n, _ = shape
    q, q64 = make(shape, dtype, rng, b, h, n, d, "bhnd")
    k, k64 = make(shape, dtype, rng, b, hk, n, d, "bhnd")
    v, v64 = make(shape, dtype, rng, b, hk, n, d, "bhnd")
    o = torch.full((b, h, n, d), float("nan"), dtype=TORCH[dtype], device="cuda")
    kv_out = torch.full((b, h, d, d), float("nan"), dtype=torch.float32, device="cuda")
    tensors = [q, k, v, o]
    slopes = state_in = None
    if with_state:
        slopes = rng.uniform(0.01, 0.5, size=h)
        state_in = rng.standard_normal((b, h, d, d))
        tensors += [torch.tensor(slopes, dtype=torch.float32, device="cuda"),
                    torch.tensor(state_in, dtype=torch.float32, device="cuda")]
        slopes = slopes.astype(np.float32).astype(np.float64)
        state_in = state_in.astype(np.float32).astype(np.float64)
    tensors.append(kv_out)
    rt.launch(ctx, kernel, rt.args(tensors))
    torch.cuda.synchronize()
    want_o, want_state = reference.lightning(q64, k64, v64, slopes=slopes,
                                             state_in=state_in)
    _, err_o = reference.rel_error(o.float().cpu().numpy(), want_o)
    _, err_s = reference.rel_error(kv_out.cpu().numpy(), want_state)
    return err_o, err_s


# Paged K/V cache: (B, H, Hk, Nq, page size S, pages per sequence M,
# lengths, K/V storage, what). The cache holds more pages than the
# sequences use, shuffled; table entries past a sequence's pages hold -1.
PAGED_SHAPES = [
    (4, 8, 2, 1, 16, 40, [0, 1, 300, 640], "nhd", "decode GQA 8/2, lengths 0..640"),
    (2, 4, 4, 1, 64, 80, [5000, 37], "nhd", "decode MHA, 5000 keys: split-KV"),
    (2, 4, 1, 3, 32, 10, [200, 3], "hnd", "decode Nq=3 MQA, [P,Hk,S,D] cache"),
    (2, 2, 2, 40, 16, 8, [100, 20], "nhd", "Nq=40: whole-row kernel"),
    (1, 2, 1, 17, 256, 2, [400], "nhd", "Nq=17, pages of 256"),
]
if SANITIZE:
    PAGED_SHAPES = [PAGED_SHAPES[0], PAGED_SHAPES[3]]


def run_paged(rt, ctx, kernel, pattern, dtype, d, shape, rng):
    b, h, hk, nq, s, m, lens, layout, _ = shape
    pages = b * m + 3
    if layout == "hnd":  # [P, Hk, S, D] storage, a [P, S, Hk, D] view
        kc = torch.randn(pages, hk, s, d).to(TORCH[dtype]).cuda().transpose(1, 2)
        vc = torch.randn(pages, hk, s, d).to(TORCH[dtype]).cuda().transpose(1, 2)
    else:
        kc = torch.randn(pages, s, hk, d).to(TORCH[dtype]).cuda()
        vc = torch.randn(pages, s, hk, d).to(TORCH[dtype]).cuda()
    q = torch.from_numpy(rng.standard_normal((b, h, nq, d)).astype(np.float32))
    q = q.to(TORCH[dtype]).cuda()
    perm = rng.permutation(pages)
    table = np.full((b, m), -1, dtype=np.int32)
    for i, n in enumerate(lens):
        used = (n + s - 1) // s
        table[i, :used] = perm[i * m:i * m + used]
    o = torch.full((b, h, nq, d), float("nan"), dtype=TORCH[dtype], device="cuda")
    lse = torch.full((b, h, nq), float("nan"), dtype=torch.float32, device="cuda")
    rt.launch(ctx, kernel, rt.args([q, kc, vc, torch.from_numpy(table).cuda(),
                                    torch.tensor(lens, dtype=torch.int32).cuda(), o, lse]))
    torch.cuda.synchronize()
    f64 = [t.float().cpu().numpy().astype(np.float64) for t in (q, kc, vc)]
    want_o, want_lse = reference.paged_attention(*f64, table, lens,
                                                 reference.pattern_from_text(pattern))
    got_o, got_lse = o.float().cpu().numpy(), lse.cpu().numpy()
    _, err_o = reference.rel_error(got_o, want_o)
    finite = np.isfinite(want_lse)
    if np.isnan(got_o).any() or np.isnan(got_lse).any() or \
            (np.isinf(got_lse) != ~finite).any():
        return math.inf, math.inf
    return err_o, float(np.max(np.abs(got_lse[finite] - want_lse[finite]), initial=0.0))


def check(case, target, name, what, second, tol):
    """Runs one case (a function returning O's error and the second
    output's), prints its line; True when both are within tolerance."""
    try:
        eo, e2 = case()
    except attnrt.AttnError as e:
        eo = e2 = math.inf
        print(f"  error: {e}")
    ok = eo <= TOL_O and e2 <= tol
    print(f"{'ok  ' if ok else 'FAIL'} {target:12} {name:22} {what:34} "
          f"O {eo:.1e}  {second} {e2:.1e}", flush=True)
    return ok


def kernel_path(target, ext, name):
    path = os.path.join(BUNDLE, target, f"{name}.{ext}")
    return path if os.path.exists(path) else os.path.join(BUNDLE, target, f"{name}.ptx")


def main():
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    rng = np.random.default_rng()
    print(f"device: {torch.cuda.get_device_name()}")
    failures = total = 0
    dtypes = ["bf16"] if (QUICK or SANITIZE) else ["f16", "bf16"]
    # (tag, pattern, dtypes, head dims) of the kernels to run.
    kernels = [(tag, pattern, dtypes, (64, 128)) for tag, pattern in MATRIX_PATTERNS]
    if not (QUICK or SANITIZE):
        kernels += [(tag, pattern, ["bf16"], EXTRA_HEAD_DIMS)
                    for tag, pattern in EXTRA_D_PATTERNS]
    patterns = MATRIX_PATTERNS
    if SANITIZE:  # dense, causal, dilated (rate-1 phases by TMA on sm_90a)
        # and a top-k kernel (its schedule exchange)
        patterns = MATRIX_PATTERNS[:2] + [p for p in MATRIX_PATTERNS
                                          if p[0] in ("dilated3", "landmark16top3")]
        kernels = [(tag, pattern, dtypes, (64, 128)) for tag, pattern in patterns]
    for target, ext in (("sm_80", "ptx"), ("sm_90a", "cubin"), ("sm_90a_w4", "cubin"),
                        ("sm_90a_persist", "cubin")):
        if target not in TARGETS:
            continue
        for tag, pattern, kdtypes, dims in kernels:
            for dtype in kdtypes:
                for d in dims:
                    name = f"{tag}_{dtype}_d{d}"
                    if not name.startswith(ONLY) or not in_folder(target, name):
                        continue
                    kernel = rt.load(ctx, kernel_path(target, ext, name), name)
                    for shape in SHAPES:
                        # SPEC: dilated attention is self-attention (Nq = Nk).
                        if tag.startswith("dilated") and shape[3] != shape[4]:
                            continue
                        if shape[6] == TIES and "top" not in tag:
                            continue
                        total += 1
                        failures += not check(
                            lambda: run_case(rt, ctx, kernel, pattern, dtype, d, shape, rng),
                            target, name, shape[6], "LSE", TOL_LSE)
        for name, pattern, dtype, d in paged_kernels(QUICK or SANITIZE):
            if (SANITIZE and not name.startswith("paged_causal")) or \
                    not name.startswith(ONLY) or not in_folder(target, name):
                continue
            kernel = rt.load(ctx, kernel_path(target, ext, name), name)
            for shape in PAGED_SHAPES:
                total += 1
                failures += not check(
                    lambda: run_paged(rt, ctx, kernel, pattern, dtype, d, shape, rng),
                    target, name, shape[8], "LSE", TOL_LSE)
        for name, dtype, d, with_state in LIGHTNING:
            if (SANITIZE and (with_state or dtype != "bf16")) or \
                    not name.startswith(ONLY) or not in_folder(target, name):
                continue
            kernel = rt.load(ctx, kernel_path(target, ext, name), name)
            for shape in LIGHTNING_SHAPES:
                total += 1
                failures += not check(
                    lambda: run_lightning(rt, ctx, kernel, dtype, d, with_state, shape, rng),
                    target, name, shape[4], "state", TOL_STATE)
    print(f"{total - failures}/{total} cases passed, {failures} failures")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
