"""Times the tiling variants of a bundle (bundle.py --variants) against the
default tiling: causal, full and sliding-window (1024) attention at N = 4K and
16K (B*N = 16K, H*D = 2048), LongNet's schedule at N = 32K and 64K (B = 1,
H*D = 1024); bf16, D = 64 and 128, median of triton.testing.do_bench with L2
flush. A first step toward the autotuner: it prints the table, it does not
persist. Each variant's output is checked against the default's (poisoned
first; the default is the one gpu_matrix.py checks against the float64
reference): a cell whose O differs by more than 2e-2 is marked '!'.
usage: tune_gpu.py BUNDLE [--tags causal,full] [--d 64] [--n 1024,2048]
(--n replaces the sequence lengths of every tag but longnet)"""
import argparse
import os
import sys

import torch
import triton.testing

AP = argparse.ArgumentParser(description=__doc__.split("\n")[0])
AP.add_argument("bundle")
AP.add_argument("--tags", default="", help="comma-separated subset of the tags")
AP.add_argument("--d", default="64,128", help="head dims, e.g. 64")
AP.add_argument("--n", default="", help="sequence lengths of the non-LongNet tags")
ARGS = AP.parse_args()
BUNDLE = os.path.abspath(ARGS.bundle)
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402
import reference  # noqa: E402
from bundle import VARIANT_TAGS  # noqa: E402
from bundle_patterns import BENCH_PATTERNS  # noqa: E402

PATTERNS = {"causal": "#attn.causal", "full": "#attn.full", **dict(BENCH_PATTERNS)}


def main():
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    vdir = os.path.join(BUNDLE, "variants")
    variants = [("default", os.path.join(BUNDLE, "sm_90a"))] + \
        [(v, os.path.join(vdir, v)) for v in sorted(os.listdir(vdir))]
    print("TFLOP/s  " + "  ".join(f"{v:>9}" for v, _ in variants))
    tags = [t for t in VARIANT_TAGS if not ARGS.tags or t in ARGS.tags.split(",")]
    short = tuple(int(x) for x in ARGS.n.split(",")) if ARGS.n else (4096, 16384)
    for tag in tags:
        for d in (int(x) for x in ARGS.d.split(",")):
            for n in ((32768, 65536) if tag == "longnet" else short):
                b, h = max(1, 16384 // n), 2048 // d
                if tag == "longnet":
                    b, h = 1, 1024 // d
                q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
                           for _ in range(3))
                o = torch.empty_like(q)
                lse = torch.empty(b, h, n, device="cuda")
                flops = reference.useful_flops(reference.pattern_from_text(PATTERNS[tag]),
                                               b, h, n, n, d)
                cells, marks, first = [], [], None
                for _, path in variants:
                    name = f"{tag}_bf16_d{d}"
                    kern = rt.load(ctx, os.path.join(path, name + ".cubin"), name)
                    a = rt.args([q, k, v, o, lse])
                    o.fill_(float("nan"))
                    rt.launch(ctx, kern, a)
                    torch.cuda.synchronize()
                    if first is None:
                        first = o.float().clone()
                    err = (o.float() - first).abs().nan_to_num(float("inf")).max().item()
                    marks.append(" " if err <= 2e-2 else "!")
                    ms = triton.testing.do_bench(lambda: rt.launch(ctx, kern, a),
                                                 warmup=25, rep=100, return_mode="median")
                    cells.append(flops / ms / 1e9)
                print(f"{tag:10} D={d:3} N={n:5}  "
                      + "  ".join(f"{c:8.1f}{m}" for c, m in zip(cells, marks)), flush=True)


if __name__ == "__main__":
    main()
