"""Runs a Llama-family transformers model with its attention through
attn.attention and compares it with the model's own (SDPA) attention.

    python3 runtime/python/examples/hf_llama.py                   # tiny random Llama
    python3 runtime/python/examples/hf_llama.py --model PATH      # e.g. a SmolLM2 checkout
    python3 runtime/python/examples/hf_llama.py --pattern '#attn.sliding_window<window = 64>'

Without --model it builds a small randomly initialised LlamaConfig model, so
nothing is downloaded. With --model it loads weights with from_pretrained
(a local folder, or a hub name where the hub is reachable).
"""
import argparse
import time

import torch
from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

import attn
import attn.hf


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", help="from_pretrained path or name")
    ap.add_argument("--pattern", default="causal")
    ap.add_argument("--tokens", type=int, default=16, help="tokens to generate")
    ap.add_argument("--prompt-len", type=int, default=64)
    ap.add_argument("--dtype", default="float32", choices=["float32", "bfloat16", "float16"])
    ap.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = ap.parse_args()
    dtype = getattr(torch, args.dtype)
    torch.manual_seed(0)
    if args.model:
        model = AutoModelForCausalLM.from_pretrained(args.model, torch_dtype=dtype)
    else:
        # SmolLM2-135M's shape, fewer layers: 9 query heads, 3 kv heads.
        cfg = LlamaConfig(vocab_size=1000, hidden_size=576, intermediate_size=1536,
                          num_hidden_layers=4, num_attention_heads=9,
                          num_key_value_heads=3, max_position_embeddings=2048)
        model = LlamaForCausalLM(cfg).to(dtype)
    model = model.to(args.device).eval()
    ids = torch.randint(0, model.config.vocab_size, (1, args.prompt_len),
                        device=args.device)

    def run():
        t = time.perf_counter()
        with torch.no_grad():
            logits = model(ids).logits
            out = model.generate(ids, max_new_tokens=args.tokens, do_sample=False)
        return logits, out, time.perf_counter() - t

    model.set_attn_implementation("sdpa")
    want_logits, want_ids, t_sdpa = run()
    attn.hf.use_attn(model, pattern=args.pattern)
    run()  # compiles the kernels (cached on disk afterwards)
    logits, ids_out, t_attn = run()
    err = (logits.float() - want_logits.float()).abs().max().item()
    print(f"pattern {args.pattern}: max |logits - sdpa logits| = {err:.3g} "
          f"(meaningful for 'causal' only)")
    print(f"greedy tokens equal to sdpa's: {torch.equal(ids_out, want_ids)}")
    print(f"prefill + {args.tokens} tokens: sdpa {t_sdpa:.2f} s, attn {t_attn:.2f} s")


if __name__ == "__main__":
    main()
