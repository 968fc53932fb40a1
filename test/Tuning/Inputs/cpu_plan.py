"""Writes a tuning plan for target cpu (the format attn-tune --plan writes
for GPUs) whose candidates attnc compiles here, so that attn-tune-measure's
gate, timing and results, and attn-tune --import, run in CI without a GPU:
  candidate 0: the configure pass's default;
  candidate 1: other tiles (--block-m 32 --block-n 48), the same function;
  candidate 2: the wrong function (scale doubled), which the gate must reject;
  candidate 3: pruned before timing (no file);
  candidate 4: a file that does not exist (fails to load).
usage: cpu_plan.py ATTNC DIR"""
import json
import os
import re
import subprocess
import sys

attnc, out = sys.argv[1], sys.argv[2]
os.makedirs(out, exist_ok=True)
T = "memref<?x?x?x64xf32, strided<[?, ?, ?, 1], offset: ?>>"


def source(scale=""):
    attr = f" {{scale = {scale} : f32}}" if scale else ""
    return (f"func.func @kernel(%q: {T}, %k: {T}, %v: {T}, %o: {T}) {{\n"
            f"  attn.attention #attn.causal ins(%q, %k, %v : {T}, {T}, {T})\n"
            f"      outs(%o : {T}){attr}\n  return\n}}\n")


def build(name, text, *flags):
    src = os.path.join(out, name + ".mlir")
    with open(src, "w") as f:
        f.write(text)
    subprocess.run([attnc, src, "--emit=so", "-o", os.path.join(out, name + ".so")]
                   + list(flags), check=True)
    return name + ".so"


def schedule(*flags):
    """The #attn.cpu_schedule attnc configures with `flags`."""
    src = os.path.join(out, "s.mlir")
    with open(src, "w") as f:
        f.write(source())
    ir = subprocess.run([attnc, src, "--emit=configured"] + list(flags), check=True,
                        capture_output=True, text=True).stdout
    return re.search(r"attn\.schedule = (#attn\.cpu_schedule<[^>]*>)", ir).group(1)


cands = [
    {"config": "default (bm=64)", "schedule": schedule(), "file": build("c0", source())},
    {"config": "bm=32 bn=48", "schedule": schedule("--block-m=32", "--block-n=48"),
     "file": build("c1", source(), "--block-m=32", "--block-n=48")},
    {"config": "wrong scale", "schedule": schedule(), "file": build("c2", source("0.25"))},
    {"config": "pruned one", "schedule": schedule("--block-n=24"), "file": "", "pruned": "spills: test"},
    {"config": "missing file", "schedule": schedule("--block-n=72"), "file": "nowhere.so"},
]
key = {"op": "attention", "pattern": "#attn.causal", "dtype": "f32", "d": 64, "dv": 64,
       "lse": False, "scale": 0, "flags": 0, "gqa": 1, "nq_bucket": 8, "nk_bucket": 8,
       "target": "cpu", "device": "", "compiler": "attn-0.9-TEST"}
job = {"name": "B=1 H=2 Hk=2 N=256", "budget": 20,
       "record": {"key": key, "schedule": "", "shape": [1, 2, 2, 256, 256]},
       "problem": {"op": "attention", "dtype": "f32", "d": 64, "dv": 64, "lse": False,
                   "flags": 0, "batch": 1, "heads": 2, "kv_heads": 2, "nq": 256, "nk": 256},
       "candidates": cands}
plan = {"format": 1, "tool": "cpu_plan.py", "kernel": "#attn.causal f32 D=64",
        "target": "cpu", "device": "test cpu | 1 thread", "compiler": "attn-0.9-TEST",
        "jobs": [job]}
with open(os.path.join(out, "plan.json"), "w") as f:
    json.dump(plan, f, indent=1)
