"""GPU decoding-step benchmark: one step (Nq = 1 query per head against N
cached keys) of attn's split-KV kernels against cuDNN's fused attention and
FlashAttention-2 (PyTorch SDPA's CUDNN_ATTENTION and FLASH_ATTENTION
backends) and attn's own whole-row kernel (compiled with --decode-rows=0,
what ran before split-KV), bf16, on the kernels of a bundle made by
tools/gpu/bundle.py.

A decoding step reads K and V once: its speed is the bandwidth it reaches,
bytes = 2 * B * Hk * N * D * 2 (K and V, bf16) over the median time of
triton.testing.do_bench (CUDA events, L2 flushed before every run). The
card's copy bandwidth (a 4 GiB device-to-device copy, read + write) is
measured in the same run. Q, O and the LSE are negligible.

The attn kernel is `causal` (with Nq = 1 a query sees every key, bottom-right
aligned as SPEC says); SDPA runs without a mask (its causal mask is top-left
aligned), the same work. GQA through SDPA's enable_gqa (K/V not repeated);
a backend that refuses a shape gets no number.

Prints a table and writes it (markdown) to OUT/gpu-decode.md and the raw
numbers to OUT/gpu-decode.json.
usage: bench_decode.py BUNDLE [--out DIR] [--quick] [--batches=1,4] [--ns=4096,32768]
"""
import argparse
import datetime
import json
import os
import sys

import torch
import triton.testing

ap = argparse.ArgumentParser()
ap.add_argument("bundle")
ap.add_argument("--out", default=".")
ap.add_argument("--quick", action="store_true")
ap.add_argument("--batches", help="comma-separated B (default 1,4,16,32)")
ap.add_argument("--ns", help="comma-separated N (default 4096,16384,32768,131072)")
args, _ = ap.parse_known_args()
BUNDLE = os.path.abspath(args.bundle)
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402

from torch.nn.attention import SDPBackend, sdpa_kernel  # noqa: E402

MAX_KV_BYTES = 12 << 30  # shapes whose K/V exceed this are skipped
PAGE_SIZES = (16, 64)     # the paged-cache kernel's pages (keys per page)


def bench(fn):
    return triton.testing.do_bench(fn, warmup=10, rep=50, return_mode="median")


def copy_bandwidth():
    src = torch.empty(4 << 30, dtype=torch.uint8, device="cuda")
    dst = torch.empty_like(src)
    ms = bench(lambda: dst.copy_(src))
    del src, dst
    return 2 * (4 << 30) / (ms * 1e-3) / 1e12


def load(rt, ctx, folder, name):
    path = os.path.join(BUNDLE, folder, name + ".cubin")
    if not os.path.exists(path):
        path = os.path.join(BUNDLE, folder, name + ".ptx")
    return rt.load(ctx, path, name)


def main():
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    device = torch.cuda.get_device_name()
    copy_tbs = copy_bandwidth()
    print(f"device: {device}; copy bandwidth {copy_tbs:.2f} TB/s", flush=True)
    kernels = {}
    rows = []
    heads = [(32, 8), (32, 32)]
    batches = [1, 4, 16, 32] if not args.quick else [4]
    ns = [4096, 16384, 32768, 131072] if not args.quick else [32768]
    if args.batches:
        batches = [int(x) for x in args.batches.split(",")]
    if args.ns:
        ns = [int(x) for x in args.ns.split(",")]
    for d in (64, 128):
        name = f"causal_bf16_d{d}"
        kernels[d] = {"attn": load(rt, ctx, "sm_90a", name),
                      "attn whole-row": load(rt, ctx, "sm_90a_nodecode", name)}
        # The same kernel over a paged cache (vLLM's [P, S, Hk, D] layout,
        # pages shuffled), pages of 16 and 64 keys.
        paged = load(rt, ctx, "sm_90a", f"paged_causal_bf16_d{d}")
        # Other decoding schedules (bundle.py's DECODE_VARIANTS), timed at
        # fewer shapes, to choose the defaults.
        for folder in sorted(os.listdir(BUNDLE)):
            if folder.startswith("sm_90a_dec_"):
                kernels[d][folder[len("sm_90a_dec_"):]] = load(rt, ctx, folder, name)
        for h, hk in heads:
            for b in batches:
                for n in ns:
                    kv_bytes = 2 * b * hk * n * d * 2
                    if kv_bytes > MAX_KV_BYTES:
                        continue
                    g = torch.Generator(device="cuda").manual_seed(n + d + b)
                    q = torch.randn(b, h, 1, d, device="cuda", dtype=torch.bfloat16, generator=g)
                    k = torch.randn(b, hk, n, d, device="cuda", dtype=torch.bfloat16, generator=g)
                    v = torch.randn(b, hk, n, d, device="cuda", dtype=torch.bfloat16, generator=g)
                    o = torch.empty_like(q)
                    lse = torch.empty(b, h, 1, device="cuda", dtype=torch.float32)
                    res = {}
                    want = None
                    with sdpa_kernel(SDPBackend.MATH):
                        if n <= 32768 and b * h <= 512:
                            want = torch.nn.functional.scaled_dot_product_attention(
                                q.float(), k.float(), v.float(), enable_gqa=h != hk)
                    err = None
                    for label, kern in kernels[d].items():
                        variant = label not in ("attn", "attn whole-row")
                        if variant and (n not in (4096, 16384, 131072) or b not in (1, 16)):
                            continue
                        a = rt.args([q, k, v, o, lse])
                        o.fill_(float("nan"))
                        rt.launch(ctx, kern, a)
                        torch.cuda.synchronize()
                        if want is not None:
                            e = ((o.float() - want).abs().max() / want.abs().max()).item()
                            err = e if err is None else max(err, e)
                        res[label] = bench(lambda: rt.launch(ctx, kern, a))
                    for page in PAGE_SIZES:
                        label = f"attn paged {page}"
                        pages = b * n // page
                        perm = torch.randperm(pages, device="cuda", generator=g)
                        table = perm.view(b, n // page).to(torch.int32)
                        kc = torch.empty(pages, page, hk, d, device="cuda", dtype=torch.bfloat16)
                        vc = torch.empty_like(kc)
                        kc[perm] = k.transpose(1, 2).reshape(pages, page, hk, d)
                        vc[perm] = v.transpose(1, 2).reshape(pages, page, hk, d)
                        lens = torch.full((b,), n, dtype=torch.int32, device="cuda")
                        a = rt.args([q, kc, vc, table, lens, o, lse])
                        o.fill_(float("nan"))
                        rt.launch(ctx, paged, a)
                        torch.cuda.synchronize()
                        if want is not None:
                            e = ((o.float() - want).abs().max() / want.abs().max()).item()
                            err = max(err or 0.0, e)
                        res[label] = bench(lambda: rt.launch(ctx, paged, a))
                        del kc, vc
                    for label, backend in (("cuDNN", SDPBackend.CUDNN_ATTENTION),
                                           ("FA2", SDPBackend.FLASH_ATTENTION)):
                        try:
                            with sdpa_kernel(backend):
                                f = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                                    q, k, v, enable_gqa=h != hk)
                                f()
                                res[label] = bench(f)
                        except Exception as exc:  # a backend that refuses the shape
                            print(f"  {label}: {type(exc).__name__}: {str(exc)[:100]}", flush=True)
                    tbs = {lab: kv_bytes / (ms * 1e-3) / 1e12 for lab, ms in res.items()}
                    row = {"d": d, "h": h, "hk": hk, "b": b, "n": n, "ms": res, "tbs": tbs,
                           "err": err}
                    rows.append(row)
                    line = "  ".join(f"{lab} {res[lab] * 1e3:8.1f} us {tbs[lab]:5.2f} TB/s"
                                     for lab in res)
                    print(f"D={d} H={h}/{hk} B={b:2d} N={n:6d}: {line}"
                          + (f"  err {err:.1e}" if err is not None else ""), flush=True)
                    del q, k, v, o, lse
                    torch.cuda.empty_cache()
    os.makedirs(args.out, exist_ok=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    with open(os.path.join(args.out, "gpu-decode.json"), "w") as f:
        json.dump({"device": device, "date": stamp, "copy_tbs": copy_tbs, "rows": rows}, f,
                  indent=1)
    labels = ["attn", "attn whole-row"] + [f"attn paged {p}" for p in PAGE_SIZES] + \
        ["cuDNN", "FA2"]
    with open(os.path.join(args.out, "gpu-decode.md"), "w") as f:
        f.write(f"Decoding step, bf16, {device}, {stamp}; copy bandwidth "
                f"{copy_tbs:.2f} TB/s. Time in us (K/V bandwidth in TB/s).\n\n")
        f.write("| D | H/Hk | B | N | " + " | ".join(labels)
                + " | attn / cuDNN | paged 16 speed / attn |\n")
        f.write("|---" * (6 + len(labels)) + "|\n")
        for r in rows:
            cells = []
            for lab in labels:
                if lab in r["ms"]:
                    cells.append(f"{r['ms'][lab] * 1e3:.1f} ({r['tbs'][lab]:.2f})")
                else:
                    cells.append("-")
            ratio = (f"{r['ms']['cuDNN'] / r['ms']['attn']:.2f}x"
                     if "cuDNN" in r["ms"] else "-")
            paged = (f"{r['ms']['attn'] / r['ms']['attn paged 16']:.2f}x"
                     if "attn paged 16" in r["ms"] else "-")
            f.write(f"| {r['d']} | {r['h']}/{r['hk']} | {r['b']} | {r['n']} | "
                    + " | ".join(cells) + f" | {ratio} | {paged} |\n")
        variants = sorted({lab for r in rows for lab in r["ms"]} - set(labels))
        if variants:
            f.write("\nDecoding schedules other than the default (bundle.py's "
                    "DECODE_VARIANTS; bn: keys per tile, split: fewest keys per "
                    "split), time in us:\n\n| D | H/Hk | B | N | attn | "
                    + " | ".join(variants) + " |\n" + "|---" * (5 + len(variants)) + "|\n")
            for r in rows:
                if not any(v in r["ms"] for v in variants):
                    continue
                f.write(f"| {r['d']} | {r['h']}/{r['hk']} | {r['b']} | {r['n']} | "
                        f"{r['ms']['attn'] * 1e3:.1f} | "
                        + " | ".join(f"{r['ms'][v] * 1e3:.1f}" if v in r["ms"] else "-"
                                     for v in variants) + " |\n")
    print(f"wrote {args.out}/gpu-decode.md", flush=True)


if __name__ == "__main__":
    main()
