"""The CPU 16-bit paths on the GPU machine's host CPU (an Intel Xeon; the
developer machines may be AMD): kernels compiled here by attnc for named
CPUs (--mcpu), run there through libattnrt (no LLVM needed), against
PyTorch's CPU scaled_dot_product_attention (oneDNN, AMX where the CPU has
it) in bf16 and f32, in one run. Prints the host's CPU flags first (does it
have AMX?), then a table: useful GFLOP/s, medians, B = 1, H = 2, causal and
full, D = 64 and 128, at 2 threads and at all of them. Every attn output is
checked against torch SDPA in f32 on the same inputs.

`check` runs the AMX kernels (and the bf16 dot ones) on every pattern
family, odd lengths, GQA and strided views against the float64 reference
written from SPEC.md (test/Numerics/reference.py), outputs poisoned (NaN)
before each run, fresh random inputs; a nonzero exit when one is off.

`report LOG MD PNG` turns a run's log (what `run` printed) into the
markdown table and the plot of docs/cpu-bf16.md's AMX section.

`build DIR --before ATTNC` also compiles the default AMX schedule with
another attnc (e.g. one built from an earlier commit): `run` times it as
"attn bf16 AMX 64x128 before", an A/B of a code-generation change in the
same run (and the f32 kernels: "attn f32 before"). CPU_HOST_VARIANTS picks
some of the attn variants by label. CPU_HOST_THREADS (default "2,all") picks the thread counts.

usage (here):   python3 tools/gpu/cpu_host_bench.py build DIR [--before ATTNC]
usage (there):  python3 DIR/cpu_host_bench.py check DIR
                python3 DIR/cpu_host_bench.py run DIR [--out OUT]
usage (here):   python3 tools/gpu/cpu_host_bench.py report LOG MD PNG
"""
import json
import os
import shutil
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Build name -> attnc flags: the bf16 dot path (Sapphire Rapids has
# AVX512-BF16), the same CPU without it (bf16 widened to f32), and f32.
# Each also for a generic AVX-512 CPU (x86-64-v4), tried where the host is
# not a Sapphire Rapids.
# On Sapphire Rapids the configure pass picks AMX tiles for bf16; without
# amx-bf16 the bf16 dots; without both, widening.
BUILDS = {"amx_spr": ["--mcpu=sapphirerapids"],
          "amxm128_spr": ["--mcpu=sapphirerapids", "--block-m=128"],
          "amxn128_spr": ["--mcpu=sapphirerapids", "--block-n=128"],
          "bf16dot_spr": ["--mcpu=sapphirerapids", "--mattr=-amx-bf16"],
          "widened_spr": ["--mcpu=sapphirerapids", "--mattr=-avx512bf16,-amx-bf16"],
          "bf16dot_v4": ["--mcpu=x86-64-v4", "--mattr=+avx512bf16"],
          "widened_v4": ["--mcpu=x86-64-v4"],
         # f32 tile shapes beside the default (32 x 48 on this CPU).
         "f32m64_spr": ["--mcpu=sapphirerapids", "--block-m=64"],
         "f32n96_spr": ["--mcpu=sapphirerapids", "--block-n=96"],
         "f32m64n96_spr": ["--mcpu=sapphirerapids", "--block-m=64", "--block-n=96"]}
# (name, pattern after #attn., D): the dense family against torch SDPA, the
# sparse one against FlexAttention (compiled).
SHAPES = [(p, p, d) for p in ("causal", "full") for d in (64, 128)]
SPARSE = [("window", "sliding_window<window = 1024>", d) for d in (64, 128)] + \
         [("block", "block_causal<block = 256>", d) for d in (64, 128)]
NS = tuple(int(x) for x in os.environ.get("CPU_HOST_NS", "1024,4096,8192").split(","))
SPARSE_NS = tuple(int(x) for x in os.environ.get("CPU_HOST_SPARSE_NS", "8192").split(","))
# What runs, in order: (label, build prefix, dtype).
VARIANTS = [("attn bf16 AMX 64x64", "amx", "bf16"),
            ("attn bf16 AMX 128x64", "amxm128", "bf16"),
            ("attn bf16 AMX 64x128", "amxn128", "bf16"),
            ("attn bf16 AMX 64x128 before", "amxbefore", "bf16"),
            ("attn bf16 AVX512-BF16 dots", "bf16dot", "bf16"),
            ("attn bf16 widened", "widened", "bf16"),
            ("attn f16 AMX 64x128", "amxn128", "f16"),
            ("attn f16 widened", "widened", "f16"),
            ("attn f32", "bf16dot", "f32"),
            ("attn f32 before", "f32before", "f32"),
            ("attn f32 64x48", "f32m64", "f32"),
            ("attn f32 32x96", "f32n96", "f32"),
            ("attn f32 64x96", "f32m64n96", "f32")]
# CPU_HOST_VARIANTS: a comma-separated subset of the labels above (default
# all), for long runs.
if os.environ.get("CPU_HOST_VARIANTS"):
    _keep = os.environ["CPU_HOST_VARIANTS"].split(",")
    VARIANTS = [v for v in VARIANTS if v[0] in _keep]


def source(pattern, dtype, d, name, lse=False):
    t = f"memref<?x?x?x{d}x{dtype}, strided<[?, ?, ?, 1], offset: ?>>"
    lt = "memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>"
    return (f"func.func @{name}(%q: {t}, %k: {t}, %v: {t}, %o: {t}"
            + (f", %lse: {lt}" if lse else "") + ") {\n"
            f"  attn.attention #attn.{pattern} ins(%q, %k, %v : {t}, {t}, {t})\n"
            f"      outs(%o : {t})" + (f" lse(%lse : {lt})" if lse else "")
            + "\n  return\n}\n")


def build(out, before=None):
    if os.path.exists(out):
        shutil.rmtree(out)
    os.makedirs(out)
    attnc = os.path.join(ROOT, "build", "bin", "attnc")
    builds = dict(BUILDS)
    if before:
        builds["amxbefore_spr"] = BUILDS["amxn128_spr"]
        builds["f32before_spr"] = BUILDS["bf16dot_spr"]
    for b, flags in builds.items():
        for dtype in ("bf16", "f16", "f32"):
            if dtype == "f32" and not b.startswith(("bf16dot", "f32")):
                continue
            if b.startswith("amx") and dtype == "f32":
                continue
            if dtype == "f16" and b not in ("amxn128_spr", "widened_spr"):
                continue
            if b.startswith("f32") and dtype != "f32":
                continue
            text = "".join(source(p, dtype, d, f"{name}_{dtype}_d{d}")
                           for name, p, d in SHAPES + SPARSE)
            src = os.path.join(out, f"{b}_{dtype}.mlir")
            with open(src, "w") as f:
                f.write(text)
            compiler = before if b in ("amxbefore_spr", "f32before_spr") else attnc
            subprocess.run([compiler, src, "--emit=so", "-o",
                            os.path.join(out, f"{b}_{dtype}.so")] + flags, check=True)
    # The correctness check's kernels: every pattern family, D = 64 and 128;
    # f16 inputs on AMX too (rounded to bf16 as the tiles pack them).
    for b, dtype in CHECK_BUILDS:
        text = "".join(source(p, dtype, d, f"{name}_d{d}", lse=name == "dilated")
                       for name, p in CHECK_PATTERNS for d in (64, 128))
        src = os.path.join(out, f"check_{b}_{dtype}.mlir")
        with open(src, "w") as f:
            f.write(text)
        subprocess.run([attnc, src, "--emit=so", "-o",
                        os.path.join(out, f"check_{b}_{dtype}.so")] + BUILDS[b], check=True)
    for f in ("build/lib/libattnrt.so", "tools/gpu/attnrt.py", "tools/gpu/cpu_host_bench.py",
              "test/Numerics/reference.py"):
        shutil.copy(os.path.join(ROOT, f), out)
    print(f"cpu_host_bench: {out} ready")


# (build, input type) of the check.
CHECK_BUILDS = [("amx_spr", "bf16"), ("amx_spr", "f16"), ("bf16dot_spr", "bf16")]
# (name, pattern as the dialect spells it after #attn.)
CHECK_PATTERNS = [("full", "full"), ("causal", "causal"),
                  ("window", "sliding_window<window = 100>"),
                  ("block", "block_causal<block = 48>"),
                  ("dilated", "dilated<segments = [64, 128], rates = [1, 2]>")]
# (B, H, Hk, Nq, Nk): odd lengths (partial tiles), GQA, decode-like rows.
CHECK_SHAPES = [(1, 2, 2, 1, 1), (2, 4, 2, 17, 17), (1, 2, 1, 100, 100),
                (1, 4, 4, 257, 257), (1, 2, 2, 64, 300), (1, 2, 1, 1000, 1000)]


def check(d_):
    """Every check kernel against the float64 reference; exit status 1 when
    one is off (SPEC's bf16 tolerance, 1e-2 relative to max |O|)."""
    import numpy as np
    import torch
    sys.path.insert(0, d_)
    import attnrt
    import reference as ref
    flags = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            flags = " ".join(f for f in line.split(":", 1)[1].split() if f.startswith("amx"))
            break
    print(f"check: host AMX flags: {flags or 'none'}", flush=True)
    rt = attnrt.Runtime(os.path.join(d_, "libattnrt.so"))
    ctx = rt.cpu_context(0)
    rng = np.random.default_rng(int.from_bytes(os.urandom(4), "little"))
    bad = 0
    for b, dtype in CHECK_BUILDS:
        tt = torch.float16 if dtype == "f16" else torch.bfloat16
        for name, p in CHECK_PATTERNS:
            for d in (64, 128):
                try:
                    kern = rt.load(ctx, os.path.join(d_, f"check_{b}_{dtype}.so"),
                                   f"{name}_d{d}")
                except Exception as exc:  # noqa: BLE001
                    print(f"  {b} {name} D={d}: not run: {str(exc)[:200]}", flush=True)
                    bad += 1
                    continue
                worst = 0.0
                for B, H, Hk, nq, nk in CHECK_SHAPES:
                    if name == "dilated" and nq != nk:
                        continue
                    # Strided views: K and V inside [B, Nk, Hk, D] buffers.
                    q = torch.from_numpy(rng.standard_normal((B, H, nq, d))).to(tt)
                    kb = torch.from_numpy(rng.standard_normal((B, nk, Hk, d))).to(tt)
                    vb = torch.from_numpy(rng.standard_normal((B, nk, Hk, d))).to(tt)
                    k, v = kb.transpose(1, 2), vb.transpose(1, 2)
                    o = torch.full((B, H, nq, d), float("nan"), dtype=tt)
                    args = [q, k, v, o]
                    if name == "dilated":  # its phases merge through the LSE
                        args.append(torch.empty(B, H, nq, dtype=torch.float32))
                    rt.launch(ctx, kern, rt.args(args))
                    want, _ = ref.attention(q.double().numpy(), k.double().numpy(),
                                            v.double().numpy(),
                                            ref.pattern_from_text("#attn." + p))
                    err = ref.rel_error(o.double().numpy(), want)[1]
                    worst = max(worst, err)
                ok = worst <= 1e-2
                bad += not ok
                print(f"  {b:12} {dtype:4} {name:8} D={d:3}: max relative error {worst:.2e} "
                      + ("ok" if ok else "FAIL"), flush=True)
    print(f"check: {'all ok' if not bad else f'{bad} failed'}", flush=True)
    sys.exit(1 if bad else 0)


def run(d_, out):
    import torch
    sys.path.insert(0, d_)
    import attnrt
    import reference as ref
    flags = ""
    model = ""
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name") and not model:
            model = line.split(":", 1)[1].strip()
        if line.startswith("flags") and not flags:
            flags = " ".join(f for f in line.split(":", 1)[1].split()
                             if f.startswith(("avx512_bf16", "avx512_fp16", "amx", "avx512f")))
    print(f"host: {model}, {os.cpu_count()} threads; flags: {flags}; torch {torch.__version__}",
          flush=True)
    rt = attnrt.Runtime(os.path.join(d_, "libattnrt.so"))
    flex = None
    try:
        from torch.nn.attention.flex_attention import create_block_mask, flex_attention
        flex = torch.compile(flex_attention, dynamic=False)
    except Exception as exc:  # noqa: BLE001
        print(f"(no FlexAttention: {exc})", flush=True)

    def median(fn):
        fn()
        ts = []
        s0 = time.perf_counter()
        while len(ts) < 3 or (time.perf_counter() - s0 < 1.0 and len(ts) < 30):
            a = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - a)
        return sorted(ts)[len(ts) // 2]

    rows = []
    counts = os.environ.get("CPU_HOST_THREADS", "2,all").split(",")
    for threads in (os.cpu_count() if t == "all" else int(t) for t in counts):
        torch.set_num_threads(threads)
        ctx = rt.cpu_context(threads)
        # The host's sgemm at these threads (OpenBLAS through numpy, f32,
        # 4096^3), the yardstick for attn f32, in a process of its own (in
        # this one, torch.mm read half of what it reads alone).
        code = ("import time, numpy as np\n"
                "a = np.random.rand(4096, 4096).astype(np.float32); b = a.copy()\n"
                "a @ b; ts = []\n"
                "for _ in range(7):\n"
                "    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)\n"
                "print(f'{2 * 4096 ** 3 / sorted(ts)[3] / 1e9:.1f}')\n")
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads),
                   OMP_NUM_THREADS=str(threads))
        got = subprocess.run([sys.executable, "-c", code], capture_output=True,
                             text=True, env=env)
        print(f"T={threads:2} sgemm f32 4096 (numpy, OpenBLAS): "
              f"{got.stdout.strip() or got.stderr.strip()[-200:]} GFLOP/s", flush=True)
        for name, p, d in SHAPES + SPARSE:
            sparse = (name, p, d) in SPARSE
            for n in (SPARSE_NS if sparse else NS):
                g = torch.Generator().manual_seed(n + d)
                q, k, v = (torch.randn(1, 2, n, d, generator=g) for _ in range(3))
                pat = ref.pattern_from_text("#attn." + p)
                allowed = torch.from_numpy(ref.mask_matrix(pat, n, n) > 0)
                if name == "full":
                    want = torch.nn.functional.scaled_dot_product_attention(q, k, v)
                elif name == "causal":
                    want = torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
                else:
                    want = torch.nn.functional.scaled_dot_product_attention(
                        q, k, v, attn_mask=allowed)
                fl = ref.useful_flops(pat, 1, 2, n, n, d)
                res = {}
                for label, b, dtype in VARIANTS:
                    dt = {"bf16": torch.bfloat16, "f16": torch.float16}.get(dtype, torch.float32)
                    qc, kc, vc = q.to(dt), k.to(dt), v.to(dt)
                    o = torch.full_like(qc, float("nan"))
                    kern = None
                    for tgt in ("spr", "v4"):
                        path = os.path.join(d_, f"{b}_{tgt}_{dtype}.so")
                        if not os.path.exists(path):
                            continue
                        try:
                            kern = rt.load(ctx, path, f"{name}_{dtype}_d{d}")
                            break
                        except Exception as exc:  # noqa: BLE001
                            print(f"  {label} [{tgt}]: {str(exc)[:160]}", flush=True)
                    if kern is None:
                        continue
                    a = rt.args([qc, kc, vc, o])
                    sec = median(lambda: rt.launch(ctx, kern, a))
                    err = ((o.float() - want).abs().max() / want.abs().max()).item()
                    res[label] = (fl / sec / 1e9, err)
                if not sparse:
                    for label, dt in (("torch SDPA bf16", torch.bfloat16),
                                      ("torch SDPA f32", torch.float32)):
                        qc, kc, vc = q.to(dt), k.to(dt), v.to(dt)
                        fn = lambda: torch.nn.functional.scaled_dot_product_attention(  # noqa: E731
                            qc, kc, vc, is_causal=name == "causal")
                        sec = median(fn)
                        err = ((fn().float() - want).abs().max() / want.abs().max()).item()
                        res[label] = (fl / sec / 1e9, err)
                elif flex is not None:
                    mask = allowed
                    try:
                        bm = create_block_mask(lambda b_, h_, qi, ki: mask[qi, ki], 1, 2, n, n,
                                               device="cpu")
                        for label, dt in (("FlexAttention bf16", torch.bfloat16),
                                          ("FlexAttention f32", torch.float32)):
                            qc, kc, vc = q.to(dt), k.to(dt), v.to(dt)
                            fn = lambda: flex(qc, kc, vc, block_mask=bm)  # noqa: E731
                            sec = median(fn)
                            err = ((fn().float() - want).abs().max() / want.abs().max()).item()
                            res[label] = (fl / sec / 1e9, err)
                    except Exception as exc:  # noqa: BLE001
                        print(f"  FlexAttention: {str(exc)[:200]}", flush=True)
                rows.append({"threads": threads, "pattern": name, "d": d, "n": n, "res": res})
                print(f"T={threads:2} {name:6} D={d:3} N={n:5}  " + "  ".join(
                    f"{k}: {g:6.1f} ({e:.0e})" for k, (g, e) in res.items()), flush=True)
    with open(os.path.join(out, "cpu-host-bench.json"), "w") as f:
        json.dump({"host": model, "flags": flags, "torch": torch.__version__,
                   "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                   "rows": rows}, f, indent=1)


def report(log, md, png):
    """The markdown table (GFLOP/s, ratio of the default AMX schedule to
    the strongest peer) and a plot, from a run's log."""
    import re
    host, rows = "", []
    for line in open(log):
        if line.startswith("host:"):
            host = line.strip()[len("host: "):]
        m = re.match(r"T=\s*(\d+) (\w+)\s+D=\s*(\d+) N=\s*(\d+)\s+(.*)", line)
        if m:
            res = {k.strip(): float(v) for k, v in
                   re.findall(r"([^:]+?):\s+([\d.]+) \([^)]*\)\s*", m.group(5))}
            rows.append((int(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)), res))
    labels = []
    for r in rows:
        for k in r[4]:
            if k not in labels:
                labels.append(k)
    ours = "attn bf16 AMX 64x128"
    out = [f"Host: {host}. Useful GFLOP/s (SPEC's FLOP count), medians; B = 1, H = 2; "
           f"errors against torch f32 in the log. `vs peer`: {ours} (the default schedule) "
           "over torch SDPA bf16 (causal, full) or FlexAttention bf16 (window 1024, "
           "block-causal 256).", "",
           "| threads | pattern | D | N | " + " | ".join(labels) + " | vs peer |",
           "|" + "---|" * (len(labels) + 5)]
    for t, p, d, n, res in rows:
        peer = res.get("torch SDPA bf16") or res.get("FlexAttention bf16")
        ratio = f"{res[ours] / peer:.2f}x" if peer and ours in res else "-"
        out.append(f"| {t} | {p} | {d} | {n} | " + " | ".join(
            f"{res[k]:.0f}" if k in res else "-" for k in labels) + f" | {ratio} |")
    with open(md, "w") as f:
        f.write("\n".join(out) + "\n")
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    threads = sorted({r[0] for r in rows})
    fig, axes = plt.subplots(1, len(threads), figsize=(7 * len(threads), 5))
    for ax, t in zip(axes if len(threads) > 1 else [axes], threads):
        sel = [r for r in rows if r[0] == t]
        xs = range(len(sel))
        for k in (ours, "attn bf16 widened", "attn f32", "torch SDPA bf16",
                  "FlexAttention bf16"):
            ax.plot(list(xs), [r[4].get(k, float("nan")) for r in sel], "o-", label=k)
        ax.set_xticks(list(xs))
        ax.set_xticklabels([f"{r[1]} {r[2]}\n{r[3] // 1024}K" for r in sel], fontsize=7,
                           rotation=60)
        ax.set_ylabel("useful GFLOP/s")
        ax.set_title(f"{t} threads")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("bf16 attention on the CPU: attn on AMX tiles vs PyTorch (" + host[:60] + ")",
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    print(f"report: {md}, {png}")


if __name__ == "__main__":
    if sys.argv[1] == "build":
        build(sys.argv[2], sys.argv[sys.argv.index("--before") + 1]
              if "--before" in sys.argv else None)
    elif sys.argv[1] == "report":
        report(*sys.argv[2:5])
    elif sys.argv[1] == "check":
        check(os.path.abspath(sys.argv[2]))
    else:
        out = sys.argv[sys.argv.index("--out") + 1] if "--out" in sys.argv else "."
        run(os.path.abspath(sys.argv[2]), out)
