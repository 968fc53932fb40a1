"""Benchmark of sequence-parallel attention over MPI on the CPU
(libattndist through tools/attn-dist/attn-dist-check --bench): tokens per
second, bytes moved per rank and peak memory per rank as the ranks grow,
at fixed tokens per rank (weak scaling, LongNet Fig. 5's axis) and at fixed
N (strong scaling), for dilated attention (a LongNet schedule) and
lightning attention. Each rank runs one thread; medians of --repeat calls,
the slowest rank's time. Writes docs/dist-benchmarks.md and .png. A
benchmark, not a test: it asserts nothing (attn-dist-check's equality mode
is the test). On a machine with fewer cores than ranks the ranks share
cores (--oversubscribe): read the bytes, not the speed, there.

usage: python3 test/Benchmarks/bench_dist.py [--ranks 1,2,4] [--tokens 4096] [--n 16384]
env:   ATTN_BUILD (default build/)
"""
import argparse
import datetime
import json
import os
import platform
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ATTN_BUILD", os.path.join(ROOT, "build"))
CHECK = os.path.join(BUILD, "bin", "attn-dist-check")
# A LongNet schedule: segments growing with the rates (w / r rows each).
DILATED = ["--segments", "512,2048,8192,32768", "--rates", "1,4,16,64", "--grouped"]
SHAPE = ["--heads", "4", "--d", "64"]


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def run(kind, ranks, n, repeat):
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_btl="self,vader")
    cmd = ["mpirun", "-np", str(ranks), "--oversubscribe", CHECK, kind, "--n", str(n),
           "--bench", str(repeat), "--threads", "1"] + SHAPE + (DILATED if kind == "dilated" else [])
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if out.returncode != 0:
        sys.exit(f"bench_dist: {' '.join(cmd)} failed:\n{out.stdout}{out.stderr}")
    line = [x for x in out.stdout.splitlines() if x.startswith("{")][-1]
    return json.loads(line)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--ranks", default="1,2,4")
    p.add_argument("--tokens", type=int, default=4096, help="tokens per rank (weak)")
    p.add_argument("--n", type=int, default=16384, help="N (strong)")
    p.add_argument("--repeat", type=int, default=5)
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "dist-benchmarks"))
    a = p.parse_args()
    ranks = [int(x) for x in a.ranks.split(",")]
    rows = []
    for kind in ("dilated", "lightning"):
        for mode, n_of in (("weak", lambda r: a.tokens * r), ("strong", lambda r: a.n)):
            for r in ranks:
                res = run(kind, r, n_of(r), a.repeat)
                res["mode"] = mode
                rows.append(res)
                print(f"{kind:9s} {mode:6s} ranks {r}: N = {res['n']:6d}, "
                      f"{res['tokens_per_second']:10.0f} tokens/s, "
                      f"max sent {res['max_bytes_sent'] / 2**20:7.2f} MiB, max received "
                      f"{res['max_bytes_received'] / 2**20:7.2f} MiB, peak RSS "
                      f"{res['max_peak_rss'] / 2**20:6.1f} MiB", flush=True)
    cores = os.cpu_count()
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d")
    lines = ["# Sequence parallelism benchmarks (CPU, MPI)", "",
             f"Written by `python3 test/Benchmarks/bench_dist.py` ({date}; {cpu_model()}, "
             f"{cores} cores; Open MPI, one thread per rank, ranks on one machine, "
             f"{'oversubscribed beyond ' + str(cores) + ' ranks' if max(ranks) > cores else 'one core each'}). "
             "B = 1, H = 4, D = 64, f32. Dilated: segments [512, 2048, 8192, 32768], "
             "rates [1, 4, 16, 64], grouped offsets, causal. Lightning: causal, decayed, "
             "H = Hk. Time: median of the slowest rank's call; bytes: the most any rank "
             "sent and received (what the exchange plan counts; attn-dist-check's test "
             "mode checks they are equal); memory: the largest peak RSS of a rank "
             "(its inputs, outputs, exchange buffers, kernels and MPI).", "",
             "| attention | scaling | ranks | N | tokens/rank | tokens/s | efficiency | "
             "max sent MiB | max received MiB | peak RSS MiB |", "|---|---|---|---|---|---|---|---|---|---|"]
    for kind in ("dilated", "lightning"):
        for mode in ("weak", "strong"):
            sel = [r for r in rows if r["kind"] == kind and r["mode"] == mode]
            base = sel[0]
            for r in sel:
                # Weak: tokens/s per rank against one rank's; strong: speedup / ranks.
                eff = (r["tokens_per_second"] / r["ranks"]) / (base["tokens_per_second"] / base["ranks"])
                lines.append(f"| {kind} | {mode} | {r['ranks']} | {r['n']} | {r['tokens_per_rank']} | "
                             f"{r['tokens_per_second']:.0f} | {eff:.2f} | "
                             f"{r['max_bytes_sent'] / 2**20:.2f} | {r['max_bytes_received'] / 2**20:.2f} | "
                             f"{r['max_peak_rss'] / 2**20:.1f} |")
    lines += ["", f"![tokens/s and bytes per rank]({os.path.basename(a.out)}.png)", ""]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines))
    with open(a.out + ".json", "w") as f:
        json.dump(rows, f, indent=1)
    print("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for kind, mark in (("dilated", "o"), ("lightning", "s")):
        for mode, style in (("weak", "-"), ("strong", "--")):
            sel = [r for r in rows if r["kind"] == kind and r["mode"] == mode]
            xs = [r["ranks"] for r in sel]
            ax[0].plot(xs, [r["tokens_per_second"] for r in sel], mark + style, label=f"{kind}, {mode}")
            ax[1].plot(xs, [r["max_bytes_received"] / 2**20 for r in sel], mark + style,
                       label=f"{kind}, {mode}")
    ax[0].set_ylabel("tokens/s")
    ax[1].set_ylabel("MiB received per rank (max)")
    for x in ax:
        x.set_xlabel("ranks")
        x.set_xticks(ranks)
        x.grid(alpha=0.3)
        x.legend(fontsize=8)
    fig.suptitle(f"sequence parallelism over MPI, {cpu_model()}, {cores} cores")
    fig.tight_layout()
    fig.savefig(a.out + ".png", dpi=110)


if __name__ == "__main__":
    main()
