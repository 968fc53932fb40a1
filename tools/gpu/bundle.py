#!/usr/bin/env python3
"""Packs what a GPU machine needs to check and time the GPU kernels, so that
device time goes to running, not building (the GPU machine has no LLVM/MLIR).

The bundle (default: gpu-bundle/, at most a few MiB) holds
  - every kernel of the GPU test matrix and benchmarks, compiled here by attnc:
    sm_80 as PTX (the driver compiles it for the GPU at load: an H100 runs it)
    and sm_90a as cubin (ptxas, when the toolkit is here; else PTX too);
  - libattnrt.so, the runtime core (links no LLVM, MLIR or CUDA);
  - the float64 reference (test/Numerics/reference.py), the GPU matrix and the
    GPU benchmark scripts, and device.sh, which runs them.

usage: tools/gpu/bundle.py [--build build] [--out gpu-bundle] [--quick]
Then, on the GPU machine: bash gpu-bundle/device.sh [matrix|bench|all]
"""
import argparse
import concurrent.futures
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bundle_patterns import (BENCH_PATTERNS, EXTRA_D_PATTERNS, EXTRA_HEAD_DIMS,  # noqa: E402
                             MATRIX_PATTERNS, PAGED_PATTERNS)

# Bundle folder: (attnc target, binary kind, extra flags). sm_90a: the
# default (8 warps, TMA, both products by wgmma where D is a multiple of 64);
# sm_90a_w4: 4 warps, TMA, mma.sync.
TARGETS = {"sm_80": ("sm_80", "ptx", []),
           "sm_90a": ("sm_90a", "cubin", []),
           "sm_90a_w4": ("sm_90a", "cubin", ["--warps=4"]),
           # The persistent kernel for every pattern it applies to (by
           # default only where rows can be long).
           "sm_90a_persist": ("sm_90a", "cubin",
                              ["--persistent", "--ws-min-keys=0"])}


def in_folder(folder, name):
    """sm_90a_persist holds the kernels --persistent changes: attention
    (not paged, not lightning) at D = 128, where kernels warp-specialize."""
    if folder != "sm_90a_persist":
        return True
    return name.endswith("_d128") and not name.startswith(("paged", "lightning"))


# Folders of causal bf16 kernels for bench_decode.py: the whole-row baseline
# and decoding schedules other than the default.
DECODE_VARIANTS = {
    "sm_90a_nodecode": ["--decode-rows=0"],
    "sm_90a_dec_bn16s4": ["--decode-block-n=16", "--decode-stages=4"],
    "sm_90a_dec_bn16s3": ["--decode-block-n=16", "--decode-stages=3"],
    "sm_90a_dec_bn32s4": ["--decode-block-n=32", "--decode-stages=4"],
    "sm_90a_dec_bn64s3": ["--decode-block-n=64", "--decode-stages=3"],
    "sm_90a_dec_split512": ["--split-min-keys=512"],
    "sm_90a_dec_split128": ["--split-min-keys=128"],
    "sm_90a_dec_split64": ["--split-min-keys=64"],
    "sm_90a_dec_fused": ["--decode-merge=fused"],
    "sm_90a_dec_kernel": ["--decode-merge=kernel"],
}


def view(dtype, d):
    return f"memref<?x?x?x{d}x{dtype}, strided<[?, ?, ?, 1], offset: ?>>"


def kernel_source(name, pattern, dtype, d):
    t = view(dtype, d)
    lse = "memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>"
    return (f"func.func @{name}(%q: {t}, %k: {t}, %v: {t}, %o: {t}, %lse: {lse}) {{\n"
            f"  attn.attention {pattern} ins(%q, %k, %v : {t}, {t}, {t})\n"
            f"      outs(%o : {t}) lse(%lse : {lse})\n  return\n}}\n")


def paged_source(name, pattern, dtype, d):
    """A kernel over a paged K/V cache ([P, S, Hk, D] views, an i32 block
    table [B, M] and lengths [B])."""
    t = view(dtype, d)
    lse = "memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>"
    return (f"func.func @{name}(%q: {t}, %k: {t}, %v: {t}, %table: memref<?x?xi32>, "
            f"%lens: memref<?xi32>, %o: {t}, %lse: {lse}) {{\n"
            f"  attn.attention {pattern} ins(%q, %k, %v : {t}, {t}, {t})\n"
            f"      outs(%o : {t}) lse(%lse : {lse})\n"
            f"      paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)\n  return\n}}\n")


def paged_kernels(quick):
    """(name, pattern, dtype, d) of the paged-cache kernels."""
    return [(f"paged_{tag}_{dtype}_d{d}", pattern, dtype, d)
            for tag, pattern in PAGED_PATTERNS
            for dtype in (["bf16"] if quick else ["f16", "bf16"])
            for d in (64, 128)]


def lightning_source(name, dtype, d, state_in):
    """Lightning prefill returning its state; `state_in`: also slopes and an
    initial state (the chunked-prefill / decode entry)."""
    t = view(dtype, d)
    st = f"memref<?x?x{d}x{d}xf32>"
    args = f"%q: {t}, %k: {t}, %v: {t}, %o: {t}"
    extra = ""
    if state_in:
        args += f", %slopes: memref<?xf32>, %kv_in: {st}"
        extra = (f"      slopes(%slopes : memref<?xf32>)\n"
                 f"      state_in(%kv_in : {st})\n")
    args += f", %kv_out: {st}"
    return (f"func.func @{name}({args}) {{\n"
            f"  attn.lightning ins(%q, %k, %v : {t}, {t}, {t})\n"
            f"      outs(%o : {t})\n{extra}      state_out(%kv_out : {st})\n"
            f"  return\n}}\n")


def lightning_kernels(quick):
    """(name, dtype, d, with state_in and slopes) of the lightning kernels."""
    out = []
    for dtype in (["bf16"] if quick else ["f16", "bf16"]):
        for d in (64, 128):
            out.append((f"lightning_{dtype}_d{d}", dtype, d, False))
            out.append((f"lightning_state_{dtype}_d{d}", dtype, d, True))
    return out


# Seed kernels published as pure-Python packages (pinned): unpacked into the
# bundle, never into the project.
PEERS = ["lightning-attn==0.0.5"]


def fetch_peers(dst):
    """pip-downloads PEERS (no dependencies: the GPU machine has torch and
    triton) and unpacks the wheels into `dst`; a failure only warns."""
    import tempfile
    import zipfile
    with tempfile.TemporaryDirectory() as tmp:
        r = subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps",
                            "--only-binary=:all:", "-d", tmp] + PEERS,
                           capture_output=True, text=True)
        wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
        if r.returncode != 0 or not wheels:
            print(f"bundle: warning: cannot fetch the seed kernels {PEERS} "
                  f"(pip: {r.stderr.strip()[-300:]}); bench_gpu.py leaves 'seed' "
                  "empty", file=sys.stderr)
            return
        for w in wheels:
            with zipfile.ZipFile(os.path.join(tmp, w)) as z:
                z.extractall(dst)
        print(f"bundle: seed kernels {', '.join(wheels)} in {dst}")


def kernels(quick):
    out = []
    dtypes = ["bf16"] if quick else ["f16", "bf16"]
    for tag, pattern in MATRIX_PATTERNS:
        for dtype in dtypes:
            for d in (64, 128):
                out.append((f"{tag}_{dtype}_d{d}", pattern, dtype, d))
    if not quick:
        for tag, pattern in EXTRA_D_PATTERNS:
            for d in EXTRA_HEAD_DIMS:
                out.append((f"{tag}_bf16_d{d}", pattern, "bf16", d))
        for tag, pattern in BENCH_PATTERNS:
            for d in (64, 128):
                out.append((f"{tag}_bf16_d{d}", pattern, "bf16", d))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "gpu-bundle"))
    ap.add_argument("--quick", action="store_true",
                    help="bf16 matrix kernels only")
    ap.add_argument("--sm90a-flags", default="",
                    help="extra attnc flags of the sm_90a folder, e.g. "
                         "'--async-qk --stages=3' (to check a code-generation "
                         "option with the whole matrix)")
    ap.add_argument("--folders", default="",
                    help="comma-separated folders to compile (default: every "
                         "one, and the decoding variants), e.g. sm_90a_persist "
                         "to check one option with gpu_matrix.py --targets")
    ap.add_argument("--peers", action="store_true",
                    help="also fetch the seed kernels published as packages (pip "
                         "download: Lightning Attention-2's Triton kernel, "
                         "lightning-attn) into peers/, for bench_gpu.py's 'seed' "
                         "column (the GPU machine has no network)")
    args = ap.parse_args()
    attnc = os.path.join(args.build, "bin", "attnc")
    lib = os.path.join(args.build, "lib", "libattnrt.so")
    for f in (attnc, lib):
        if not os.path.exists(f):
            sys.exit(f"bundle.py: error: {f} is missing: build the project first")
    # attnc finds ptxas through CUDA_HOME or PATH; default to the usual place.
    if not os.environ.get("CUDA_HOME") and os.path.exists("/usr/local/cuda/bin/ptxas"):
        os.environ["CUDA_HOME"] = "/usr/local/cuda"
    have_ptxas = shutil.which("ptxas") or os.environ.get("CUDA_HOME")
    if os.path.exists(args.out):
        shutil.rmtree(args.out)
    src_dir = os.path.join(args.out, "src")
    os.makedirs(src_dir)
    jobs = []
    only = [f for f in args.folders.split(",") if f]
    for f in only:
        if f not in TARGETS:
            sys.exit(f"bundle.py: error: unknown folder '{f}' ({', '.join(TARGETS)})")
    sources = [(name, kernel_source(name, pattern, dtype, d))
               for name, pattern, dtype, d in kernels(args.quick)]
    sources += [(name, lightning_source(name, dtype, d, st))
                for name, dtype, d, st in lightning_kernels(args.quick)]
    sources += [(name, paged_source(name, pattern, dtype, d))
                for name, pattern, dtype, d in paged_kernels(args.quick)]
    for name, text in sources:
        src = os.path.join(src_dir, name + ".mlir")
        with open(src, "w") as f:
            f.write(text)
        for folder, (target, kind, flags) in TARGETS.items():
            if not in_folder(folder, name) or (only and folder not in only):
                continue
            if kind == "cubin" and not have_ptxas:
                kind = "ptx"
            os.makedirs(os.path.join(args.out, folder), exist_ok=True)
            dst = os.path.join(args.out, folder, f"{name}.{kind}")
            extra = args.sm90a_flags.split() if folder == "sm_90a" else []
            jobs.append([attnc, src, f"--target={target}", f"--emit={kind}", "-o", dst]
                        + flags + extra)
    # The decoding benchmark's baseline, attn's whole-row kernels as before
    # split-KV decoding (--decode-rows=0), and variants of the decoding
    # schedule, of the causal bf16 kernels.
    if have_ptxas and not only:
        for folder, flags in DECODE_VARIANTS.items():
            os.makedirs(os.path.join(args.out, folder), exist_ok=True)
            for d in (64, 128):
                name = f"causal_bf16_d{d}"
                jobs.append([attnc, os.path.join(src_dir, name + ".mlir"), "--target=sm_90a",
                             "--emit=cubin", "-o",
                             os.path.join(args.out, folder, name + ".cubin")] + flags)
    print(f"bundle: compiling {len(jobs)} kernels", flush=True)
    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for i, r in enumerate(pool.map(
                lambda j: subprocess.run(j, capture_output=True, text=True), jobs)):
            if r.returncode != 0:
                failed += 1
                print(f"bundle: error: {' '.join(r.args)}\n{r.stderr}", file=sys.stderr)
            if (i + 1) % 10 == 0:
                print(f"bundle: {i + 1}/{len(jobs)}", flush=True)
    if failed:
        sys.exit(f"bundle.py: {failed} kernels failed to compile")
    if args.peers:
        fetch_peers(os.path.join(args.out, "peers"))
    shutil.copy(lib, args.out)
    for f in ("test/Numerics/reference.py", "test/Numerics/gpu_matrix.py",
              "test/Benchmarks/bench_gpu.py", "test/Benchmarks/bench_decode.py",
              "tools/gpu/attnrt.py",
              "tools/gpu/bundle_patterns.py", "tools/gpu/bundle.py",
              "tools/gpu/device.sh", "tools/gpu/profile_gpu.py",
              "tools/gpu/profile_decode.py"):
        shutil.copy(os.path.join(ROOT, f), args.out)
    size = sum(os.path.getsize(os.path.join(dp, f))
               for dp, _, fs in os.walk(args.out) for f in fs)
    print(f"bundle: {args.out}: {size / 2**20:.1f} MiB")


if __name__ == "__main__":
    main()
