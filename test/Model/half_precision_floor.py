"""How close can a 16-bit forward of SmolLM2 come to the float64 reference?

The GPU parity bar (llama_parity.py --target cuda --tol 2e-2) asks the
runner's bf16 logits to stay within 2e-2 of the float64 numpy forward
(llama_reference.py). This script measures a second 16-bit implementation
against the same reference on the same inputs: transformers' own forward
of the same GGUF file in PyTorch (CPU) with dtype bfloat16 or float16
(transformers keeps the GGUF weights quantized and computes its matmuls in
float32, rounding their inputs and outputs to the 16-bit type; the residual
stream, norms and attention run in the 16-bit type). Each text prompt is
followed by the reference's own 31 greedy tokens, as the parity test feeds
the runner's; the error is the parity test's (per position, the largest
logit difference over the largest logit). Not a lit test: about 3 minutes
on 2 cores.

usage: python3 test/Model/half_precision_floor.py [--dtypes bf16,f16]
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from llama_parity import NEW, PROMPTS  # noqa: E402
from llama_reference import Reference, smollm2_gguf  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dtypes", default="bf16,f16",
                   help="comma-separated: bf16, f16 (default both)")
    a = p.parse_args()
    import torch
    from transformers import AutoModelForCausalLM
    names = {"bf16": torch.bfloat16, "f16": torch.float16}
    dtypes = a.dtypes.split(",")
    for d in dtypes:
        if d not in names:
            sys.exit(f"error: unknown dtype '{d}' (bf16 or f16)")
    path = smollm2_gguf()
    ref = Reference(path)
    texts = {t: ids for t, ids in PROMPTS.items() if "random ids" not in t}
    fed = {}
    for text, ids in texts.items():
        seq = list(ids)
        for _ in range(NEW - 1):
            seq.append(int(ref.logits(seq)[-1].argmax()))
        fed[text] = (ids, seq, ref.logits(seq))
    print("| dtype | prompt | max rel. logit error (prompt, decode) | greedy tokens |")
    print("|---|---|---|---|")
    for d in dtypes:
        m = AutoModelForCausalLM.from_pretrained(
            os.path.dirname(path), gguf_file=os.path.basename(path), dtype=names[d])
        m.eval()
        for text, (ids, seq, want) in fed.items():
            with torch.no_grad():
                got = m(torch.tensor([seq])).logits[0].float().numpy()
            err = np.abs(got - want).max(-1) / np.abs(want).max(-1)
            n = len(ids)
            same = bool((got[n - 1:].argmax(-1) == want[n - 1:].argmax(-1)).all())
            print(f"| {d} | {text[:32]!r} | {err.max():.2e} ({err[:n].max():.2e}, "
                  f"{err[n:].max():.2e}) | {'equal' if same else 'differ'} |", flush=True)


if __name__ == "__main__":
    main()
