"""Float64 reference of every attention pattern of /work/shared/SPEC.md (numpy only).

Written from SPEC.md alone, independently of the compiler, so that kernels and
the tools' own checks can be tested against it. Dense Nq x Nk matrices are used
freely: test sizes are small. FLOP counting (useful_flops) is closed-form and
never builds an Nq x Nk matrix, so it also serves benchmarks at large N.

API (every array is numpy; inputs may be float16/float32/float64, results float64):
  pattern_from_text(s)                      -> pattern dict, from `#attn.*` syntax
  mask_matrix(pattern, Nq, Nk, h, H)        -> int64 [Nq, Nk] multiplicities m(p, j)
  attention(q, k, v, pattern, scale=None)   -> (o [B,H,Nq,Dv], lse [B,H,Nq])
  lightning(q, k, v, slopes, state_in, scale) -> (o [B,H,N,Dv], state_out [B,H,D,Dv])
  alibi_slopes(H)                           -> float64 [H]
  merge(o_a, lse_a, o_b, lse_b)             -> (o, lse)
  useful_flops(pattern, B, H, Nq, Nk, D, Dv), lightning_flops(B, H, N, D, Dv, block)
  rel_error(got, want)                      -> (max_abs, rel)

Pattern dicts:
  {"kind": "full"}, {"kind": "causal"}, {"kind": "sliding_window", "window": W},
  {"kind": "block_causal", "block": b},
  {"kind": "dilated", "segments": [...], "rates": [...], "causal": True,
   "offsets": "interleaved" | "grouped"},
  {"kind": "landmark", "block": L, "topk": 0}          (topk 0 = all earlier blocks)
"""
import math
import re

import numpy as np

__all__ = [
    "pattern_from_text", "normalize_pattern", "mask_matrix", "attention",
    "alibi_slopes", "lightning", "merge", "useful_flops", "lightning_flops",
    "rel_error",
]

KINDS = ("full", "causal", "sliding_window", "block_causal", "dilated", "landmark")


# --------------------------------------------------------------------------
# Patterns: parsing and validation
# --------------------------------------------------------------------------

def normalize_pattern(pattern):
    """Returns a copy of `pattern` with defaults filled in; raises ValueError on
    configurations SPEC rejects (e.g. dilated with w_k mod r_k != 0)."""
    if not isinstance(pattern, dict) or pattern.get("kind") not in KINDS:
        raise ValueError(f"unknown pattern {pattern!r}")
    p = dict(pattern)
    kind = p["kind"]
    if kind == "sliding_window":
        if int(p["window"]) < 0:
            raise ValueError("sliding_window: window must be >= 0")
        p["window"] = int(p["window"])
    elif kind == "block_causal":
        if int(p["block"]) < 1:
            raise ValueError("block_causal: block must be >= 1")
        p["block"] = int(p["block"])
    elif kind == "dilated":
        segs = [int(w) for w in p["segments"]]
        rates = [int(r) for r in p["rates"]]
        if not segs or len(segs) != len(rates):
            raise ValueError("dilated: segments and rates must be non-empty and "
                             "of equal length")
        for w, r in zip(segs, rates):
            if w < 1 or r < 1:
                raise ValueError("dilated: segments and rates must be >= 1")
            if w % r != 0:
                raise ValueError(f"dilated: segment {w} is not a multiple of rate {r}")
        p["segments"], p["rates"] = segs, rates
        p["causal"] = bool(p.get("causal", True))
        p["offsets"] = p.get("offsets", "interleaved")
        if p["offsets"] not in ("interleaved", "grouped"):
            raise ValueError(f"dilated: unknown offset mode {p['offsets']!r}")
    elif kind == "landmark":
        # Block 1 would make every key a landmark (no value is ever read).
        if int(p["block"]) < 2:
            raise ValueError("landmark: block must be >= 2")
        p["block"] = int(p["block"])
        p["topk"] = int(p.get("topk", 0))
        if p["topk"] < 0:
            raise ValueError("landmark: topk must be >= 0")
    return p


def _parse_value(text):
    text = text.strip()
    if text.startswith("["):
        if not text.endswith("]"):
            raise ValueError(f"bad list {text!r}")
        inner = text[1:-1].strip()
        return [int(x) for x in inner.split(",")] if inner else []
    if re.fullmatch(r"-?\d+", text):
        return int(text)
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"[A-Za-z_]\w*", text):
        return text
    raise ValueError(f"bad attribute value {text!r}")


def _split_top_level(body):
    """Splits `a = 1, b = [2, 3]` at commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in body:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    if cur.strip():
        parts.append(cur)
    return parts


# Parameters each attribute accepts: name -> (required?).
_PARAMS = {
    "full": {},
    "causal": {},
    "sliding_window": {"window": True},
    "block_causal": {"block": True},
    "dilated": {"segments": True, "rates": True, "causal": False, "offsets": False},
    "landmark": {"block": True, "topk": False},
}


def pattern_from_text(s):
    """Parses the MLIR attribute syntax, e.g. `#attn.sliding_window<window = 16>` or
    `#attn.dilated<segments = [4, 8], rates = [1, 2], causal = false, offsets = grouped>`."""
    m = re.fullmatch(r"\s*#attn\.(\w+)\s*(?:<(.*)>)?\s*", s, re.S)
    if not m or m.group(1) not in _PARAMS:
        raise ValueError(f"not an attention pattern: {s!r}")
    kind, body = m.group(1), m.group(2)
    allowed = _PARAMS[kind]
    pattern = {"kind": kind}
    if body is not None:
        for item in _split_top_level(body):
            if "=" not in item:
                raise ValueError(f"{kind}: expected `key = value`, got {item.strip()!r}")
            key, value = (x.strip() for x in item.split("=", 1))
            if key not in allowed or key in pattern:
                raise ValueError(f"{kind}: unexpected or repeated parameter {key!r}")
            pattern[key] = _parse_value(value)
    missing = [k for k, req in allowed.items() if req and k not in pattern]
    if missing:
        raise ValueError(f"{kind}: missing parameter(s) {missing}")
    return normalize_pattern(pattern)


# --------------------------------------------------------------------------
# Multiplicities
# --------------------------------------------------------------------------

def dilated_offset(pattern, k, h, H):
    """Offset o of query head h (of H) for dilated pattern k (SPEC: interleaved
    o = h mod r_k; grouped o = floor(h / ceil(H / r_k)))."""
    r = pattern["rates"][k]
    if pattern.get("offsets", "interleaved") == "grouped":
        return h // (-(-H // r))
    return h % r


def mask_matrix(pattern, Nq, Nk, h=0, H=1):
    """int64 [Nq, Nk]: m(p, j) for query row i at p = Nk - Nq + i (bottom-right).

    For landmark (not a multiplicity pattern) this is the 0/1 set of keys whose
    score query i computes: every key of every earlier block (landmarks and the
    block-local softmax) plus the non-landmark keys j <= p of its own block.
    With topk > 0 that set depends on the data, so it is refused here."""
    pattern = normalize_pattern(pattern)
    kind = pattern["kind"]
    p = (Nk - Nq + np.arange(Nq, dtype=np.int64))[:, None]
    j = np.arange(Nk, dtype=np.int64)[None, :]
    if kind == "full":
        m = np.ones((Nq, Nk), dtype=bool)
    elif kind == "causal":
        m = j <= p
    elif kind == "sliding_window":
        m = (p - j >= 0) & (p - j <= pattern["window"])
    elif kind == "block_causal":
        b = pattern["block"]
        m = (j <= p) & (j // b >= p // b - 1)
    elif kind == "dilated":
        if Nq != Nk:
            raise ValueError("dilated attention requires Nq == Nk")
        t = np.arange(Nk, dtype=np.int64)
        out = np.zeros((Nq, Nk), dtype=np.int64)
        for k, (w, r) in enumerate(zip(pattern["segments"], pattern["rates"])):
            o = dilated_offset(pattern, k, h, H)
            sel = (t % w) % r == o
            seg = t // w
            allowed = sel[:, None] & sel[None, :] & (seg[:, None] == seg[None, :])
            if pattern["causal"]:
                allowed &= t[None, :] <= t[:, None]
            out += allowed
        return out
    else:  # landmark
        if pattern["topk"] > 0:
            raise ValueError("landmark top-k: the keys read depend on the scores; "
                             "use attention() (or useful_flops for counts)")
        L = pattern["block"]
        own = (j // L == p // L) & (j <= p) & (j % L != L - 1)
        earlier = j // L < p // L
        m = (own | earlier) & (p >= 0)
    return m.astype(np.int64)


# --------------------------------------------------------------------------
# Softmax attention
# --------------------------------------------------------------------------

def _check_shapes(q, k, v):
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError("q, k, v must be [B, H, N, D]")
    B, H, _, D = q.shape
    Bk, Hk, Nk, Dk = k.shape
    if Bk != B or v.shape[0] != B or v.shape[1] != Hk or v.shape[2] != Nk or Dk != D:
        raise ValueError(f"shape mismatch q{q.shape} k{k.shape} v{v.shape}")
    if Hk < 1 or H % Hk != 0:
        raise ValueError(f"H = {H} is not a multiple of Hk = {Hk}")
    return B, H, Hk, q.shape[2], Nk, D, v.shape[3]


def _masked_softmax_attention(s, m, v):
    """s [B, Nq, Nk] scores, m [Nq, Nk] multiplicities, v [B, Nk, Dv] ->
    (o [B, Nq, Dv], lse [B, Nq]); empty rows give 0 and -inf."""
    allowed = np.broadcast_to(m > 0, s.shape)
    mx = np.max(np.where(allowed, s, -np.inf), axis=-1, keepdims=True)
    mx_safe = np.where(np.isfinite(mx), mx, 0.0)
    e = np.where(allowed, m * np.exp(np.where(allowed, s, 0.0) - mx_safe), 0.0)
    den = e.sum(axis=-1)
    empty = den == 0
    den_safe = np.where(empty, 1.0, den)
    o = (e @ v) / den_safe[..., None]
    with np.errstate(divide="ignore"):
        lse = np.where(empty, -np.inf, mx_safe[..., 0] + np.log(den_safe))
    o[empty] = 0.0
    return o, lse


def _landmark_attention(s, v, pattern, Nq, Nk):
    """Grouped softmax of SPEC's landmark section for one head.
    s [B, Nq, Nk], v [B, Nk, Dv] -> (o [B, Nq, Dv], top-level lse [B, Nq])."""
    L, topk = pattern["block"], pattern["topk"]
    Bn = s.shape[0]
    p = (Nk - Nq + np.arange(Nq, dtype=np.int64))[:, None]      # [Nq, 1]
    j = np.arange(Nk, dtype=np.int64)[None, :]                  # [1, Nk]
    blk_q, blk_k = p // L, j // L
    is_lm = j % L == L - 1
    valid = p >= 0
    own = (blk_k == blk_q) & (j <= p) & ~is_lm & valid          # [Nq, Nk]
    earlier_lm = is_lm & (blk_k < blk_q) & valid                # [Nq, Nk]
    earlier_lm = np.broadcast_to(earlier_lm, s.shape)
    if topk > 0:
        # Keep the k earlier landmarks with the highest score; ties go to the
        # earlier block. Stable sort of -score puts equal scores in key order.
        key = np.where(earlier_lm, -s, np.inf)
        order = np.argsort(key, axis=-1, kind="stable")
        rank = np.empty_like(order)                             # inverse permutation
        np.put_along_axis(rank, order,
                          np.broadcast_to(np.arange(Nk), order.shape), axis=-1)
        earlier_lm = earlier_lm & (rank < topk)
    top = np.broadcast_to(own, s.shape) | earlier_lm            # group T
    # P_top: softmax over T (empty T: no weights, lse = -inf).
    mx = np.max(np.where(top, s, -np.inf), axis=-1, keepdims=True)
    mx_safe = np.where(np.isfinite(mx), mx, 0.0)
    e_top = np.where(top, np.exp(np.where(top, s, 0.0) - mx_safe), 0.0)
    den = e_top.sum(axis=-1, keepdims=True)
    empty = den[..., 0] == 0
    p_top = e_top / np.where(empty[..., None], 1.0, den)
    with np.errstate(divide="ignore"):
        lse = np.where(empty, -np.inf,
                       mx_safe[..., 0] + np.log(np.where(empty, 1.0, den[..., 0])))

    # Weights: own-block keys get P_top; non-landmark keys of an earlier block b'
    # get P_top(landmark of b') times the block-local softmax over b'. Every
    # earlier block is complete (it lies before p <= Nk - 1).
    w = np.where(np.broadcast_to(own, s.shape), p_top, 0.0)
    nfull = Nk // L
    if nfull > 0:
        sb = s[..., :nfull * L].reshape(Bn, Nq, nfull, L)[..., :L - 1]
        local = np.exp(sb - sb.max(axis=-1, keepdims=True))
        local /= local.sum(axis=-1, keepdims=True)              # [B, Nq, nfull, L-1]
        lm_prob = p_top[..., L - 1:nfull * L:L]                 # [B, Nq, nfull]
        # p_top of a landmark is 0 unless it is in T, i.e. an earlier (chosen) block.
        wb = np.zeros((Bn, Nq, nfull, L))
        wb[..., :L - 1] = lm_prob[..., None] * local
        w[..., :nfull * L] += wb.reshape(Bn, Nq, nfull * L)
    o = w @ v
    return o, lse


def attention(q, k, v, pattern, scale=None):
    """Softmax-family attention (full, causal, sliding_window, block_causal,
    dilated, landmark) in float64. q [B,H,Nq,D], k [B,Hk,Nk,D], v [B,Hk,Nk,Dv].
    Returns (o [B,H,Nq,Dv], lse [B,H,Nq]); rows without keys give o = 0 and
    lse = -inf. For landmark, lse is the top-level LSE. Scale defaults to 1/sqrt(D)."""
    pattern = normalize_pattern(pattern)
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Hk, Nq, Nk, D, Dv = _check_shapes(q, k, v)
    c = 1.0 / math.sqrt(D) if scale is None else float(scale)
    group = H // Hk
    o = np.zeros((B, H, Nq, Dv))
    lse = np.full((B, H, Nq), -np.inf)
    per_head = pattern["kind"] == "dilated"   # only dilated masks depend on h
    m = None
    for h in range(H):
        kv = h // group
        s = c * (q[:, h] @ np.swapaxes(k[:, kv], -1, -2))       # [B, Nq, Nk]
        if pattern["kind"] == "landmark":
            o[:, h], lse[:, h] = _landmark_attention(s, v[:, kv], pattern, Nq, Nk)
            continue
        if m is None or per_head:
            m = mask_matrix(pattern, Nq, Nk, h, H)
        o[:, h], lse[:, h] = _masked_softmax_attention(s, m, v[:, kv])
    return o, lse


def paged_attention(q, k_cache, v_cache, block_table, kv_lens, pattern,
                    scale=None):
    """Attention over a paged cache: k_cache [P, S, Hk, D], v_cache
    [P, S, Hk, Dv], block_table [B, M], kv_lens [B]. Sequence b's keys are
    rows j % S of pages block_table[b, j // S] for j < kv_lens[b], and it
    attends as attention() over them (no keys: o = 0, lse = -inf)."""
    q = np.asarray(q, dtype=np.float64)
    kc = np.asarray(k_cache, dtype=np.float64)
    vc = np.asarray(v_cache, dtype=np.float64)
    B, H, Nq, _ = q.shape
    S, Dv = kc.shape[1], vc.shape[3]
    o = np.zeros((B, H, Nq, Dv))
    lse = np.full((B, H, Nq), -np.inf)
    for b in range(B):
        n = int(kv_lens[b])
        if n == 0:
            continue
        j = np.arange(n)
        pages = np.asarray(block_table[b])[j // S]
        k = kc[pages, j % S].transpose(1, 0, 2)[None]   # [1, Hk, n, D]
        v = vc[pages, j % S].transpose(1, 0, 2)[None]
        o[b:b + 1], lse[b:b + 1] = attention(q[b:b + 1], k, v, pattern, scale)
    return o, lse


# --------------------------------------------------------------------------
# Lightning attention (linear attention with decay)
# --------------------------------------------------------------------------

def alibi_slopes(H):
    """ALiBi slopes s_h: 2^(-8(h+1)/H) for H a power of two; otherwise the first
    2^floor(log2 H) of those, then the even-indexed slopes of the 2*2^floor(log2 H)
    sequence."""
    def pow2(n):
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]
    if H < 1:
        raise ValueError("H must be >= 1")
    n = 1 << (H.bit_length() - 1)
    if n == H:
        return np.array(pow2(H))
    return np.array(pow2(n) + pow2(2 * n)[0::2][:H - n])


def lightning(q, k, v, slopes=None, state_in=None, scale=1.0):
    """Lightning attention by its definition, in float64:
        o_t = sum_{j <= p_t} lam^(p_t - j) <c q_t, k_j> v_j  +  lam^(p_t + 1) (c q_t) . KV0,
    lam_h = exp(-slopes[h]), p_t = Nk - Nq + t (Nq <= Nk), KV0 = state_in [B,H,D,Dv]
    (zero if None). Equivalent to the recurrence KV_t = lam KV_{t-1} + k_t^T v_t,
    o_t = c q_t . KV_t. Returns (o [B,H,Nq,Dv], state_out [B,H,D,Dv]), the state
    after every key. Decay powers are only ever taken with exponents >= 0."""
    q, k, v = (np.asarray(x, dtype=np.float64) for x in (q, k, v))
    B, H, Hk, Nq, Nk, D, Dv = _check_shapes(q, k, v)
    if Nq > Nk:
        raise ValueError("lightning: Nq must be <= Nk")
    slopes = alibi_slopes(H) if slopes is None else np.asarray(slopes, dtype=np.float64)
    if slopes.shape != (H,):
        raise ValueError(f"slopes must have shape ({H},)")
    kv0 = (np.zeros((B, H, D, Dv)) if state_in is None
           else np.asarray(state_in, dtype=np.float64))
    if kv0.shape != (B, H, D, Dv):
        raise ValueError(f"state_in must have shape {(B, H, D, Dv)}")
    group = H // Hk
    p = Nk - Nq + np.arange(Nq)                                  # >= 0
    j = np.arange(Nk)
    dist = p[:, None] - j[None, :]                               # p - j
    o = np.zeros((B, H, Nq, Dv))
    state = np.zeros((B, H, D, Dv))
    for h in range(H):
        kv = h // group
        s = slopes[h]
        decay = np.where(dist >= 0, np.exp(-s * np.maximum(dist, 0)), 0.0)
        qh = scale * q[:, h]
        scores = (qh @ np.swapaxes(k[:, kv], -1, -2)) * decay   # [B, Nq, Nk]
        o[:, h] = scores @ v[:, kv]
        o[:, h] += np.exp(-s * (p + 1))[None, :, None] * (qh @ kv0[:, h])
        key_decay = np.exp(-s * (Nk - 1 - j))                    # lam^(Nk-1-j)
        state[:, h] = (np.exp(-s * Nk) * kv0[:, h]
                       + np.swapaxes(k[:, kv] * key_decay[None, :, None], -1, -2)
                       @ v[:, kv])
    return o, state


# --------------------------------------------------------------------------
# Merging partial results
# --------------------------------------------------------------------------

def merge(o_a, lse_a, o_b, lse_b):
    """Combines partial results over disjoint key (multi)sets:
    lse = ln(e^lse_a + e^lse_b), o = e^(lse_a - lse) o_a + e^(lse_b - lse) o_b;
    a side with lse = -inf contributes nothing; both -inf give o = 0, lse = -inf."""
    o_a, o_b = np.asarray(o_a, np.float64), np.asarray(o_b, np.float64)
    lse_a, lse_b = np.asarray(lse_a, np.float64), np.asarray(lse_b, np.float64)
    lse = np.logaddexp(lse_a, lse_b)
    finite = np.isfinite(lse)
    safe = np.where(finite, lse, 0.0)
    wa = np.where(np.isneginf(lse_a) | ~finite, 0.0,
                  np.exp(np.where(np.isneginf(lse_a), 0.0, lse_a) - safe))
    wb = np.where(np.isneginf(lse_b) | ~finite, 0.0,
                  np.exp(np.where(np.isneginf(lse_b), 0.0, lse_b) - safe))
    # Zero sides are masked with where() so that a NaN-free empty side never
    # meets 0 * inf.
    o = (np.where(wa[..., None] > 0, wa[..., None] * o_a, 0.0)
         + np.where(wb[..., None] > 0, wb[..., None] * o_b, 0.0))
    return o, lse


# --------------------------------------------------------------------------
# FLOP counting
# --------------------------------------------------------------------------

def _tri(n):
    """1 + 2 + ... + n (0 for n <= 0)."""
    return n * (n + 1) // 2 if n > 0 else 0


def _sum_linear(lo, hi):
    """sum_{p=lo}^{hi} (p + 1) for 0 <= lo, empty when hi < lo."""
    return _tri(hi + 1) - _tri(lo) if hi >= lo else 0


def _prefix_window(P, W):
    """sum_{p=0}^{P-1} (min(p, W) + 1)."""
    if P <= W + 1:
        return _tri(P)
    return _tri(W + 1) + (P - W - 1) * (W + 1)


def _prefix_floor(P, b):
    """sum_{p=0}^{P-1} floor(p / b)."""
    if P <= 0:
        return 0
    qn, r = divmod(P, b)
    return b * qn * (qn - 1) // 2 + qn * r


def _prefix_block_causal(P, b):
    """sum_{p=0}^{P-1} #{j <= p : floor(j/b) >= floor(p/b) - 1}
    = sum (p + 1) - b * sum max(0, floor(p/b) - 1), and
    sum_{p<P} max(0, floor(p/b) - 1) = sum_{p' < P-b} floor(p'/b)."""
    return _tri(P) - b * _prefix_floor(P - b, b)


def _landmark_pairs(pattern, Nq, Nk):
    """Pairs whose score each query computes: own-block non-landmark keys j <= p,
    every earlier landmark, and the non-landmark keys of the (chosen) earlier
    blocks. O(Nq) time in chunks, no Nq x Nk matrix."""
    L, topk = pattern["block"], pattern["topk"]
    total = 0
    first = max(0, Nk - Nq)                     # rows with p < 0 read nothing
    chunk = 1 << 20
    for start in range(first, Nk, chunk):
        p = np.arange(start, min(Nk, start + chunk), dtype=np.int64)
        c = p // L
        own = p - c * L + 1 - (p % L == L - 1)
        earlier = c * L if topk == 0 else c + np.minimum(c, topk) * (L - 1)
        total += int(own.sum()) + int(earlier.sum())
    return total


def allowed_pairs(pattern, Nq, Nk, H=1):
    """Sum over heads 0..H-1 of sum_{i,j} m(p, j) (multiplicity counted), without
    building the Nq x Nk matrix. For landmark: the pairs whose score is computed."""
    pattern = normalize_pattern(pattern)
    kind = pattern["kind"]
    lo, hi = max(0, Nk - Nq), Nk - 1            # positions of rows that can see keys
    if kind == "full":
        per_head = Nq * Nk
    elif kind == "causal":
        per_head = _sum_linear(lo, hi)
    elif kind == "sliding_window":
        W = pattern["window"]
        per_head = _prefix_window(hi + 1, W) - _prefix_window(lo, W)
    elif kind == "block_causal":
        b = pattern["block"]
        per_head = _prefix_block_causal(hi + 1, b) - _prefix_block_causal(lo, b)
    elif kind == "landmark":
        per_head = _landmark_pairs(pattern, Nq, Nk)
    else:  # dilated: per pattern, per segment, pairs of selected positions
        if Nq != Nk:
            raise ValueError("dilated attention requires Nq == Nk")
        N, total = Nk, 0
        for h in range(H):
            for kk, (w, r) in enumerate(zip(pattern["segments"], pattern["rates"])):
                o = dilated_offset(pattern, kk, h, H)

                def pairs(length):
                    n = (length - o + r - 1) // r if length > o else 0
                    return _tri(n) if pattern["causal"] else n * n
                total += (N // w) * pairs(w) + pairs(N % w)
        return total
    return H * per_head


def useful_flops(pattern, B, H, Nq, Nk, D, Dv=None):
    """Useful FLOPs per SPEC: 2*D (QK^T) + 2*Dv (PV) per allowed (query, key) pair,
    i.e. 4*D when Dv == D, counting each pair m times. Landmark: every pair whose
    score the query computes, at the same 2*D + 2*Dv."""
    Dv = D if Dv is None else Dv
    return B * allowed_pairs(pattern, Nq, Nk, H) * (2 * D + 2 * Dv)


def lightning_flops(B, H, N, D, Dv, block):
    """SPEC's lightning cost: per (batch, head) 2*N*block*(D+Dv) + 4*N*D*Dv."""
    return B * H * (2 * N * block * (D + Dv) + 4 * N * D * Dv)


# --------------------------------------------------------------------------
# Error measure
# --------------------------------------------------------------------------

def rel_error(got, want):
    """(max |got - want|, that divided by max |want|) -- error relative to the
    output's norm. Uses the absolute error when want is all zero. NaN (or inf
    where want is finite) in got counts as infinite error."""
    got = np.asarray(got, dtype=np.float64)
    want = np.asarray(want, dtype=np.float64)
    if got.shape != want.shape:
        raise ValueError(f"shape mismatch: got {got.shape}, want {want.shape}")
    if got.size == 0:
        return 0.0, 0.0
    if np.isnan(got).any():
        return math.inf, math.inf
    with np.errstate(invalid="ignore"):
        diff = np.where(got == want, 0.0, np.abs(got - want))
    diff = np.where(np.isnan(diff), np.inf, diff)  # inf - inf of opposite signs
    max_abs = float(diff.max())
    norm = float(np.abs(want).max())
    rel = max_abs / norm if norm > 0 and math.isfinite(norm) else max_abs
    return max_abs, rel
