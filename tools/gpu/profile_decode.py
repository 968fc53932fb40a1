"""Where a decoding step's time goes: per-kernel GPU times (torch.profiler,
CUPTI) of attn's split-KV kernels (`__decode`, `__merge`) and of cuDNN's
fused attention, one decoding step (Nq = 1, bf16, causal) at the shapes
where bench_decode.py shows the widest gap; and, with --ncu-shape, launches
only attn's kernels of one shape (for `ncu`).

usage: profile_decode.py BUNDLE [--folders=sm_90a,...] [--shapes=D:H:HK:B:N,...]
       profile_decode.py BUNDLE --ncu-shape=D:H:HK:B:N [--folder=sm_90a]
Prints one line per (shape, kernel): calls, mean us per step.
"""
import argparse
import os
import sys

import torch
import triton.testing

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--folders", default="sm_90a_dec_kernel,sm_90a_dec_fused")
ap.add_argument("--shapes", default="64:32:8:1:4096,64:32:8:1:32768,"
                "128:32:8:1:4096,128:32:8:1:32768,128:32:8:16:4096,"
                "128:32:32:1:4096")
ap.add_argument("--ncu-shape")
ap.add_argument("--folder", default="sm_90a")
ap.add_argument("--steps", type=int, default=20)
args = ap.parse_args()
BUNDLE = os.path.abspath(args.bundle)
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402
from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402


def tensors(d, h, hk, b, n):
    g = torch.Generator(device="cuda").manual_seed(n + d + b)
    q = torch.randn(b, h, 1, d, device="cuda", dtype=torch.bfloat16, generator=g)
    k = torch.randn(b, hk, n, d, device="cuda", dtype=torch.bfloat16, generator=g)
    v = torch.randn(b, hk, n, d, device="cuda", dtype=torch.bfloat16, generator=g)
    return q, k, v


def load(rt, ctx, folder, d):
    name = f"causal_bf16_d{d}"
    path = os.path.join(BUNDLE, folder, name + ".cubin")
    if not os.path.exists(path):
        path = os.path.join(BUNDLE, folder, name + ".ptx")
    return rt.load(ctx, path, name)


def kernel_times(fn, steps):
    """Mean GPU time per step of each kernel fn launches, in us."""
    fn()
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        for _ in range(steps):
            fn()
        torch.cuda.synchronize()
    out = {}
    for ev in prof.key_averages():
        t = getattr(ev, "device_time_total", None)
        if t is None:
            t = ev.cuda_time_total
        if t > 0 and ev.count >= steps:
            out[ev.key] = (ev.count // steps, t / steps)
    return out


def main():
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    if args.ncu_shape:
        d, h, hk, b, n = (int(x) for x in args.ncu_shape.split(":"))
        kern = load(rt, ctx, args.folder, d)
        q, k, v = tensors(d, h, hk, b, n)
        o = torch.empty_like(q)
        lse = torch.empty(b, h, 1, device="cuda", dtype=torch.float32)
        a = rt.args([q, k, v, o, lse])
        for _ in range(2):
            rt.launch(ctx, kern, a)
        torch.cuda.synchronize()
        print(f"{args.folder} D={d} H={h}/{hk} B={b} N={n}: launched twice", flush=True)
        return
    print(f"device: {torch.cuda.get_device_name()}", flush=True)
    for shape in args.shapes.split(","):
        d, h, hk, b, n = (int(x) for x in shape.split(":"))
        q, k, v = tensors(d, h, hk, b, n)
        o = torch.empty_like(q)
        lse = torch.empty(b, h, 1, device="cuda", dtype=torch.float32)
        kv_bytes = 2 * b * hk * n * d * 2
        runs = {}
        for folder in args.folders.split(","):
            if not os.path.isdir(os.path.join(BUNDLE, folder)):
                continue
            kern = load(rt, ctx, folder, d)
            a = rt.args([q, k, v, o, lse])
            o.fill_(float("nan"))
            rt.launch(ctx, kern, a)
            with sdpa_kernel(SDPBackend.MATH):
                want = torch.nn.functional.scaled_dot_product_attention(
                    q.float(), k.float(), v.float(), enable_gqa=h != hk)
            err = ((o.float() - want).abs().max() / want.abs().max()).item()
            print(f"D={d} H={h}/{hk} B={b} N={n} attn {folder}: error {err:.1e}"
                  + ("" if err < 2e-2 else "  FAIL"), flush=True)
            runs[f"attn {folder}"] = lambda kern=kern, a=a: rt.launch(ctx, kern, a)

        def cudnn():
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                torch.nn.functional.scaled_dot_product_attention(q, k, v, enable_gqa=h != hk)
        runs["cuDNN"] = cudnn
        for label, fn in runs.items():
            times = kernel_times(fn, args.steps)
            total = sum(t for _, t in times.values())
            wall = triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median") * 1e3
            print(f"D={d} H={h}/{hk} B={b} N={n} {label}: {total:.1f} us of kernels, "
                  f"{wall:.1f} us a step (do_bench) "
                  f"({kv_bytes / (wall * 1e-6) / 1e12:.2f} TB/s)", flush=True)
            for key, (calls, t) in sorted(times.items(), key=lambda kv: -kv[1][1]):
                print(f"    {t:8.1f} us  x{calls}  {key[:110]}", flush=True)
        del q, k, v, o, lse
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
