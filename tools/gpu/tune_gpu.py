#!/usr/bin/env python3
"""GPU autotuning sweep in its three steps (docs/tuning.md, "GPU"): the
machine with the GPU has no compiler, so candidates are compiled here, timed
there by attn-tune-measure (libattnrt only), and the records made here.

  tune_gpu.py plan  [--out gpu-tune] [--quick] [--only TAGS] [--head-dims 128]
      attn-tune --target sm_90a --plan for every kernel of the sweep (causal,
      full, sliding window 1024, block-causal 256, landmark 64, lightning;
      bf16; D = 64 and 128; N = 1K..16K with B*N = 16K (lightning 32K) and
      H*D = 2048, as the GPU benchmarks; --only picks some), the
      default kernels (attnc, no table) for the comparison, attn-tune-measure
      with libattnrt.so, and this script's device half.
  (device)  bash gpu-tune/tune_device.sh measure   -> $OUT/gpu-tune-results.json
  tune_gpu.py plan --decode [--only causal,full] [--head-dims 128]
      the same for decoding steps (Nq = 1, GQA 32/8, B = 1, Nk = 4K..128K):
      the split-KV kernels' schedule (keys per tile, stages, the fewest
      keys a split reads, the merge), the prefill kernels the default's.
  tune_gpu.py import RESULTS.json [--store docs/tuning] [--name tuning-gpu]
      attn-tune --import per kernel: the records (shipped tables under
      docs/tuning by default), docs/tuning-gpu.md (every candidate's verdict
      and median) and its plot.
  tune_gpu.py tuned [--out gpu-tune] [--store docs/tuning]
      the tuned kernels (attnc --tuning, the imported records) beside the
      defaults.
  (device)  bash gpu-tune/tune_device.sh bench     -> $OUT/tuning-gpu-bench.md
      tuned vs default vs cuDNN SDPA vs FlexAttention (bench_tuned.py), and
      the tuned kernels against a float64 reference.
  tune_gpu.py variant --flags=--ws-overlap --label overlap [--out F]
      [--head-dims 128] [--name gpu-overlap]
      [--baseline-flags=--persistent=false --baseline-label 'not persistent']
      a schedule option instead of tuned tables: the kernels compiled with
      those attnc flags in the "tuned" column (labelled LABEL), the defaults
      (or the kernels of the baseline flags) beside them; tune_device.sh
      bench then compares both with cuDNN and FlexAttention (table NAME.md).
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, "build")
# (tag, pattern): the patterns the issue's GPU sweep names.
KERNELS = [
    ("causal", "#attn.causal"),
    ("full", "#attn.full"),
    ("window1024", "#attn.sliding_window<window = 1024>"),
    ("block256", "#attn.block_causal<block = 256>"),
]
# Tuned and recorded, not in the comparison (cuDNN has neither): landmark
# attention (blocks of 64) and lightning (ALiBi decay, final state out,
# flags 4), B*N = 32K for lightning as the GPU benchmarks.
EXTRA = [
    ("landmark64", "#attn.landmark<block = 64>"),
    ("lightning", None),
]
HEAD_DIMS = (64, 128)
DECODE_NS = (4096, 16384, 32768, 131072)  # plan --decode: Nk of the steps
NS = (1024, 2048, 4096, 8192, 16384)
TOKENS, WIDTH = 16384, 2048  # B*N and H*D


def view(d):
    return f"memref<?x?x?x{d}xbf16, strided<[?, ?, ?, 1], offset: ?>>"


def kernel_source(pattern, d):
    """The kernel the tuner tunes (function 'kernel', no LSE), for attnc."""
    t = view(d)
    return (f"func.func @kernel(%q: {t}, %k: {t}, %v: {t}, %o: {t}) {{\n"
            f"  attn.attention {pattern} ins(%q, %k, %v : {t}, {t}, {t})\n"
            f"      outs(%o : {t})\n  return\n}}\n")


def run(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if r.returncode != 0:
        sys.exit(f"tune_gpu.py: error: {' '.join(cmd)}\n{r.stdout[-2000:]}{r.stderr[-4000:]}")
    return r


def compile_kernels(out, folder, table_dir, flags=(), head_dims=HEAD_DIMS):
    """attnc: every kernel of the sweep into OUT/FOLDER/TAG_dD.cubin, with
    the tables of TABLE_DIR (None: the configure pass's defaults) and the
    attnc FLAGS."""
    attnc = os.path.join(BUILD, "bin", "attnc")
    src = os.path.join(out, "src")
    os.makedirs(src, exist_ok=True)
    os.makedirs(os.path.join(out, folder), exist_ok=True)
    jobs = []
    for tag, pattern in KERNELS:
        for d in head_dims:
            name = f"{tag}_d{d}"
            path = os.path.join(src, name + ".mlir")
            with open(path, "w") as f:
                f.write(kernel_source(pattern, d))
            cmd = [attnc, path, "--target=sm_90a", "--emit=cubin", "-o",
                   os.path.join(out, folder, name + ".cubin")]
            if table_dir:
                family = "attention-" + pattern[len("#attn."):].split("<")[0]
                table = os.path.join(table_dir, family + ".json")
                if not os.path.exists(table):
                    sys.exit(f"tune_gpu.py: error: no table {table}: import the results first")
                cmd += ["--tuning", table]
            jobs.append(cmd + list(flags))
    with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
        for r in pool.map(run, jobs):
            for line in r.stderr.splitlines():
                if "tuned" in line or "note" in line:
                    print(line)


def copy_tools(out, head_dims=HEAD_DIMS, label="tuned", name="tuning-gpu-bench",
               baseline="default"):
    for f in (os.path.join(BUILD, "bin", "attn-tune-measure"),
              os.path.join(BUILD, "lib", "libattnrt.so")):
        if not os.path.exists(f):
            sys.exit(f"tune_gpu.py: error: {f} is missing: build the project first")
        shutil.copy(f, out)
    for f in ("tools/gpu/tune_device.sh", "tools/gpu/bench_tuned.py",
              "tools/gpu/attnrt.py", "test/Numerics/reference.py"):
        shutil.copy(os.path.join(ROOT, f), out)
    with open(os.path.join(out, "kernels.json"), "w") as f:
        json.dump({"kernels": KERNELS, "head_dims": list(head_dims), "ns": NS,
                   "tokens": TOKENS, "width": WIDTH, "label": label,
                   "table": name, "baseline": baseline}, f)


def plan(args):
    out = os.path.abspath(args.out)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    tune = os.path.join(BUILD, "bin", "attn-tune")
    ns = (1024, 4096, 16384) if args.quick else NS
    only = [t for t in args.only.split(",") if t]
    dims = tuple(int(x) for x in args.head_dims.split(","))
    specs = [(tag, pattern, d) for tag, pattern in KERNELS + EXTRA for d in dims
             if not only or tag in only]
    if args.decode:
        # Decoding steps: the split-KV kernels' schedule, at the issue's
        # GQA 32/8, B = 1 (where the split count matters most; the launch
        # scales the splits with B * Hk), Nq = 1.
        specs = [(tag, pattern, d) for tag, pattern in KERNELS for d in dims
                 if not only or tag in only]
    for i, (tag, pattern, d) in enumerate(specs):
        print(f"tune_gpu.py: [{i + 1}/{len(specs)}] planning {tag} D={d}"
              f"{' decoding' if args.decode else ''}", flush=True)
        if args.decode:
            r = run([tune, "--target", "sm_90a", "--plan",
                     os.path.join(out, "plans", f"{tag}_d{d}_decode"),
                     "--dtype", "bf16", "--d", str(d), "--heads", "32", "--kv-heads", "8",
                     "--batch", "1", "--nq", "1", "--nk", ",".join(map(str, DECODE_NS)),
                     "--budget", str(args.budget), "--quiet", "--pattern", pattern])
            print(r.stdout.splitlines()[0])
            continue
        what = (["--lightning", "--flags", "4", "--tokens", str(2 * TOKENS)] if pattern is None
                else ["--pattern", pattern, "--tokens", str(TOKENS)])
        r = run([tune, "--target", "sm_90a", "--plan", os.path.join(out, "plans", f"{tag}_d{d}"),
                 "--dtype", "bf16", "--d", str(d), "--heads", str(WIDTH // d),
                 "--n", ",".join(map(str, ns)), "--budget", str(args.budget), "--quiet"] + what)
        print(r.stdout.splitlines()[0])
    if not args.decode:  # (the decoding plans' comparison is the report's)
        compile_kernels(out, "default", None, head_dims=dims)
    copy_tools(out, dims)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"tune_gpu.py: {out}: {size / 2**20:.1f} MiB; on the GPU machine: "
          f"bash {os.path.relpath(out, ROOT)}/tune_device.sh measure")


def import_results(args):
    tune = os.path.join(BUILD, "bin", "attn-tune")
    docs = os.path.join(ROOT, "docs")
    cmd = [tune, "--import", args.results, "--store", args.store,
           "--report", os.path.join(docs, args.name + ".md"),
           "--json", os.path.join(docs, args.name + ".json"),
           "--plot", os.path.join(docs, args.name + ".png"), "--quiet"]
    r = subprocess.run(cmd, text=True)
    if r.returncode != 0:
        sys.exit("tune_gpu.py: error: the import failed")


def tuned(args):
    out = os.path.abspath(args.out)
    compile_kernels(out, "tuned", args.store)
    copy_tools(out)


def variant(args):
    out = os.path.abspath(args.out)
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    dims = tuple(int(x) for x in args.head_dims.split(","))
    compile_kernels(out, "default", None, flags=args.baseline_flags.split(),
                    head_dims=dims)
    compile_kernels(out, "tuned", None, flags=args.flags.split(), head_dims=dims)
    copy_tools(out, dims, args.label, args.name, args.baseline_label)
    size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(out) for f in fs)
    print(f"tune_gpu.py: {out}: {size / 2**20:.1f} MiB; on the GPU machine: "
          f"bash {os.path.relpath(out, ROOT)}/tune_device.sh bench")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("plan")
    p.add_argument("--out", default=os.path.join(ROOT, "gpu-tune"))
    p.add_argument("--quick", action="store_true", help="N = 1K, 4K, 16K only")
    p.add_argument("--head-dims", default="64,128")
    p.add_argument("--budget", type=float, default=8,
                   help="seconds per shape on the GPU, inputs not counted (default 8)")
    p.add_argument("--only", default="",
                   help="comma-separated tags (causal, full, window1024, block256, "
                        "landmark64, lightning; default: all)")
    p.add_argument("--decode", action="store_true",
                   help="decoding steps instead (Nq = 1, GQA 32/8, B = 1, Nk = "
                        + ", ".join(map(str, DECODE_NS)) + "): the split-KV kernels")
    i = sub.add_parser("import")
    i.add_argument("results")
    i.add_argument("--name", default="tuning-gpu",
                   help="docs/NAME.md, .json and .png: the report (default tuning-gpu)")
    i.add_argument("--store", default=os.path.join(ROOT, "docs", "tuning"))
    t = sub.add_parser("tuned")
    t.add_argument("--out", default=os.path.join(ROOT, "gpu-tune"))
    t.add_argument("--store", default=os.path.join(ROOT, "docs", "tuning"))
    v = sub.add_parser("variant")
    v.add_argument("--out", default=os.path.join(ROOT, "gpu-tune"))
    v.add_argument("--flags", required=True, help="attnc flags of the variant")
    v.add_argument("--label", required=True, help="the variant's column")
    v.add_argument("--head-dims", default="64,128")
    v.add_argument("--baseline-flags", default="",
                   help="attnc flags of the baseline column (default: none, the "
                        "default schedule)")
    v.add_argument("--baseline-label", default="default",
                   help="the baseline column's name")
    v.add_argument("--name", default="gpu-variant",
                   help="file name (no extension) of the table and its JSON")
    args = ap.parse_args()
    if not os.environ.get("CUDA_HOME") and os.path.exists("/usr/local/cuda/bin/ptxas"):
        os.environ["CUDA_HOME"] = "/usr/local/cuda"
    {"plan": plan, "import": import_results, "tuned": tuned,
     "variant": variant}[args.cmd](args)


if __name__ == "__main__":
    main()
