#!/usr/bin/env python3
"""Writes a seed architecture as an attn-model weights file with seeded
synthetic weights (no trained weights of these models are reachable): a
safetensors file (written here with numpy: 8-byte header length, JSON
header, float32 data) whose metadata names the architecture and its shape.

  transnormer  TransNormerLLM: lightning attention with per-layer decayed
               ALiBi slopes, swish q/k and output gate, SRMSNorm, simple GLU
               (3 layers, d 64, 4 heads of 16, ffn 128, vocab 256)
  longnet      LongNet decoder: dilated attention, torchscale's schedule
               (segment lengths [16, 32, 64], dilation ratios [1, 2, 4],
               grouped head offsets), RMSNorm, RoPE, SwiGLU blocks
               (2 layers, d 64, 4 heads of 16, ffn 128, vocab 256)
  landmark     Landmark LLaMA: RMSNorm, RoPE, SwiGLU blocks over a stream
               with the landmark token (id 255) after every block of
               --landmark-block - 1 tokens (default 50 + 1, the paper's),
               grouped softmax in the prefill, top-k retrieval (--topk,
               default 2) in decode steps (2 layers, d 64, 4 heads of 16)
  hierarchical the simple hierarchical transformer (seed 002): hierarchies
               1, 2 and 8 (token spans compressed with the hourglass shift),
               sliding windows 32 and 64 at the fine levels and causal at
               the coarsest, widths 64/64/128, head dims 16/32/64, the
               coarse streams merged into the finest after every layer
               (2 layers, vocab 256)

Each tensor of a layer is drawn from N(0, 1/fan_in) by numpy's PCG64 from
--seed, so a seed gives the same file on every machine. docs/model.md says
what each model computes.

usage: seed_models.py --arch transnormer|longnet|landmark|hierarchical [--seed S] [options] --out FILE
"""
import argparse
import json
import os
import struct
import sys

import numpy as np

COMMON = {"vocab_size": 256, "d_model": 64, "n_heads": 4, "head_dim": 16,
          "ffn_dim": 128, "rms_eps": 1e-6, "bos_token_id": 1, "eos_token_id": 2}


def transnormer(rng, args):
    cfg = dict(COMMON, architecture="transnormer", n_layers=3, context_length=8192)
    cfg["head_dim"] = args.head_dim or cfg["head_dim"]
    d, f, qd = cfg["d_model"], cfg["ffn_dim"], cfg["n_heads"] * cfg["head_dim"]
    t = {}
    for l in range(cfg["n_layers"]):
        p = f"layers.{l}."
        for name, shape in [("wq", (qd, d)), ("wk", (qd, d)), ("wv", (qd, d)),
                            ("wu", (qd, d)), ("wo", (d, qd)), ("w1", (f, d)),
                            ("w2", (f, d)), ("w3", (d, f))]:
            t[p + name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return cfg, t


def longnet(rng, args):
    cfg = dict(COMMON, architecture="longnet", n_layers=2, context_length=4096,
               n_kv_heads=args.kv_heads or COMMON["n_heads"], rope="rotate_half",
               rope_theta=10000.0, segment_lengths="[16, 32, 64]",
               dilated_ratios="[1, 2, 4]", dilated_offsets="grouped")
    return cfg, llama_blocks(rng, cfg)


def landmark(rng, args):
    cfg = dict(COMMON, architecture="landmark", n_layers=2, context_length=4096,
               n_kv_heads=args.kv_heads or COMMON["n_heads"], rope="rotate_half",
               rope_theta=10000.0, landmark_block=args.landmark_block,
               landmark_topk=args.topk, landmark_token=COMMON["vocab_size"] - 1)
    return cfg, llama_blocks(rng, cfg)


def hierarchical(rng, args):
    factors, dims, heads, head_dims, ffns = [1, 2, 8], [64, 64, 128], [4, 2, 2], [16, 32, 64], [128, 128, 256]
    text = lambda v: "[" + ", ".join(map(str, v)) + "]"
    cfg = dict(COMMON, architecture="hierarchical", n_layers=2, context_length=4096,
               n_kv_heads=COMMON["n_heads"], rope="rotate_half", rope_theta=10000.0,
               hierarchies=text(factors), window_sizes="[32, 64, 0]",
               hier_d_model=text(dims), hier_n_heads=text(heads),
               hier_head_dim=text(head_dims), hier_ffn_dim=text(ffns))
    t = llama_blocks(rng, cfg)
    d0 = cfg["d_model"]
    for h in range(1, len(factors)):
        shape = dict(d_model=dims[h], n_heads=heads[h], n_kv_heads=heads[h],
                     head_dim=head_dims[h], ffn_dim=ffns[h], n_layers=cfg["n_layers"])
        p = f"h{h}."
        t[p + "compress"] = rng.standard_normal((dims[h], factors[h] * d0)) / np.sqrt(factors[h] * d0)
        t.update(llama_blocks(rng, shape, p, final_norm=False))
        for l in range(cfg["n_layers"]):
            # Small merges: the coarse streams inform the fine one.
            t[f"{p}merge.{l}"] = 0.5 * rng.standard_normal((d0, dims[h])) / np.sqrt(dims[h])
    return cfg, t


def llama_blocks(rng, cfg, prefix="", final_norm=True):
    d, f = cfg["d_model"], cfg["ffn_dim"]
    qd, kvd = cfg["n_heads"] * cfg["head_dim"], cfg["n_kv_heads"] * cfg["head_dim"]
    t = {"output_norm": 1 + 0.1 * rng.standard_normal(d)} if final_norm else {}
    for l in range(cfg["n_layers"]):
        p = f"{prefix}layers.{l}."
        t[p + "attn_norm"] = 1 + 0.1 * rng.standard_normal(d)
        t[p + "ffn_norm"] = 1 + 0.1 * rng.standard_normal(d)
        for name, shape in [("wq", (qd, d)), ("wk", (kvd, d)), ("wv", (kvd, d)),
                            ("wo", (d, qd)), ("w_gate", (f, d)), ("w_up", (f, d)),
                            ("w_down", (d, f))]:
            t[p + name] = rng.standard_normal(shape) / np.sqrt(shape[1])
    return t


ARCHS = {"transnormer": transnormer, "longnet": longnet, "landmark": landmark,
         "hierarchical": hierarchical}


def write_safetensors(path, tensors, meta):
    header, blobs, off = {}, [], 0
    for name, a in tensors.items():
        b = np.ascontiguousarray(a, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(a.shape),
                        "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    header["__metadata__"] = meta
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))
    os.replace(tmp, path)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--arch", choices=sorted(ARCHS), required=True)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--kv-heads", type=int,
                   help="longnet, landmark: KV heads (GQA; default: n_heads)")
    p.add_argument("--landmark-block", type=int, default=51,
                   help="landmark: block length with its landmark (default 51)")
    p.add_argument("--topk", type=int, default=2,
                   help="landmark: blocks retrieved per decode step (default 2)")
    p.add_argument("--head-dim", type=int,
                   help="transnormer: the heads' dimension (default 16; the "
                   "GPU's lightning kernels take multiples of 64)")
    p.add_argument("--out", required=True)
    a = p.parse_args()
    rng = np.random.default_rng(a.seed)
    cfg, t = ARCHS[a.arch](rng, a)
    d, v = cfg["d_model"], cfg["vocab_size"]
    # The embedding at unit scale; an untied output matrix whose logits
    # have unit spread, so that greedy choices are not near-ties.
    t["embed"] = rng.standard_normal((v, d))
    t["output"] = rng.standard_normal((v, d)) / np.sqrt(d)
    if cfg["n_heads"] % cfg.get("n_kv_heads", cfg["n_heads"]):
        sys.exit(f"seed_models: {cfg['n_heads']} heads over {cfg['n_kv_heads']} KV heads")
    meta = {k: repr(x) if isinstance(x, float) else str(x) for k, x in cfg.items()}
    meta.update({"format": "attn-model-seed-1", "seed": str(a.seed)})
    write_safetensors(a.out, {k: x.astype(np.float32) for k, x in t.items()}, meta)
    print(f"seed_models: {a.arch} (seed {a.seed}, {cfg['n_layers']} layers, d={d}, "
          f"{len(t)} tensors) -> {a.out}")


if __name__ == "__main__":
    main()
