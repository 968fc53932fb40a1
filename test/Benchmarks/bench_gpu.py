"""GPU benchmark: attn kernels against PyTorch SDPA (flash backend) and
FlexAttention, bf16, on the kernels of a bundle made by tools/gpu/bundle.py.

Method (the device's METHOD.md): inputs are random, each timing is the median
of triton.testing.do_bench (CUDA events, warm-up, L2 flushed before every
run), FLOPs are SPEC's useful FLOPs (reference.useful_flops: 4*D per allowed
(query, key) pair), B*H fills the GPU (B*N = 16K tokens, H*D = 2048).
FlexAttention is torch.compile'd in its default mode (max-autotune takes
minutes per shape, more than a device session holds for the whole table).
Prints a table and writes it (markdown) to OUT/gpu-benchmarks.md.
usage: bench_gpu.py BUNDLE [--out DIR] [--quick]
"""
import argparse
import datetime
import os
import sys

import torch
import triton
import triton.testing

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--out", default=".")
ap.add_argument("--quick", action="store_true")
args, _ = ap.parse_known_args()
BUNDLE = os.path.abspath(args.bundle)
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402
import reference  # noqa: E402

from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402
from torch.nn.attention.flex_attention import create_block_mask, flex_attention  # noqa: E402

# One compiled kernel per (pattern, shape): more than dynamo's default
# recompile limit of 8, past which it silently falls back to an unfused
# implementation.
torch._dynamo.config.recompile_limit = 256
torch._dynamo.config.cache_size_limit = 256
flex = torch.compile(flex_attention, dynamic=False)


def mask_mod_of(tag):
    if tag == "causal":
        return lambda b, h, q, k: q >= k
    if tag.startswith("window"):
        w = int(tag[len("window"):])
        return lambda b, h, q, k: (q >= k) & (q - k < w)
    if tag == "longnet":
        def dilated(b, h, q, k):
            ok = q < 0  # all false
            for w, r in LONGNET:
                o = h % r
                ok = ok | ((q // w == k // w) & (k <= q) & ((q % w - o) % r == 0) &
                           ((k % w - o) % r == 0) & (q % w >= o) & (k % w >= o))
            return ok
        return dilated
    if tag.startswith("block"):
        blk = int(tag[len("block"):])
        return lambda b, h, q, k: (k // blk) <= (q // blk)
    return None


from bundle_patterns import BENCH_PATTERNS  # noqa: E402

# sm_90a: 4 warps, TMA loads, mma.sync; sm_90a_wgmma: 8 warps, Q K^T by wgmma.
TARGETS = (("sm_80", "ptx"), ("sm_90a", "cubin"), ("sm_90a_wgmma", "cubin"))
PATTERN_TEXT = {"full": "#attn.full", "causal": "#attn.causal", **dict(BENCH_PATTERNS)}
LONGNET = [(2048, 1), (4096, 2), (8192, 4), (16384, 8), (32768, 16)]


def longnet_torch(q, k, v):
    """What torchscale does: per (w, r), gather rows start + o + r*t of every
    segment (o = head % r), run SDPA (flash, causal) on the gathered
    segments, scatter back, merge the patterns by log-sum-exp."""
    b, h, n, d = q.shape
    out = torch.zeros(b, h, n, d, device=q.device, dtype=torch.float32)
    lse = torch.full((b, h, n), float("-inf"), device=q.device)
    heads = torch.arange(h, device=q.device)
    for w, r in LONGNET:
        if n % w:
            continue
        segs = n // w
        cnt = w // r
        # rows[h, s, t] = s*w + (h % r) + r*t
        rows = (torch.arange(segs, device=q.device)[None, :, None] * w +
                (heads % r)[:, None, None] +
                r * torch.arange(cnt, device=q.device)[None, None, :])
        idx = rows.reshape(1, h, segs * cnt, 1).expand(b, h, segs * cnt, d)
        g = [torch.gather(x, 2, idx).reshape(b, h * segs, cnt, d) for x in (q, k, v)]
        o_p, lse_p = torch.ops.aten._scaled_dot_product_flash_attention(
            g[0], g[1], g[2], 0.0, True)[:2]
        o_p = o_p.reshape(b, h, segs * cnt, d).float()
        lse_p = lse_p.reshape(b, h, segs * cnt)
        ridx = rows.reshape(1, h, segs * cnt).expand(b, h, segs * cnt)
        old_lse = torch.gather(lse, 2, ridx)
        new_lse = torch.logaddexp(old_lse, lse_p)
        w_old = torch.exp(old_lse - new_lse).nan_to_num(0.0)
        w_new = torch.exp(lse_p - new_lse)
        old_o = torch.gather(out, 2, idx)
        out.scatter_(2, idx, old_o * w_old[..., None] + o_p * w_new[..., None])
        lse.scatter_(2, ridx, new_lse)
    return out.to(q.dtype), lse


def main():
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    props = torch.cuda.get_device_properties(0)
    rows = []
    ns = [1024, 4096, 16384] if args.quick else [1024, 2048, 4096, 8192, 16384]
    for tag in ("causal", "full", "window1024", "block256", "longnet"):
        for d in (64, 128):
            for n in (ns if tag != "longnet" else [32768, 65536, 131072]):
                b, h = max(1, 16384 // n), 2048 // d
                if tag == "longnet":
                    b, h = 1, 1024 // d
                g = torch.Generator(device="cuda").manual_seed(n + d)
                q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16,
                                       generator=g) for _ in range(3))
                o = torch.empty_like(q)
                lse = torch.empty(b, h, n, device="cuda", dtype=torch.float32)
                flops = reference.useful_flops(reference.pattern_from_text(PATTERN_TEXT[tag]),
                                               b, h, n, n, d)
                res = {}
                for target, ext in TARGETS:
                    name = f"{tag}_bf16_d{d}"
                    path = os.path.join(BUNDLE, target, f"{name}.{ext}")
                    if not os.path.exists(path):
                        path = os.path.join(BUNDLE, target, f"{name}.ptx")
                    kern = rt.load(ctx, path, name)
                    a = rt.args([q, k, v, o, lse])
                    res[f"attn {target}"] = triton.testing.do_bench(
                        lambda: rt.launch(ctx, kern, a), warmup=25, rep=100,
                        return_mode="median")
                if tag in ("causal", "full"):
                    with sdpa_kernel(SDPBackend.FLASH_ATTENTION):
                        res["SDPA flash"] = triton.testing.do_bench(
                            lambda: torch.nn.functional.scaled_dot_product_attention(
                                q, k, v, is_causal=tag == "causal"),
                            warmup=25, rep=100, return_mode="median")
                if tag == "longnet":
                    # The baseline must compute the same function.
                    rt.launch(ctx, kern, rt.args([q, k, v, o, lse]))
                    want, _ = longnet_torch(q, k, v)
                    torch.cuda.synchronize()
                    err = ((o.float() - want.float()).abs().max() /
                           want.float().abs().max()).item()
                    print(f"longnet N={n} D={d}: attn vs torch segments, max "
                          f"error / max |O| = {err:.1e}", flush=True)
                    res["torch segments"] = triton.testing.do_bench(
                        lambda: longnet_torch(q, k, v), warmup=5, rep=50,
                        return_mode="median")
                mm = mask_mod_of(tag)
                if tag != "longnet" or n <= 32768:
                    bm = create_block_mask(mm, None if tag != "longnet" else 1,
                                           None if tag != "longnet" else h, n, n,
                                           _compile=tag == "longnet") if mm else None
                    res["FlexAttention"] = triton.testing.do_bench(
                        lambda: flex(q, k, v, block_mask=bm), warmup=25, rep=100,
                        return_mode="median")
                tf = {key: flops / (ms * 1e-3) / 1e12 for key, ms in res.items()}
                best_attn = max(tf[f"attn {t}"] for t, _ in TARGETS)
                rows.append((tag, d, n, b, h, tf, best_attn))
                print(f"{tag:10} D={d:3} N={n:5} B={b:2} H={h:2}  " +
                      "  ".join(f"{key} {val:6.1f}" for key, val in tf.items()) +
                      "  (TFLOP/s)", flush=True)
    cols = [f"attn {t}" for t, _ in TARGETS] + ["SDPA flash", "torch segments",
                                                 "FlexAttention"]
    date = datetime.date.today().isoformat()
    lines = [f"# GPU benchmarks ({props.name}, {date})", "",
             f"torch {torch.__version__}, triton {triton.__version__}, CUDA "
             f"{torch.version.cuda}; bf16, useful TFLOP/s (SPEC), median of "
             "triton.testing.do_bench with L2 flush; B*N = 16K, H*D = 2048.", "",
             "LongNet rows: B = 1, H*D = 1024; 'torch segments' is segment-by-segment "
             "SDPA (flash) with gathers and a log-sum-exp merge, as torchscale does.", "",
             "Columns 'attn': sm_80 = PTX of the sm_80 kernels (cp.async, mma.sync); "
             "sm_90a = 4 warps, tiles by TMA, mma.sync; sm_90a_wgmma = 8 warps, TMA, "
             "Q K^T by wgmma. The ratios use the best attn column.", "",
             "| pattern | D | N | " + " | ".join(cols) +
             " | attn / SDPA | attn / torch segments | attn / Flex |",
             "|---|---|---|" + "---|" * (len(cols) + 3)]

    def ratio(best, tf, key):
        return f"{best / tf[key]:.2f}" if key in tf else "–"
    for tag, d, n, b, h, tf, best in rows:
        cells = [f"{tf[c]:.1f}" if c in tf else "–" for c in cols]
        lines.append(f"| {tag} | {d} | {n} | " + " | ".join(cells) +
                     f" | {ratio(best, tf, 'SDPA flash')} | "
                     f"{ratio(best, tf, 'torch segments')} | "
                     f"{ratio(best, tf, 'FlexAttention')} |")
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(args.out, "gpu-benchmarks.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
