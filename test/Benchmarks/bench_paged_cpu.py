"""CPU decoding step over a paged K/V cache against the same kernel on the
contiguous cache (not a test): attn.paged_attention with pages of 16 and 64
keys (vLLM's [P, S, Hk, D] layout, pages shuffled) and attn.attention on
[B, Hk, N, D] and on [B, N, Hk, D] storage, one query per head (GQA 32/8), causal, medians of 7 runs in
one process; every paged output is checked against the contiguous one.
Prints a table and writes it, with a plot, to docs/paged-cpu.{md,png}.

usage: python3 test/Benchmarks/bench_paged_cpu.py [--quick]
(the installed `attn` package, or runtime/python with $ATTN_LIBRARY_DIR)
"""
import datetime
import os
import platform
import statistics
import sys
import time

import numpy as np
import torch

import attn

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
QUICK = "--quick" in sys.argv
PAGES = (16, 64)


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def median_ms(fn, runs=7):
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1e3)
    return statistics.median(times)


def main():
    torch.set_num_threads(2)
    rows = []
    B, H, Hk = 4, 32, 8
    ns = [4096, 16384] if QUICK else [4096, 16384, 65536]
    for dtype in (torch.float32, torch.bfloat16):
        for d in (64, 128):
            for n in ns:
                g = torch.Generator().manual_seed(n + d)
                q = torch.randn(B, H, 1, d, generator=g).to(dtype)
                k = torch.randn(B, Hk, n, d, generator=g).to(dtype)
                v = torch.randn(B, Hk, n, d, generator=g).to(dtype)
                res = {"contiguous": median_ms(lambda: attn.attention(q, k, v))}
                want = attn.attention(q, k, v).float()
                # The same contiguous kernel on [B, N, Hk, D] storage (a view):
                # a head's rows Hk * D apart, as in a [P, S, Hk, D] page.
                kn = k.transpose(1, 2).contiguous().transpose(1, 2)
                vn = v.transpose(1, 2).contiguous().transpose(1, 2)
                res["contiguous BNHD"] = median_ms(lambda: attn.attention(q, kn, vn))
                del kn, vn
                for page in PAGES:
                    pages = B * n // page
                    perm = torch.randperm(pages, generator=g)
                    kc = torch.empty(pages, page, Hk, d, dtype=dtype)
                    vc = torch.empty_like(kc)
                    kc[perm] = k.transpose(1, 2).reshape(pages, page, Hk, d)
                    vc[perm] = v.transpose(1, 2).reshape(pages, page, Hk, d)
                    table = perm.view(B, n // page).to(torch.int32)
                    lens = torch.full((B,), n, dtype=torch.int32)
                    got = attn.paged_attention(q, kc, vc, table, lens).float()
                    err = ((got - want).abs().max() / want.abs().max()).item()
                    assert err < 1e-5, f"paged output differs: {err}"
                    res[f"paged {page}"] = median_ms(
                        lambda: attn.paged_attention(q, kc, vc, table, lens))
                gbs = {lab: 2 * B * Hk * n * d * q.element_size() / (ms * 1e-3) / 1e9
                       for lab, ms in res.items()}
                row = {"dtype": str(dtype).split(".")[1], "d": d, "n": n, "ms": res,
                       "gbs": gbs}
                rows.append(row)
                print(f"{row['dtype']:8} D={d:3} N={n:6}: " + "  ".join(
                    f"{lab} {ms:7.3f} ms ({gbs[lab]:5.1f} GB/s)" for lab, ms in res.items()),
                    flush=True)
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    labels = ["contiguous", "contiguous BNHD"] + [f"paged {p}" for p in PAGES]
    out = os.path.join(ROOT, "docs", "paged-cpu")
    with open(out + ".md", "w") as f:
        f.write(f"# Paged K/V cache on the CPU\n\nWritten by `test/Benchmarks/bench_paged_cpu.py` "
                f"({stamp}; {cpu_name()}, 2 threads; torch {torch.__version__}). One decoding "
                f"step, B = {B}, H/Hk = {H}/{Hk}, causal; time in ms, medians of 7 "
                "(K/V read in GB/s).\n\n| dtype | D | N | " + " | ".join(labels)
                + " | paged 16 / contiguous time |\n" + "|---" * (4 + len(labels)) + "|\n")
        for r in rows:
            f.write(f"| {r['dtype']} | {r['d']} | {r['n']} | " + " | ".join(
                f"{r['ms'][lab]:.3f} ({r['gbs'][lab]:.1f})" for lab in labels)
                + f" | {r['ms']['paged 16'] / r['ms']['contiguous']:.2f} |\n")
        f.write("\n![paged vs contiguous](paged-cpu.png)\n")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        fig, axes = plt.subplots(1, 4, figsize=(16, 3.2))
        for ax, (dt, d) in zip(axes, [(a, b) for a in ("float32", "bfloat16")
                                      for b in (64, 128)]):
            pts = [r for r in rows if r["dtype"] == dt and r["d"] == d]
            for lab in labels:
                ax.plot([r["n"] for r in pts], [r["gbs"][lab] for r in pts], "o-", label=lab)
            ax.set_xscale("log", base=2)
            ax.set_title(f"{dt} D={d}")
            ax.set_xlabel("N")
            ax.set_ylabel("K/V GB/s")
        axes[0].legend()
        fig.tight_layout()
        fig.savefig(out + ".png", dpi=90)
    except ImportError:
        print("no matplotlib: no plot", file=sys.stderr)
    print(f"wrote {out}.md")


if __name__ == "__main__":
    main()
