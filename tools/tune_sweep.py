#!/usr/bin/env python3
"""The CPU tuning sweep of docs/tuning-cpu.md: tunes every kernel of the
sweep on this machine with attn-tune, then measures default against tuned
through the JIT as a user gets them (attn-run --bench, alternating the two
in one run), checks the stability of one shape over five fresh tunings, and
writes the table, a PNG and the shipped tuning tables (docs/tuning/).

    tools/tune_sweep.py [--budget 60] [--quick] [--only causal_d128,...]
                        [--out docs] [--work build/sweep]

Every heavy step runs under flock /tmp/attn-build.lock, so that builds on a
shared machine never overlap a measurement. Needs numpy and matplotlib.
"""
import argparse
import datetime
import json
import os
import platform
import re
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "build", "bin")
LIB = os.path.join(ROOT, "build", "lib")
LOCK = "/tmp/attn-build.lock"

# name, pattern (None: lightning), D, sequence lengths
KERNELS = [
    ("causal_d64", "#attn.causal", 64, [1024, 4096, 16384, 32768]),
    ("causal_d128", "#attn.causal", 128, [1024, 2048, 4096, 8192, 16384, 32768]),
    ("full_d64", "#attn.full", 64, [1024, 4096, 16384, 32768]),
    ("full_d128", "#attn.full", 128, [1024, 4096, 16384, 32768]),
    ("window1024_d64", "#attn.sliding_window<window = 1024>", 64, [8192, 32768]),
    ("longnet_d64",
     "#attn.dilated<segments = [2048, 4096, 8192], rates = [1, 2, 4]>", 64,
     [16384, 32768]),
    ("lightning_d64", None, 64, [4096, 16384]),
]
STABILITY = ("causal_d64", 4096)


def heads_for(n):
    return max(1, min(8, 16384 // n))


def run(cmd, env=None, lock=True):
    full = (["flock", LOCK] if lock else []) + cmd
    p = subprocess.run(full, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit(f"tune_sweep.py: error: {' '.join(cmd)} failed:\n"
                 f"{p.stdout}\n{p.stderr}")
    return p.stdout


def snapshot(work):
    """Copies the tools and libraries the sweep runs, so that a rebuild
    during the sweep (another compiler stamp) cannot strand its records."""
    global BIN, LIB
    dst = os.path.join(work, "snapshot")
    for sub, names in (("bin", ["attn-tune", "attn-run"]), ("lib", None)):
        src = os.path.join(ROOT, "build", sub)
        os.makedirs(os.path.join(dst, sub), exist_ok=True)
        for n in names or [f for f in os.listdir(src) if ".so" in f]:
            shutil.copy2(os.path.join(src, n), os.path.join(dst, sub, n))
    BIN, LIB = os.path.join(dst, "bin"), os.path.join(dst, "lib")


def env_with(**kv):
    e = dict(os.environ)
    e.pop("ATTN_AUTOTUNE", None)
    e["LD_LIBRARY_PATH"] = LIB + ":" + e.get("LD_LIBRARY_PATH", "")
    e.update({k: str(v) for k, v in kv.items()})
    return e


def make_inputs(work, n, h, d):
    import numpy as np
    path = os.path.join(work, "inputs", f"n{n}_h{h}_d{d}")
    if os.path.exists(os.path.join(path, "v.npy")):
        return path
    os.makedirs(path, exist_ok=True)
    rng = np.random.default_rng()
    for name in ("q", "k", "v"):
        np.save(os.path.join(path, f"{name}.npy"),
                rng.standard_normal((1, h, n, d), dtype=np.float32))
    return path


def bench(inputs, pattern, cache, reps):
    """Median ms of attn-run --bench with the JIT cache `cache`."""
    pat = pattern or "#attn.lightning"
    out = run([os.path.join(BIN, "attn-run"), "--pattern", pat,
               "--q", f"{inputs}/q.npy", "--k", f"{inputs}/k.npy",
               "--v", f"{inputs}/v.npy", "--bench", str(reps)],
              env=env_with(ATTN_CACHE_DIR=cache,
                           ATTN_TUNING_TABLES=os.path.join(cache, "none")))
    m = re.search(r"median ([0-9.]+) ms", out)
    if not m:
        sys.exit("tune_sweep.py: error: no median in attn-run's output:\n" + out)
    return float(m.group(1))


def paired(inputs, pattern, caches, rounds=3, reps=None):
    """Medians per cache, measured in alternation (A B A B ...)."""
    if reps is None:
        first = bench(inputs, pattern, caches[0], 3)
        reps = max(3, min(15, int(600 / max(first, 1e-3))))
    times = [[] for _ in caches]
    for _ in range(rounds):
        for i, c in enumerate(caches):
            times[i].append(bench(inputs, pattern, c, reps))
    return [sorted(t)[len(t) // 2] for t in times]


def tune(work, name, pattern, d, n, budget, cache):
    h = heads_for(n)
    js = os.path.join(work, "json", f"{name}_n{n}.json")
    os.makedirs(os.path.dirname(js), exist_ok=True)
    cmd = [os.path.join(BIN, "attn-tune"), "--d", str(d), "--heads", str(h),
           "--n", str(n), "--budget", str(budget), "--quiet", "--json", js]
    cmd += ["--pattern", pattern] if pattern else ["--lightning"]
    text = run(cmd, env=env_with(ATTN_CACHE_DIR=cache))
    with open(js) as f:
        return json.load(f), text


def cpu_line():
    model, flags = "unknown", ""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name") and model == "unknown":
                    model = line.split(":", 1)[1].strip()
                if line.startswith("flags") and not flags:
                    flags = line.split(":", 1)[1].split()
    except OSError:
        pass
    keep = [f for f in flags if f.startswith(("avx", "amx", "fma"))]
    return f"{model}, {os.cpu_count()} cores; flags: {' '.join(keep)}"


def merge_tables(cache, out_dir):
    """The records of `cache` into the shipped tables (same key replaced)."""
    src = os.path.join(cache, "tuning")
    os.makedirs(out_dir, exist_ok=True)
    for fname in sorted(os.listdir(src)):
        if not fname.endswith(".json"):
            continue
        with open(os.path.join(src, fname)) as f:
            new = json.load(f)
        dst = os.path.join(out_dir, fname)
        old = {"format": new["format"], "about": new.get("about", ""),
               "records": []}
        if os.path.exists(dst):
            with open(dst) as f:
                old = json.load(f)

        def ident(r):
            k = dict(r["key"])
            k.pop("compiler", None)
            return json.dumps(k, sort_keys=True)

        keys = {ident(r) for r in new["records"]}
        old["records"] = [r for r in old["records"] if ident(r) not in keys]
        old["records"] += new["records"]
        tmp = dst + ".tmp"
        with open(tmp, "w") as f:
            json.dump(old, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(tmp, dst)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--budget", type=float, default=60)
    ap.add_argument("--quick", action="store_true",
                    help="two lengths per kernel and a 15 s budget (a smoke run)")
    ap.add_argument("--only", default="", help="comma-separated kernel names")
    ap.add_argument("--out", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--work", default=os.path.join(ROOT, "build", "sweep"))
    ap.add_argument("--no-stability", action="store_true")
    ap.add_argument("--verify-only", action="store_true",
                    help="time default against tuned again for every row of "
                         "the last sweep (its caches and tools), then report")
    ap.add_argument("--rounds", type=int, default=3,
                    help="alternations of default and tuned per row")
    ap.add_argument("--report-only", action="store_true",
                    help="rewrite the table and plot from the last sweep's "
                         "results (WORK/tuning-cpu.json)")
    a = ap.parse_args()
    if a.report_only or a.verify_only:
        with open(os.path.join(a.work, "tuning-cpu.json")) as f:
            saved = json.load(f)
        if a.verify_only:
            BIN_LIB = os.path.join(a.work, "snapshot")
            globals()["BIN"] = os.path.join(BIN_LIB, "bin")
            globals()["LIB"] = os.path.join(BIN_LIB, "lib")
            saved.setdefault("tuned_date", saved["date"])
            saved["date"] = datetime.datetime.now(
                datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
            saved["rounds"] = a.rounds
            for r in saved["rows"]:
                inputs = make_inputs(a.work, r["n"], r["h"], r["d"])
                pattern = None if r["pattern"] == "#attn.lightning" else r["pattern"]
                r["tuned_ms"], r["default_ms"] = paired(
                    inputs, pattern, [os.path.join(a.work, "cache-tuned"),
                                      os.path.join(a.work, "cache-default")],
                    rounds=a.rounds)
                print(f"tune_sweep: re-timed {r['kernel']} N={r['n']}: "
                      f"{r['default_ms']:.3f} -> {r['tuned_ms']:.3f} ms", flush=True)
            with open(os.path.join(a.work, "tuning-cpu.json"), "w") as f:
                json.dump(saved, f, indent=2)
        date = saved["date"]
        if saved.get("tuned_date", date) != date:
            date += f" (tuned {saved['tuned_date']}; default and tuned " \
                    "timed again on a quiet machine)"
        write_report(a, saved["rows"], saved["stability"], date,
                     saved.get("rounds", 3))
        return
    kernels = [k for k in KERNELS if not a.only or k[0] in a.only.split(",")]
    if a.quick:
        a.budget = 15
        kernels = [(n, p, d, ns[:2]) for n, p, d, ns in kernels]
    shutil.rmtree(a.work, ignore_errors=True)
    snapshot(a.work)
    tuned_cache = os.path.join(a.work, "cache-tuned")
    default_cache = os.path.join(a.work, "cache-default")
    os.makedirs(default_cache, exist_ok=True)
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    rows = []
    for name, pattern, d, ns in kernels:
        for n in ns:
            print(f"tune_sweep: tuning {name} N={n}", flush=True)
            res, _ = tune(a.work, name, pattern, d, n, a.budget, tuned_cache)
            s = res["shapes"][0]
            h = heads_for(n)
            inputs = make_inputs(a.work, n, h, d)
            tuned_ms, default_ms = paired(inputs, pattern,
                                          [tuned_cache, default_cache],
                                          rounds=a.rounds)
            rows.append(dict(kernel=name, pattern=pattern or "#attn.lightning",
                             d=d, n=n, h=h, tuned=s["tuned"],
                             default=s["default"], seconds=s["seconds"],
                             flops=s["flops"], tuned_ms=tuned_ms,
                             default_ms=default_ms,
                             tune_tuned_ms=s["tuned_ms"],
                             tune_default_ms=s["default_ms"]))
            r = rows[-1]
            print(f"  {r['tuned']} vs {r['default']}: {default_ms:.3f} -> "
                  f"{tuned_ms:.3f} ms ({default_ms / tuned_ms:.2f}x), tuned in "
                  f"{r['seconds']:.1f} s", flush=True)
    stability = None
    if not a.no_stability and not a.quick:
        name, n = STABILITY
        pattern, d = next((p, dd) for nn, p, dd, _ in KERNELS if nn == name)
        caches, picks = [], []
        for i in range(5):
            c = os.path.join(a.work, f"cache-stability{i}")
            print(f"tune_sweep: stability tuning {i + 1}/5", flush=True)
            res, _ = tune(a.work, f"stability{i}", pattern, d, n, a.budget, c)
            caches.append(c)
            picks.append(res["shapes"][0]["tuned"])
        inputs = make_inputs(a.work, n, heads_for(n), d)
        times = paired(inputs, pattern, caches)
        stability = dict(kernel=name, n=n, picks=picks, times=times,
                         spread=max(times) / min(times) - 1)
    # The shipped tables, the table and the plot.
    if not a.quick:
        merge_tables(tuned_cache, os.path.join(a.out, "tuning"))
    with open(os.path.join(a.work, "tuning-cpu.json"), "w") as f:
        json.dump(dict(rows=rows, stability=stability, date=date,
                       rounds=a.rounds), f, indent=2)
    write_report(a, rows, stability, date, a.rounds)


def write_report(a, rows, stability, date, rounds):
    md = ["# CPU autotuning: default schedule vs tuned", "",
          f"Measured {date} on {cpu_line()}; LLVM/MLIR 22 (Debian), "
          f"{platform.python_version()} driver, {os.cpu_count()} threads. "
          "Made by `tools/tune_sweep.py"
          + (" --quick" if a.quick else "") + f"` (attn-tune, budget {a.budget:.0f} s "
          "per shape).", "",
          "Each shape is tuned by `attn-tune` (records in the JIT's store), "
          "then default and tuned are timed through the JIT as a user gets "
          "them: `attn-run --bench` with a cache holding the record against "
          f"one without, alternating them {rounds} times in one run; the "
          f"table gives the median of the {rounds} medians. B = 1, "
          "H = 16384 / N (1 to 8), f32.", "",
          "| kernel | N | H | default config | tuned config | default ms | "
          "tuned ms | speed-up | tuned GFLOP/s | tuning s |",
          "|---|---:|---:|---|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        # A tuning that kept the default builds the very same kernel: its
        # ratio is the noise of the measurement.
        tuned = r["tuned"] if r["tuned"] != r["default"] else "(default kept)"
        md.append(f"| {r['kernel']} | {r['n']} | {r['h']} | {r['default']} | "
                  f"{tuned} | {r['default_ms']:.3f} | {r['tuned_ms']:.3f} | "
                  f"{r['default_ms'] / r['tuned_ms']:.2f}x | "
                  f"{r['flops'] / (r['tuned_ms'] * 1e6):.1f} | "
                  f"{r['seconds']:.1f} |")
    same = [r["default_ms"] / r["tuned_ms"] for r in rows
            if r["tuned"] == r["default"]]
    if same:
        md += ["", f"Noise: where the tuner kept the default (the same kernel "
               f"timed twice), default/tuned ranged {min(same):.2f}x to "
               f"{max(same):.2f}x in this run."]
    if stability:
        md += ["", f"Stability: five fresh tunings of {stability['kernel']} at "
               f"N = {stability['n']} (each with an empty cache), their winners "
               "then timed in alternation:", "",
               "| tuning | config | median ms |", "|---:|---|---:|"]
        for i, (p, t) in enumerate(zip(stability["picks"], stability["times"])):
            md.append(f"| {i + 1} | {p} | {t:.3f} |")
        md += ["", f"Spread (slowest / fastest - 1): "
               f"{100 * stability['spread']:.1f} %."]
    os.makedirs(a.out, exist_ok=True)
    base = "tuning-cpu-quick" if a.quick else "tuning-cpu"
    with open(os.path.join(a.out, base + ".md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print("\n".join(md))
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("tune_sweep.py: matplotlib missing: no plot", file=sys.stderr)
        return
    fig, ax = plt.subplots(figsize=(11, 4))
    labels = [f"{r['kernel']}\nN={r['n'] // 1024}K" for r in rows]
    x = range(len(rows))
    ax.bar([i - 0.2 for i in x],
           [r["flops"] / (r["default_ms"] * 1e6) for r in rows], 0.4,
           label="default schedule")
    ax.bar([i + 0.2 for i in x],
           [r["flops"] / (r["tuned_ms"] * 1e6) for r in rows], 0.4,
           label="tuned (attn-tune)")
    for i, r in enumerate(rows):
        ax.annotate(f"{r['default_ms'] / r['tuned_ms']:.2f}x",
                    (i + 0.2, r["flops"] / (r["tuned_ms"] * 1e6)),
                    ha="center", va="bottom", fontsize=6)
    ax.set_xticks(list(x))
    ax.set_xticklabels(labels, fontsize=5, rotation=90)
    ax.set_ylabel("useful GFLOP/s (f32)")
    ax.set_title(f"CPU autotuning, {cpu_line()[:80]}, {date}", fontsize=8)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(os.path.join(a.out, base + ".png"), dpi=120)


if __name__ == "__main__":
    main()
