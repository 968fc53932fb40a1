#!/usr/bin/env python3
"""Text in, text out for attn-model: SmolLM2's own tokenizer (built by
transformers from the GGUF file's vocabulary and merges, offline; cached as
tokenizer.json next to the weights) turns the prompt into ids, attn-model
generates, and the ids it streams are decoded as they come.

  tools/attn-model/generate.py "The capital of France is"
  tools/attn-model/generate.py --chat "Write a haiku about compilers" --max-new-tokens 64
  tools/attn-model/generate.py --temperature 0.7 --top-p 0.9 --seed 1 "Once upon a time"

Every option that is not this script's own goes to attn-model as it is.
"""
import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def tokenizer(cache_dir):
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    from transformers import AutoTokenizer
    if os.path.isfile(os.path.join(cache_dir, "tokenizer.json")):
        return AutoTokenizer.from_pretrained(cache_dir)
    from convert_gguf import default_gguf
    path = default_gguf()
    tok = AutoTokenizer.from_pretrained(os.path.dirname(path),
                                        gguf_file=os.path.basename(path))
    try:
        tok.save_pretrained(cache_dir)
    except OSError:
        pass  # a read-only cache only costs the next run a rebuild
    return tok


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                epilog="Other options go to attn-model (--help there).")
    p.add_argument("prompt")
    p.add_argument("--chat", action="store_true",
                   help="wrap the prompt in the model's chat template")
    p.add_argument("--model", default=os.path.join(
        ROOT, "build", "models", "smollm2-135m-instruct.safetensors"))
    p.add_argument("--runner", default=os.path.join(ROOT, "build", "bin", "attn-model"))
    a, rest = p.parse_known_args()
    if not os.path.isfile(a.model):
        sys.exit(f"generate: no weights at {a.model} (tools/setup.sh writes them, "
                 "or tools/attn-model/convert_gguf.py --out FILE)")
    tok = tokenizer(os.path.join(os.path.dirname(a.model), "smollm2-tokenizer"))
    if a.chat:
        ids = tok.apply_chat_template([{"role": "user", "content": a.prompt}],
                                      add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):
            ids = ids["input_ids"]
    else:
        ids = tok(a.prompt)["input_ids"]
    cmd = [a.runner, "--model", a.model, "--prompt", " ".join(map(str, ids))] + rest
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    if not a.chat:
        sys.stdout.write(a.prompt)
    out, shown = [], ""
    for line in proc.stdout:
        out.append(int(line))
        text = tok.decode(out, skip_special_tokens=True)
        # Print only what is complete: a partial UTF-8 sequence decodes to
        # U+FFFD until its last byte arrives.
        if not text.endswith("\ufffd"):
            sys.stdout.write(text[len(shown):])
            sys.stdout.flush()
            shown = text
    sys.stdout.write("\n")
    sys.exit(proc.wait())


if __name__ == "__main__":
    main()
