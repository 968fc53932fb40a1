"""Independent numpy float64 forwards of the seed architectures that
attn-model runs (tools/attn-model/seed_models.py writes their weights), for
the parity tests. Nothing is shared with the runner or the generator: this
file parses the safetensors file itself and computes every position from
the definitions (SPEC.md), with materialised N x N score and decay
matrices instead of kernels, caches or recurrent states.

  transnormer: TransNormerLLM. Per layer: h = srms(x); q, k, u = swish(h
    W_q), swish(h W_k), swish(h W_u); v = h W_v; per head o_t = sum_{j <= t}
    lambda^(t - j) <q_t, k_j> v_j with lambda = exp(-s), s the ALiBi slope
    of the head times (1 - l / (L - 1) + 1e-5); x += (srms(o) * u) W_o
    (srms over all heads); h = srms(x); x += ((h W_1) * (h W_2)) W_3. Then
    srms and the output matrix. srms(x) = x / sqrt(mean(x^2) + eps).
  longnet: RMSNorm (weighted), rotate-half RoPE, softmax attention with the
    dilated multiplicity m(p, j) = sum_k sel_k(p) sel_k(j) [p // w_k ==
    j // w_k] [j <= p], sel_k(t) = ((t mod w_k) mod r_k == o_k(h)), grouped
    offsets o = h // ceil(H / r_k) (or interleaved h mod r_k), SwiGLU. Or,
    with a `mask`, the same blocks under block-causal / sliding-window /
    causal masks.
  landmark: the same blocks over the stream with the landmark token after
    every L - 1 tokens; query p of block b weighs a top-level softmax over
    the landmarks of earlier blocks and its own block's other keys up to p,
    and spreads an earlier block's weight over that block's keys by their
    softmax (Landmark Attention's grouped softmax); positions after the
    prompt keep only the k earlier landmarks of highest score (ties: the
    earlier block). Logits of the caller's tokens only.
  hierarchical: hierarchy h (factor c, its own width, heads and window)
    runs Llama blocks over tokens y_i = W_h concat(e_{ic-c+1}, ..., e_{ic})
    (e_t = 0 for t < 0) at positions i, with a sliding window (0: causal);
    after layer l the finest stream adds M_{h,l} y_{h,l}[p // c] at every
    position p. Computed over the whole sequence at once.
"""
import json
import struct

import numpy as np


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    meta = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, e in header.items():
        assert e["dtype"] == "F32", (name, e["dtype"])
        b, end = e["data_offsets"]
        tensors[name] = np.frombuffer(data[b:end], "<f4").astype(np.float64).reshape(e["shape"])
    return meta, tensors


def alibi(n):
    # ALiBi (Press et al.): for a power of two n, a geometric sequence
    # starting at 2^(-8/n); otherwise the closest power's, then every other
    # one of twice that power's.
    def power_of_two(m):
        start = 2.0 ** (-(2.0 ** -(np.log2(m) - 3)))
        return [start * start ** i for i in range(m)]
    closest = 2 ** int(np.floor(np.log2(n)))
    return np.array(power_of_two(closest) + power_of_two(2 * closest)[0::2][:n - closest])


def swish(x):
    return x * 0.5 * (1 + np.tanh(x / 2))  # x * sigmoid(x), no overflow


class TransNormer:
    def __init__(self, meta, w):
        self.w = w
        self.L = int(meta["n_layers"])
        self.H = int(meta["n_heads"])
        self.D = int(meta["head_dim"])
        self.eps = float(meta["rms_eps"])

    def srms(self, x):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps)

    def logits(self, ids, mask=None, prompt=None):
        w, H, D = self.w, self.H, self.D
        n = len(ids)
        x = w["embed"][np.asarray(ids)]
        dist = np.arange(n)[:, None] - np.arange(n)[None, :]   # t - j
        for l in range(self.L):
            g = lambda name: w[f"layers.{l}.{name}"]
            h = self.srms(x)
            q, k = swish(h @ g("wq").T), swish(h @ g("wk").T)
            v, u = h @ g("wv").T, swish(h @ g("wu").T)
            s = alibi(H) * (1 - l / (self.L - 1) + 1e-5) if self.L > 1 else alibi(H) * (1 + 1e-5)
            o = np.empty_like(v)
            for hd in range(H):
                cols = slice(hd * D, (hd + 1) * D)
                decay = np.where(dist >= 0, np.exp(-s[hd] * np.maximum(dist, 0)), 0.0)
                o[:, cols] = ((q[:, cols] @ k[:, cols].T) * decay) @ v[:, cols]
            x = x + (self.srms(o) * u) @ g("wo").T
            h = self.srms(x)
            x = x + ((h @ g("w1").T) * (h @ g("w2").T)) @ g("w3").T
        out = w.get("output", w["embed"])
        return self.srms(x) @ out.T


class LlamaBlocks:
    """RMSNorm, rotate-half RoPE, softmax attention, SwiGLU; subclasses
    give each head's attention weights P [n, n] from its scores."""

    def __init__(self, meta, w):
        self.w = w
        self.L = int(meta["n_layers"])
        self.H = int(meta["n_heads"])
        self.Hk = int(meta["n_kv_heads"])
        self.D = int(meta["head_dim"])
        self.eps = float(meta["rms_eps"])
        self.theta = float(meta["rope_theta"])
        self.prefix = ""

    def norm(self, x, g):
        return x / np.sqrt((x * x).mean(-1, keepdims=True) + self.eps) * g

    def rope(self, x):
        # x: [heads, n, D]; the two halves rotate by t * theta^(-2i/D).
        n, half = x.shape[1], self.D // 2
        ang = np.arange(n)[:, None] * self.theta ** (-2.0 * np.arange(half) / self.D)
        c, s = np.cos(ang), np.sin(ang)
        a, b = x[..., :half], x[..., half:]
        return np.concatenate([a * c - b * s, b * c + a * s], -1)

    def forward(self, ids, weights):
        """Logits of every position; weights(s, head) -> P for the scores s."""
        x = self.w["embed"][np.asarray(ids)]
        for l in range(self.L):
            x = self.layer(l, x, weights)
        out = self.w.get("output", self.w["embed"])
        return self.norm(x, self.w["output_norm"]) @ out.T

    def layer(self, l, x, weights):
        """Block l on the stream x [n, d]."""
        w, H, Hk, D = self.w, self.H, self.Hk, self.D
        n = len(x)
        g = lambda name: w[f"{self.prefix}layers.{l}.{name}"]
        h = self.norm(x, g("attn_norm"))
        q = self.rope((h @ g("wq").T).reshape(n, H, D).transpose(1, 0, 2))
        k = self.rope((h @ g("wk").T).reshape(n, Hk, D).transpose(1, 0, 2))
        v = (h @ g("wv").T).reshape(n, Hk, D).transpose(1, 0, 2)
        o = np.zeros((n, H * D))
        for hd in range(H):
            kv = hd // (H // Hk)
            s = q[hd] @ k[kv].T / np.sqrt(D)
            o[:, hd * D:(hd + 1) * D] = weights(s, hd) @ v[kv]
        x = x + o @ g("wo").T
        h = self.norm(x, g("ffn_norm"))
        a, b = h @ g("w_gate").T, h @ g("w_up").T
        x = x + (swish(a) * b) @ g("w_down").T
        return x


def window_weights(s, window):
    """Softmax weights of scores s [n, n] under a causal mask, or a sliding
    window of `window` (0 <= p - j <= window) when it is not 0."""
    n = len(s)
    p, j = np.arange(n)[:, None], np.arange(n)[None, :]
    allowed = (j <= p) & ((p - j <= window) if window else True)
    s = np.where(allowed, s, -np.inf)
    e = np.exp(s - s.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


class Hierarchical(LlamaBlocks):
    def __init__(self, meta, w):
        super().__init__(meta, w)
        lists = {k: json.loads(meta[k]) for k in ("hierarchies", "window_sizes", "hier_d_model",
                                                   "hier_n_heads", "hier_head_dim")}
        self.levels = []
        for h, c in enumerate(lists["hierarchies"]):
            level = LlamaBlocks(meta, w)
            level.prefix = f"h{h}." if h else ""
            level.H = level.Hk = lists["hier_n_heads"][h]
            level.D = lists["hier_head_dim"][h]
            level.factor, level.window = c, lists["window_sizes"][h]
            self.levels.append(level)

    def logits(self, ids, mask=None, prompt=None):
        e = self.w["embed"][np.asarray(ids)]
        n, d0 = e.shape
        fine, coarse = self.levels[0], self.levels[1:]
        ys = []
        for lv in coarse:
            c = lv.factor
            padded = np.concatenate([np.zeros((c - 1, d0)), e])
            m = (n - 1) // c + 1          # tokens i with i c <= n - 1
            spans = np.stack([padded[i * c:i * c + c].reshape(-1) for i in range(m)])
            ys.append(spans @ self.w[lv.prefix + "compress"].T)
        x = e
        for l in range(self.L):
            x = fine.layer(l, x, lambda s, hd: window_weights(s, fine.window))
            for k, lv in enumerate(coarse):
                ys[k] = lv.layer(l, ys[k], lambda s, hd, lv=lv: window_weights(s, lv.window))
                up = ys[k][np.arange(n) // lv.factor]
                x = x + up @ self.w[f"{lv.prefix}merge.{l}"].T
        out = self.w.get("output", self.w["embed"])
        return self.norm(x, self.w["output_norm"]) @ out.T


class LongNet(LlamaBlocks):
    def __init__(self, meta, w):
        super().__init__(meta, w)
        self.segments = json.loads(meta["segment_lengths"])
        self.rates = json.loads(meta["dilated_ratios"])
        self.offsets = meta["dilated_offsets"]

    def multiplicity(self, n, head, mask):
        """m(p, j) [n, n] for query head `head`."""
        p, j = np.arange(n)[:, None], np.arange(n)[None, :]
        if mask is not None:
            kind, size = mask
            if kind == "block_causal":
                return ((j <= p) & (j // size >= p // size - 1)).astype(float)
            if kind == "sliding_window":
                return ((j <= p) & (p - j <= size)).astype(float)
            return (j <= p).astype(float)
        m = np.zeros((n, n))
        for w, r in zip(self.segments, self.rates):
            o = head // -(-self.H // r) if self.offsets == "grouped" else head % r
            sel = (np.arange(n) % w) % r == o
            m += sel[:, None] * sel[None, :] * (p // w == j // w) * (j <= p)
        return m

    def logits(self, ids, mask=None, prompt=None):
        n = len(ids)

        def weights(s, head):
            m = self.multiplicity(n, head, mask)
            s = np.where(m > 0, s, -np.inf)
            top = s.max(-1, keepdims=True)
            e = m * np.exp(s - np.where(np.isfinite(top), top, 0))
            den = e.sum(-1, keepdims=True)
            return np.where(den > 0, e / np.where(den > 0, den, 1), 0)
        return self.forward(ids, weights)


class Landmark(LlamaBlocks):
    def __init__(self, meta, w):
        super().__init__(meta, w)
        self.block = int(meta["landmark_block"])
        self.topk = int(meta["landmark_topk"])
        self.token = int(meta["landmark_token"])

    def stream(self, ids):
        """The stream with landmarks, and where the caller's tokens are."""
        out, rows = [], []
        for t in ids:
            if len(out) % self.block == self.block - 1:
                out.append(self.token)
            rows.append(len(out))
            out.append(t)
        return out, rows

    def row_weights(self, s, p, topk):
        L = self.block
        b = p // L
        own = [j for j in range(b * L, p + 1) if j % L != L - 1]
        marks = [c * L + L - 1 for c in range(b)]
        if topk and len(marks) > topk:
            order = np.argsort(-s[marks], kind="stable")[:topk]
            marks = [marks[i] for i in sorted(order)]
        members = marks + own
        e = np.exp(s[members] - s[members].max())
        top = dict(zip(members, e / e.sum()))
        w = np.zeros(len(s))
        for j in own:
            w[j] = top[j]
        for m in marks:
            keys = np.arange(m - L + 1, m)
            e = np.exp(s[keys] - s[keys].max())
            w[keys] = top[m] * e / e.sum()
        return w

    def logits(self, ids, mask=None, prompt=None):
        """Logits of the caller's tokens `ids`, the first `prompt` of them
        run as the prefill (grouped softmax over every earlier block), the
        rest as decode steps (top-k retrieval)."""
        stream, rows = self.stream(ids)
        n = len(stream)
        retrieve_from = rows[prompt - 1] + 1 if prompt else n

        def weights(s, head):
            return np.stack([self.row_weights(s[p], p, self.topk if p >= retrieve_from else 0)
                             for p in range(n)])
        return self.forward(stream, weights)[rows]


def load(path):
    meta, w = read_safetensors(path)
    arch = meta["architecture"]
    return {"transnormer": TransNormer, "longnet": LongNet, "landmark": Landmark,
            "hierarchical": Hierarchical}[arch](meta, w)
