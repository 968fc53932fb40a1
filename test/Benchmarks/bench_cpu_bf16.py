"""CPU benchmark of the 16-bit paths (issue: 16-bit attention on the CPU's
matrix units): attn bf16 with Q K^T and P V on AVX512-BF16 (vdpbf16ps; P
rounded to bf16), attn bf16 with every product in f32 FMAs (the same kernel compiled without
AVX512-BF16: ATTN_CPU_FEATURES=-avx512bf16), attn f32, and PyTorch's CPU
scaled_dot_product_attention in bf16 and f32, in one run on this machine:
causal and full, D = 64 and 128, B = 1, H = 2, threads as the machine's
cores (torch.set_num_threads and the attn context alike). Each cell is the
median of repeated calls after a warm-up, useful GFLOP/s (SPEC's FLOPs).
Each attn configuration runs in its own process (the CPU features are read
at start); every attn result is checked against torch SDPA in f32 on the
same inputs (max error / max |O|, must be <= SPEC's 1e-2 for 16-bit).
Prints a table and writes docs/cpu-bf16.md and docs/cpu-bf16.png.

usage: python3 test/Benchmarks/bench_cpu_bf16.py [--quick] [--ns 1024,4096]
env:   ATTN_LIBRARY_DIR (default build/lib: the tree's runtime and JIT)
A benchmark, not a test: it asserts only the accuracy it reports.
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ap = argparse.ArgumentParser()
ap.add_argument("--quick", action="store_true")
ap.add_argument("--ns", default="")
ap.add_argument("--worker", default="", help=argparse.SUPPRESS)
args = ap.parse_args()


def flops(pattern, n, d, b=1, h=2):
    pairs = n * (n + 1) // 2 if pattern == "causal" else n * n
    return 4.0 * d * pairs * b * h


def timed(fn, budget=1.5):
    fn()
    times = []
    start = time.perf_counter()
    while len(times) < 3 or (time.perf_counter() - start < budget and len(times) < 50):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    times.sort()
    return times[len(times) // 2]


def worker(spec):
    """One configuration in this process: prints one JSON line per shape."""
    import torch
    threads = os.cpu_count() or 1
    torch.set_num_threads(threads)
    kind, shapes = spec["kind"], spec["shapes"]
    if kind.startswith("attn"):
        sys.path.insert(0, os.path.join(ROOT, "runtime", "python"))
        import attn
    for pattern, d, n, dtype in shapes:
        g = torch.Generator().manual_seed(n * 3 + d)
        q, k, v = (torch.randn(1, 2, n, d, generator=g) for _ in range(3))
        want = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, is_causal=pattern == "causal")
        dt = {"bf16": torch.bfloat16, "f32": torch.float32}[dtype]
        qc, kc, vc = q.to(dt), k.to(dt), v.to(dt)
        if kind.startswith("attn"):
            fn = lambda: attn.attention(qc, kc, vc, pattern)  # noqa: E731
        else:
            fn = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                qc, kc, vc, is_causal=pattern == "causal")
        got = fn().float()
        err = ((got - want).abs().max() / want.abs().max()).item()
        sec = timed(fn)
        print(json.dumps({"kind": kind, "pattern": pattern, "d": d, "n": n,
                          "dtype": dtype, "sec": sec, "err": err,
                          "gflops": flops(pattern, n, d) / sec / 1e9}), flush=True)


def main():
    if args.worker:
        return worker(json.loads(args.worker))
    ns = [int(x) for x in args.ns.split(",") if x] or (
        [1024, 4096] if args.quick else [1024, 2048, 4096, 8192, 16384])
    lib = os.environ.get("ATTN_LIBRARY_DIR", os.path.join(ROOT, "build", "lib"))
    base = dict(os.environ, ATTN_LIBRARY_DIR=lib,
                ATTN_CACHE_DIR=os.path.join(ROOT, "build", "bench-bf16-cache"),
                ATTN_TUNING_TABLES="")
    configs = [
        ("attn bf16 (AVX512-BF16 dots)", "bf16", {}),
        ("attn bf16 (f32 FMAs)", "bf16", {"ATTN_CPU_FEATURES": "-avx512bf16"}),
        ("attn f32", "f32", {}),
        ("torch SDPA bf16", "bf16", {}),
        ("torch SDPA f32", "f32", {}),
    ]
    shapes = [(p, d, n) for p in ("causal", "full") for d in (64, 128) for n in ns]
    rows = {}
    for name, dtype, env in configs:
        kind = ("attn-" if name.startswith("attn") else "torch-") + name
        spec = {"kind": kind, "shapes": [(p, d, n, dtype) for p, d, n in shapes]}
        print(f"bench: {name}", flush=True)
        r = subprocess.run([sys.executable, __file__, "--worker", json.dumps(spec)],
                           env=dict(base, **env), capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"bench_cpu_bf16.py: {name} failed:\n{r.stderr[-3000:]}")
        for line in r.stdout.splitlines():
            x = json.loads(line)
            rows[(name, x["pattern"], x["d"], x["n"])] = x
            print(f"  {x['pattern']:6} D={x['d']:3} N={x['n']:6}  "
                  f"{x['gflops']:7.1f} GFLOP/s  err {x['err']:.1e}", flush=True)
    names = [c[0] for c in configs]
    bad = [(k, x["err"]) for k, x in rows.items()
           if x["err"] > (1e-2 if x["dtype"] == "bf16" else 1e-4)]
    cpu = "unknown"
    flags = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and cpu == "unknown":
            cpu = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = " ".join(f for f in line.split(":", 1)[1].split()
                             if f.startswith(("avx", "amx", "fma")))
    import torch
    date = datetime.date.today().isoformat()
    lines = [f"# CPU 16-bit paths ({cpu}, {os.cpu_count()} threads, {date})", "",
             f"CPU flags: {flags}. {platform.python_implementation()} "
             f"{platform.python_version()}, torch {torch.__version__}. "
             "B = 1, H = 2; useful GFLOP/s (SPEC), median of repeated calls "
             "through the Python package (`attn.attention`) and "
             "`torch.nn.functional.scaled_dot_product_attention`, each "
             "configuration in its own process, one run. Error: max |O - O_ref| "
             "/ max |O_ref| against torch SDPA in f32 on the same inputs.", "",
             "| pattern | D | N | " + " | ".join(names) +
             " | BF16 dot / f32 FMAs (bf16) | attn bf16 / SDPA bf16 | max err bf16 dot |",
             "|---|---|---|" + "---:|" * (len(names) + 3)]
    for p, d, n in shapes:
        g = [rows[(nm, p, d, n)]["gflops"] for nm in names]
        e = rows[(names[0], p, d, n)]["err"]
        lines.append(f"| {p} | {d} | {n} | " + " | ".join(f"{x:.1f}" for x in g) +
                     f" | {g[0] / g[1]:.2f} | {g[0] / g[3]:.2f} | {e:.1e} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(ROOT, "docs", "cpu-bf16.md"), "w") as f:
        f.write(text)
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.6))
        for ax, (p, d) in zip(axes, [(p, d) for p in ("causal", "full") for d in (64, 128)]):
            for nm in names:
                ax.plot(ns, [rows[(nm, p, d, n)]["gflops"] for n in ns], "o-", label=nm, ms=3)
            ax.set_xscale("log", base=2)
            ax.set_title(f"{p}, D = {d}", fontsize=10)
            ax.set_xlabel("N")
            ax.set_ylabel("GFLOP/s")
            ax.grid(alpha=0.3)
        axes[0].legend(fontsize=7)
        fig.suptitle(f"CPU 16-bit attention ({cpu}, {os.cpu_count()} threads, {date})")
        fig.tight_layout()
        fig.savefig(os.path.join(ROOT, "docs", "cpu-bf16.png"), dpi=100)
    except ImportError:
        print("bench: no matplotlib: no plot")
    if bad:
        sys.exit(f"bench_cpu_bf16.py: over the tolerance: {bad}")


if __name__ == "__main__":
    main()
