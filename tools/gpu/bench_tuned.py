"""GPU tuning benchmark (runs on the GPU machine, from the folder
tools/gpu/tune_gpu.py makes): the tuned kernels (attnc --tuning, the records
attn-tune-measure's results became) against the default schedule, cuDNN SDPA
(torch's SDPBackend.CUDNN_ATTENTION, the FlashAttention-3-class kernel on
Hopper) and FlexAttention (torch.compile'd, default mode), bf16, B*N = 16K,
H*D = 2048, useful TFLOP/s (SPEC's FLOPs), medians of
triton.testing.do_bench (CUDA events, L2 flushed before every run).

Correctness first: every tuned kernel's O (outputs poisoned first) against a
float64 reference (test/Numerics/reference.py, the last 512 query rows of
batch 0, head 0) and against the default kernel's whole O; the script fails
when either is over SPEC's bf16 tolerance.
Sliding window and block-causal go to cuDNN as a boolean attn_mask where the
backend takes one (else the column is empty).
usage: bench_tuned.py FOLDER [--out DIR] [--quick]
"""
import argparse
import datetime
import json
import os
import sys

import numpy as np
import torch
import triton
import triton.testing

ap = argparse.ArgumentParser()
ap.add_argument("folder")
ap.add_argument("--out", default=".")
ap.add_argument("--quick", action="store_true")
ap.add_argument("--only", default="",
                help="comma-separated pattern tags (default: every one of kernels.json)")
ap.add_argument("--no-flex", action="store_true",
                help="skip FlexAttention (its compiles take most of a short run)")
args = ap.parse_args()
HERE = os.path.abspath(args.folder)
sys.path.insert(0, HERE)
import attnrt  # noqa: E402
import reference  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: E402

torch._dynamo.config.recompile_limit = 256
torch._dynamo.config.cache_size_limit = 256
flex = torch.compile(flex_attention, dynamic=False)
CFG = json.load(open(os.path.join(HERE, "kernels.json")))
# The column of the "tuned" folder (a schedule option's variant: its name)
# and the table's file name.
LABEL = CFG.get("label", "tuned")
# The column of the "default" folder (a variant's baseline may be compiled
# with flags of its own: its name).
BASE = CFG.get("baseline", "default")
TABLE = CFG.get("table", "tuning-gpu-bench")
TOL = 2e-2  # SPEC.md, 16-bit inputs: relative to max |O|


def mask_mod(pattern):
    """SPEC.md's masks (reference.mask_matrix) as FlexAttention mask_mods."""
    p = reference.normalize_pattern(reference.pattern_from_text(pattern))
    kind = p["kind"]
    if kind == "causal":
        return lambda b, h, q, k: q >= k
    if kind == "sliding_window":
        w = p["window"]
        return lambda b, h, q, k: (q >= k) & (q - k <= w)
    if kind == "block_causal":
        blk = p["block"]
        return lambda b, h, q, k: (k <= q) & (k // blk >= q // blk - 1)
    return None


def bench(fn):
    return triton.testing.do_bench(fn, warmup=25, rep=100, return_mode="median")


def main():
    rt = attnrt.Runtime(os.path.join(HERE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    props = torch.cuda.get_device_properties(0)
    ns = [1024, 4096, 16384] if args.quick else CFG["ns"]
    rows, bad = [], 0
    only = [t for t in args.only.split(",") if t]
    for tag, pattern in CFG["kernels"]:
        if only and tag not in only:
            continue
        pat = reference.pattern_from_text(pattern)
        mm = mask_mod(pattern)
        for d in CFG["head_dims"]:
            name = f"{tag}_d{d}"
            kd = rt.load(ctx, os.path.join(HERE, "default", name + ".cubin"), "kernel")
            kt = rt.load(ctx, os.path.join(HERE, "tuned", name + ".cubin"), "kernel")
            for n in ns:
                b, h = max(1, CFG["tokens"] // n), CFG["width"] // d
                g = torch.Generator(device="cuda").manual_seed(n * 7 + d)
                q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16,
                                       generator=g) for _ in range(3))
                od, ot = torch.empty_like(q), torch.empty_like(q)
                ad, at = rt.args([q, k, v, od]), rt.args([q, k, v, ot])
                od.fill_(float("nan"))
                ot.fill_(float("nan"))
                rt.launch(ctx, kd, ad)
                rt.launch(ctx, kt, at)
                torch.cuda.synchronize()
                # The float64 reference on the last 512 rows of (0, 0).
                rows_ = min(512, n)
                want, _ = reference.attention(
                    q[:1, :1, n - rows_:].double().cpu().numpy(),
                    k[:1, :1].double().cpu().numpy(), v[:1, :1].double().cpu().numpy(), pat)
                got = ot[:1, :1, n - rows_:].double().cpu().numpy()
                err_ref = float(np.nan_to_num(np.abs(got - want), nan=np.inf).max()
                                / np.abs(want).max())
                err_def = ((ot.float() - od.float()).abs().nan_to_num(float("inf")).max()
                           / od.float().abs().max()).item()
                ok = err_ref <= TOL and err_def <= TOL
                bad += not ok
                res = {BASE: bench(lambda: rt.launch(ctx, kd, ad)),
                       LABEL: bench(lambda: rt.launch(ctx, kt, at))}
                try:
                    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                        if tag in ("causal", "full"):
                            fn = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                                q, k, v, is_causal=tag == "causal")
                        else:
                            m = torch.from_numpy(reference.mask_matrix(pat, n, n).astype(bool)).cuda()
                            fn = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                                q, k, v, attn_mask=m)
                        fn()
                        res["cuDNN"] = bench(fn)
                except Exception as exc:  # noqa: BLE001
                    print(f"  cuDNN SDPA: {tag} N={n}: {str(exc).splitlines()[0][:120]}")
                if not args.no_flex:
                    bm = create_block_mask(mm, None, None, n, n) if mm else None
                    res["FlexAttention"] = bench(lambda: flex(q, k, v, block_mask=bm))
                flops = reference.useful_flops(pat, b, h, n, n, d)
                tf = {key: flops / (ms * 1e-3) / 1e12 for key, ms in res.items()}
                rows.append({"tag": tag, "d": d, "n": n, "b": b, "h": h, "tflops": tf,
                             "ms": res, "err_ref": err_ref, "err_default": err_def})
                print(f"{tag:10} D={d:3} N={n:6} B={b:2} H={h:2}  " +
                      "  ".join(f"{key} {val:6.1f}" for key, val in tf.items()) +
                      f"  (TFLOP/s)  err ref {err_ref:.1e} def {err_def:.1e}"
                      + ("" if ok else "  FAIL"), flush=True)
                write(rows, props)
    if bad:
        sys.exit(f"bench_tuned.py: {bad} {LABEL} kernels over the tolerance")


def write(rows, props):
    """The table so far (written after every row: a run cut short keeps
    what it measured)."""
    cols = [LABEL, BASE, "cuDNN", "FlexAttention"]
    date = datetime.date.today().isoformat()
    lines = [f"# GPU: {LABEL} vs {BASE} vs cuDNN vs FlexAttention ({props.name}, {date})",
             "",
             f"torch {torch.__version__} (cuDNN {torch.backends.cudnn.version()}), triton "
             f"{triton.__version__}, CUDA {torch.version.cuda}; bf16, useful TFLOP/s (SPEC), "
             "median of triton.testing.do_bench with L2 flush, all columns in one process; "
             "B*N = 16K, H*D = 2048. Sliding window and block-causal: cuDNN with a boolean "
             f"attn_mask (SPEC's mask) where it takes one. Errors: {LABEL} O against the "
             "float64 reference (last 512 rows of batch 0, head 0) and against the "
             f"{BASE} column's O, relative to max |O|.", "",
             "| pattern | D | N | " + " | ".join(cols) +
             f" | {LABEL} / {BASE} | {LABEL} / cuDNN | {LABEL} / Flex | err ref | err {BASE} |",
             "|---|---|---|" + "---:|" * (len(cols) + 5)]

    def ratio(tf, a, b):
        return f"{tf[a] / tf[b]:.2f}" if a in tf and b in tf else "–"
    for r in rows:
        tf = r["tflops"]
        cells = [f"{tf[c]:.1f}" if c in tf else "–" for c in cols]
        lines.append(f"| {r['tag']} | {r['d']} | {r['n']} | " + " | ".join(cells) +
                     f" | {ratio(tf, LABEL, BASE)} | {ratio(tf, LABEL, 'cuDNN')} | "
                     f"{ratio(tf, LABEL, 'FlexAttention')} | {r['err_ref']:.1e} | "
                     f"{r['err_default']:.1e} |")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, TABLE + ".md"), "w") as f:
        f.write(text)
    with open(os.path.join(args.out, TABLE + ".json"), "w") as f:
        json.dump({"device": props.name, "date": date, "label": LABEL, "rows": rows}, f,
                  indent=1)


if __name__ == "__main__":
    main()
