"""Parity of attn-model with the independent numpy float64 forward of a seed
architecture (seed_reference.py) on the same weights: the runner's logits
at every position it ran (the prompt's from the prefill, then each of 32
greedy decode steps) within 1e-3 relative (max |diff| / max |ref| per
position, f32 against float64), and the same 32 greedy tokens. Prompts: 3
ids, 40 random ids (prefill in chunks of 7) and 300 random ids.

Then decode against one prefill: the runner's logits of the 40-id prompt
and its 32 decode steps (a prefill returning its state or cache, then one
token at a time) against one prefill of the same 72 tokens.

usage: seed_parity.py ATTN_MODEL WEIGHTS.safetensors TMPDIR [--pattern P]
"""
import argparse
import os
import re
import subprocess
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from seed_reference import load  # noqa: E402
from parity_check import compare  # noqa: E402

PROMPTS = {"3 ids": [1, 5, 9],
           "40 random ids": [int(t) for t in np.random.default_rng(2).integers(3, 256, 40)],
           "300 random ids": [int(t) for t in np.random.default_rng(3).integers(3, 256, 300)]}
CHUNKED = {"40 random ids": 7}
NEW = 32
TOL = 1e-3


def mask_of(pattern):
    """The reference's mask for --pattern (None: the model's own)."""
    if pattern is None:
        return None
    m = re.fullmatch(r"#attn\.(block_causal|sliding_window)<(?:block|window) = (\d+)>", pattern)
    if m:
        return m.group(1), int(m.group(2))
    if pattern == "#attn.causal":
        return "causal", 0
    sys.exit(f"seed_parity: no reference mask for {pattern}")


def run(runner, weights, ids, path, new, extra):
    out = subprocess.run(
        [runner, "--model", weights, "--prompt", " ".join(map(str, ids)),
         "--max-new-tokens", str(new), "--ignore-eos", "--logits", path,
         "--threads", "2", "--quiet"] + extra, capture_output=True, text=True)
    if out.returncode != 0:
        print(out.stderr)
        sys.exit(f"FAIL: attn-model exited with {out.returncode}")
    return [int(t) for t in out.stdout.split()], np.load(path)


def relative(got, want):
    return np.abs(got - want).max(-1) / np.abs(want).max(-1)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("runner")
    p.add_argument("weights")
    p.add_argument("tmp")
    p.add_argument("--pattern", help="run the runner with --pattern P and the "
                   "reference with the same mask")
    p.add_argument("--tol", type=float, default=TOL,
                   help=f"relative logit tolerance (default {TOL})")
    p.add_argument("--runner-arg", action="append", default=[],
                   help="an argument for the runner, e.g. --runner-arg=--target "
                   "--runner-arg=cuda (repeat)")
    p.add_argument("--any-tokens", action="store_true",
                   help="report, not require, equal greedy tokens (16-bit "
                   "GPU runs: the reference is fed the runner's tokens)")
    a = p.parse_args()
    os.makedirs(a.tmp, exist_ok=True)
    ref = load(a.weights)
    retrieval = getattr(ref, "topk", 0) > 0
    mask = mask_of(a.pattern)
    extra = (["--pattern", a.pattern] if a.pattern else []) + a.runner_arg
    path = os.path.join(a.tmp, "logits.npy")
    failed = False
    for text, ids in PROMPTS.items():
        chunk = ["--prefill-chunk", str(CHUNKED[text])] if text in CHUNKED else []
        tokens, got = run(a.runner, a.weights, ids, path, NEW, extra + chunk)
        fed = ids + tokens[:-1]
        want = ref.logits(fed, mask=mask, prompt=len(ids))
        chunked = f" (prefill in chunks of {CHUNKED[text]})" if chunk else ""
        if not compare(f"{text}{chunked}", ids, tokens, got, want, a.tol,
                       not a.any_tokens):
            failed = True
        if text == "40 random ids" and retrieval:
            print(f"{text}: decode steps retrieve the top-k blocks, a prefill "
                  "attends to all: not compared with one prefill")
        elif text == "40 random ids":
            _, whole = run(a.runner, a.weights, fed, path, 0, extra)
            diff = relative(got, whole).max()
            print(f"{text}: prefill + {NEW - 1} decode steps against one prefill of "
                  f"{len(fed)} tokens: max relative difference {diff:.2e}")
            if diff > a.tol:
                failed = True
    if failed:
        sys.exit("FAIL")
    print("PASS")


if __name__ == "__main__":
    main()
