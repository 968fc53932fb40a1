"""Same-run CPU comparison of two builds of attn (e.g. before and after a
compiler change): each case runs attn-run --bench from both builds in
alternation, several rounds, on the same inputs; prints the medians and the
ratio new/old and writes the table and a PNG plot to docs/. A benchmark, not
a test: it asserts nothing.

usage: python3 test/Benchmarks/compare_cpu.py OLD_BUILD [NEW_BUILD]
       [--rounds 3] [--name cpu-compare] [--only TEXT]
"""
import argparse
import datetime
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# (label, pattern, N, D, dtype)
CASES = [
    ("causal D64 4K", "#attn.causal", 4096, 64, "f32"),
    ("causal D128 4K", "#attn.causal", 4096, 128, "f32"),
    ("causal D128 8K", "#attn.causal", 8192, 128, "f32"),
    ("full D64 2K", "#attn.full", 2048, 64, "f32"),
    ("window1024 D128 8K", "#attn.sliding_window<window = 1024>", 8192, 128, "f32"),
    ("block_causal256 D64 8K", "#attn.block_causal<block = 256>", 8192, 64, "f32"),
    ("LongNet D64 32K", "#attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], "
     "rates = [1, 2, 4, 8, 16]>", 32768, 64, "f32"),
    ("landmark64 D64 4K", "#attn.landmark<block = 64>", 4096, 64, "f32"),
    ("landmark64 top4 D64 4K", "#attn.landmark<block = 64, topk = 4>", 4096, 64, "f32"),
    ("lightning D128 8K", "#attn.lightning", 8192, 128, "f32"),
    ("causal D128 4K f16", "#attn.causal", 4096, 128, "f16"),
]


def cpu_line():
    model, flags = platform.processor(), []
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
            if line.startswith("flags"):
                flags = line.split(":", 1)[1].split()
                break
    except OSError:
        pass
    isa = ("AVX-512" if "avx512f" in flags else "AVX2" if "avx2" in flags else "SSE") + \
        (", AMX" if "amx_tile" in flags else "") + (", AVX512-BF16" if "avx512_bf16" in flags else "")
    return f"{model}, {os.cpu_count()} cores, {isa}"


def bench(build, pattern, paths, cache, runs=5):
    cmd = [os.path.join(build, "bin", "attn-run"), "--pattern", pattern,
           "--q", paths[0], "--k", paths[1], "--v", paths[2], "--threads", "2",
           "--bench", str(runs), "--out", paths[3]]
    env = dict(os.environ, ATTN_CACHE_DIR=cache)
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip()}")
    line = [l for l in r.stdout.splitlines() if l.startswith("bench:")][0]
    return float(line.split("median ")[1].split(" ms")[0])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("old")
    ap.add_argument("new", nargs="?", default=os.path.join(ROOT, "build"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--name", default="cpu-compare")
    ap.add_argument("--only", default="",
                    help="run only the cases whose label contains this text")
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="attn-compare-")
    caches = {b: os.path.join(work, f"cache-{i}") for i, b in enumerate((args.old, args.new))}
    date = datetime.date.today().isoformat()
    head = f"Machine: {cpu_line()}; 2 threads; date {date}."
    print(head, flush=True)
    rows = []
    rng = np.random.default_rng(0)
    for label, pattern, n, d, dtype in CASES:
        if args.only not in label:
            continue
        paths = [os.path.join(work, f"{x}.npy") for x in "qkvo"]
        for p in paths[:3]:
            np.save(p, rng.standard_normal((1, 2, n, d), dtype=np.float32)
                    .astype(np.float16 if dtype == "f16" else np.float32))
        # Compile (and warm) both first, then alternate.
        for b in (args.old, args.new):
            bench(b, pattern, paths, caches[b], runs=1)
        times = {args.old: [], args.new: []}
        # ABBA order: whichever build runs second in a round is not favoured.
        for r in range(args.rounds):
            order = (args.old, args.new) if r % 2 == 0 else (args.new, args.old)
            for b in order:
                times[b].append(bench(b, pattern, paths, caches[b]))
        old, new = (float(np.median(times[b])) for b in (args.old, args.new))
        rows.append((label, old, new, new / old))
        print(f"| {label} | {old:.2f} | {new:.2f} | {new / old:.3f} |", flush=True)
    table = ("| case (B = 1, H = 2) | old ms | new ms | new / old |\n|---|---|---|---|\n" +
             "\n".join(f"| {l} | {o:.2f} | {n:.2f} | {r:.3f} |" for l, o, n, r in rows))
    md = os.path.join(ROOT, "docs", f"{args.name}.md")
    with open(md, "w") as f:
        f.write(f"# CPU: two builds in one run\n\n{head}\n\nold: `{args.old}`, "
                f"new: `{args.new}`; each cell the median of {args.rounds} rounds "
                "of `attn-run --bench 5` (itself a median), the builds alternating (ABBA: each runs first in every other round) "
                "on the same inputs (from `python3 test/Benchmarks/compare_cpu.py`).\n\n"
                + table + "\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, ax = plt.subplots(figsize=(8, 4.5))
        ax.barh([r[0] for r in rows], [r[3] for r in rows], color="#4a7")
        ax.axvline(1.0, color="k", lw=0.8)
        ax.set_xlabel("time new / old (lower is faster)")
        ax.set_title("attn CPU kernels, new build vs old, same run", pad=12)
        fig.tight_layout()
        fig.savefig(os.path.join(ROOT, "docs", f"{args.name}.png"), dpi=110)
    except ImportError:
        print("compare_cpu: matplotlib not installed, no plot", file=sys.stderr)
    print(f"wrote {md}")


if __name__ == "__main__":
    main()
