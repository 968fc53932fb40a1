"""Self-check of reference.py: cross-checks the vectorised float64 reference
against slow, differently written scalar loops taken straight from SPEC.md.

Covers every softmax pattern (masks, O and LSE, GQA/MQA, bottom-right alignment,
empty rows), landmark's grouped softmax and top-k, the merge identity, dilated
attention as a merge of its single patterns, lightning's parallel form against
its recurrence and SPEC's block algorithm, FLOP counting, the attribute parser
and rel_error. Prints "reference self-check: N checks, F failures"; exit 1 on failure.
usage: python3 test_reference.py
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import reference as ref  # noqa: E402

CHECKS = 0
FAILURES = 0


def check(ok, what):
    global CHECKS, FAILURES
    CHECKS += 1
    if not ok:
        FAILURES += 1
        print(f"FAIL {what}", flush=True)


def close(got, want, what, tol=1e-11):
    """Exact -inf agreement plus a relative float64 tolerance."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    if got.shape != want.shape:
        check(False, f"{what}: shape {got.shape} != {want.shape}")
        return
    if np.isnan(got).any() or np.isnan(want).any():
        check(False, f"{what}: NaN")
        return
    if not np.array_equal(np.isneginf(got), np.isneginf(want)):
        check(False, f"{what}: -inf positions differ")
        return
    fin = np.isfinite(want)
    if not np.array_equal(fin, np.isfinite(got)):
        check(False, f"{what}: finite positions differ")
        return
    err = np.max(np.abs(got[fin] - want[fin]), initial=0.0)
    scale = max(1.0, np.max(np.abs(want[fin]), initial=0.0))
    check(err <= tol * scale, f"{what}: error {err:.3e}")


# --------------------------------------------------------------------------
# Slow scalar definitions, one (p, j) at a time
# --------------------------------------------------------------------------

def slow_m(pattern, p, j):
    """m(p, j) for the interval patterns, scalar."""
    kind = pattern["kind"]
    if kind == "full":
        return 1
    if kind == "causal":
        return 1 if j <= p else 0
    if kind == "sliding_window":
        return 1 if 0 <= p - j <= pattern["window"] else 0
    if kind == "block_causal":
        b = pattern["block"]
        return 1 if j <= p and math.floor(j / b) >= math.floor(p / b) - 1 else 0
    raise AssertionError(kind)


def slow_dilated_counts(pattern, N, h, H):
    """Dilated multiplicities by enumerating each pattern's segments and the
    positions it selects in them (list of lists, N x N)."""
    counts = [[0] * N for _ in range(N)]
    for w, r in zip(pattern["segments"], pattern["rates"]):
        if pattern.get("offsets", "interleaved") == "grouped":
            o = h // math.ceil(H / r)
        else:
            o = h % r
        for start in range(0, N, w):
            chosen = [t for t in range(start, min(start + w, N)) if (t - start) % r == o]
            for a in chosen:            # query position
                for b in chosen:        # key position
                    if b <= a or not pattern.get("causal", True):
                        counts[a][b] += 1
    return counts


def slow_softmax_row(qrow, keys, vals, mults, c):
    """One output row: explicit loops with math.exp, max subtracted."""
    scores = [c * sum(x * y for x, y in zip(qrow, keys[j])) for j in range(len(keys))]
    live = [j for j in range(len(keys)) if mults[j] > 0]
    dv = len(vals[0]) if len(vals) else 0
    if not live:
        return [0.0] * dv, -math.inf
    mx = max(scores[j] for j in live)
    den = 0.0
    acc = [0.0] * dv
    for j in live:
        e = mults[j] * math.exp(scores[j] - mx)
        den += e
        for d in range(dv):
            acc[d] += e * vals[j][d]
    return [a / den for a in acc], mx + math.log(den)


def slow_attention(q, k, v, pattern, scale=None):
    """Softmax patterns by per-row Python loops."""
    B, H, Nq, D = q.shape
    Hk, Nk, Dv = k.shape[1], k.shape[2], v.shape[3]
    c = 1.0 / math.sqrt(D) if scale is None else scale
    o = np.zeros((B, H, Nq, Dv))
    lse = np.zeros((B, H, Nq))
    for h in range(H):
        kvh = h // (H // Hk)
        counts = (slow_dilated_counts(pattern, Nk, h, H)
                  if pattern["kind"] == "dilated" else None)
        for b in range(B):
            keys, vals = k[b, kvh].tolist(), v[b, kvh].tolist()
            for i in range(Nq):
                p = Nk - Nq + i
                mults = (counts[p] if counts is not None
                         else [slow_m(pattern, p, j) for j in range(Nk)])
                row, l = slow_softmax_row(q[b, h, i].tolist(), keys, vals, mults, c)
                o[b, h, i], lse[b, h, i] = row, l
    return o, lse


def slow_landmark(q, k, v, L, topk, scale=None):
    """SPEC's landmark steps 1-4 for one query at a time, with Python lists."""
    B, H, Nq, D = q.shape
    Hk, Nk, Dv = k.shape[1], k.shape[2], v.shape[3]
    c = 1.0 / math.sqrt(D) if scale is None else scale
    o = np.zeros((B, H, Nq, Dv))
    lse = np.zeros((B, H, Nq))
    for b in range(B):
        for h in range(H):
            kvh = h // (H // Hk)
            for i in range(Nq):
                p = Nk - Nq + i
                s = [c * float(np.dot(q[b, h, i], k[b, kvh, j])) for j in range(Nk)]
                if p < 0:
                    o[b, h, i], lse[b, h, i] = 0.0, -math.inf
                    continue
                blk = p // L
                # Step 1: group T.
                landmarks = [(s[bb * L + L - 1], bb) for bb in range(blk)]
                if topk > 0:
                    landmarks = sorted(landmarks, key=lambda t: (-t[0], t[1]))[:topk]
                chosen_blocks = sorted(bb for _, bb in landmarks)
                group = [bb * L + L - 1 for bb in chosen_blocks]
                group += [j for j in range(blk * L, p + 1) if j % L != L - 1]
                # Step 2: top-level softmax.
                mx = max(s[j] for j in group)
                den = sum(math.exp(s[j] - mx) for j in group)
                ptop = {j: math.exp(s[j] - mx) / den for j in group}
                # Steps 3-4.
                acc = np.zeros(Dv)
                for j in group:
                    if j % L != L - 1:
                        acc += ptop[j] * v[b, kvh, j]
                for bb in chosen_blocks:
                    members = list(range(bb * L, bb * L + L - 1))
                    lmx = max(s[j] for j in members)
                    lden = sum(math.exp(s[j] - lmx) for j in members)
                    for j in members:
                        acc += ptop[bb * L + L - 1] * math.exp(s[j] - lmx) / lden * v[b, kvh, j]
                o[b, h, i], lse[b, h, i] = acc, mx + math.log(den)
    return o, lse


def slow_lightning_recurrent(q, k, v, slopes, state_in, scale=1.0):
    """KV_t = lam KV_{t-1} + k_t^T v_t, o_t = scale q_t . KV_t (Nq == Nk)."""
    B, H, N, D = q.shape
    Hk, Dv = k.shape[1], v.shape[3]
    o = np.zeros((B, H, N, Dv))
    state = np.zeros((B, H, D, Dv))
    for b in range(B):
        for h in range(H):
            kvh = h // (H // Hk)
            lam = math.exp(-slopes[h])
            kv = state_in[b, h].copy()
            for t in range(N):
                kv = lam * kv + np.outer(k[b, kvh, t], v[b, kvh, t])
                o[b, h, t] = scale * q[b, h, t] @ kv
            state[b, h] = kv
    return o, state


def block_lightning(q, k, v, slopes, state_in, block, scale=1.0):
    """Lightning Attention-2's block algorithm as SPEC writes it."""
    B, H, N, D = q.shape
    Hk, Dv = k.shape[1], v.shape[3]
    o = np.zeros((B, H, N, Dv))
    state = np.zeros((B, H, D, Dv))
    for b in range(B):
        for h in range(H):
            kvh = h // (H // Hk)
            lam = math.exp(-slopes[h])
            kv = state_in[b, h].copy()
            for st in range(0, N, block):
                n = min(block, N - st)
                qt = scale * q[b, h, st:st + n]
                kt, vt = k[b, kvh, st:st + n], v[b, kvh, st:st + n]
                ii, jj = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
                dmask = np.where(ii >= jj, lam ** np.maximum(ii - jj, 0), 0.0)
                intra = ((qt @ kt.T) * dmask) @ vt
                inter = (lam ** (np.arange(n) + 1))[:, None] * (qt @ kv)
                o[b, h, st:st + n] = intra + inter
                kv = lam ** n * kv + (kt * (lam ** (n - 1 - np.arange(n)))[:, None]).T @ vt
            state[b, h] = kv
    return o, state


def rand_qkv(rng, B, H, Hk, Nq, Nk, D, Dv, spread=1.0):
    return (spread * rng.standard_normal((B, H, Nq, D)),
            spread * rng.standard_normal((B, Hk, Nk, D)),
            rng.standard_normal((B, Hk, Nk, Dv)))


# --------------------------------------------------------------------------
# Checks
# --------------------------------------------------------------------------

INTERVAL = [
    {"kind": "full"}, {"kind": "causal"},
    {"kind": "sliding_window", "window": 0}, {"kind": "sliding_window", "window": 5},
    {"kind": "block_causal", "block": 1}, {"kind": "block_causal", "block": 4},
]
DILATED = [
    {"kind": "dilated", "segments": [4, 8, 16], "rates": [1, 2, 4]},
    {"kind": "dilated", "segments": [6, 12], "rates": [2, 4], "causal": False,
     "offsets": "grouped"},
    {"kind": "dilated", "segments": [4, 8], "rates": [4, 8]},          # empty rows
    {"kind": "dilated", "segments": [3, 9], "rates": [3, 9], "offsets": "grouped"},
    {"kind": "dilated", "segments": [5, 100], "rates": [1, 5], "causal": False},
]
SHAPES = [  # B, H, Hk, Nq, Nk, D, Dv
    (2, 4, 2, 19, 19, 8, 8),     # GQA
    (1, 3, 1, 10, 23, 6, 5),     # MQA, Nq < Nk, Dv != D
    (1, 2, 2, 1, 17, 4, 4),      # decoding step
    (1, 2, 1, 14, 9, 4, 3),      # Nq > Nk: early rows see no key
]


def check_masks():
    for pat in INTERVAL:
        for nq, nk in ((7, 7), (3, 11), (11, 4), (1, 9)):
            m = ref.mask_matrix(pat, nq, nk)
            want = [[slow_m(pat, nk - nq + i, j) for j in range(nk)] for i in range(nq)]
            check(np.array_equal(m, np.array(want).reshape(nq, nk)),
                  f"mask {pat} {nq}x{nk}")
    for pat in DILATED:
        for n in (1, 13, 24):
            for H in (1, 3, 8):
                for h in range(H):
                    m = ref.mask_matrix(pat, n, n, h, H)
                    want = np.array(slow_dilated_counts(pat, n, h, H)).reshape(n, n)
                    check(np.array_equal(m, want), f"mask {pat} N={n} h={h}/{H}")


def check_softmax_patterns(rng):
    for pat in INTERVAL + DILATED:
        for shape in SHAPES:
            B, H, Hk, nq, nk, D, Dv = shape
            if pat["kind"] == "dilated" and nq != nk:
                continue
            q, k, v = rand_qkv(rng, *shape)
            o, lse = ref.attention(q, k, v, pat)
            so, slse = slow_attention(q, k, v, pat)
            close(o, so, f"attention O {pat} {shape}")
            close(lse, slse, f"attention LSE {pat} {shape}")
    # Large scores: the max must be subtracted. Scale 1 and spread 6 give |s| ~ 100.
    for pat in ({"kind": "causal"}, DILATED[0]):
        q, k, v = rand_qkv(rng, 1, 2, 1, 16, 16, 8, 8, spread=6.0)
        o, lse = ref.attention(q, k, v, pat, scale=1.0)
        so, slse = slow_attention(q, k, v, pat, scale=1.0)
        close(o, so, f"large scores O {pat}", tol=1e-9)
        close(lse, slse, f"large scores LSE {pat}", tol=1e-9)
    # Half-precision inputs are accepted and computed in float64.
    q, k, v = rand_qkv(rng, 1, 2, 2, 9, 9, 8, 8)
    o16, _ = ref.attention(q.astype(np.float16), k.astype(np.float16),
                           v.astype(np.float16), {"kind": "causal"})
    o64, _ = ref.attention(*(x.astype(np.float16).astype(np.float64) for x in (q, k, v)),
                           {"kind": "causal"})
    check(o16.dtype == np.float64 and np.array_equal(o16, o64), "float16 inputs")


def check_empty_rows(rng):
    q, k, v = rand_qkv(rng, 1, 2, 2, 12, 5, 4, 4)
    for pat in ({"kind": "causal"}, {"kind": "sliding_window", "window": 2},
                {"kind": "block_causal", "block": 2},
                {"kind": "landmark", "block": 3}):
        o, lse = ref.attention(q, k, v, pat)
        rows = 12 - 5   # p < 0
        check(not np.isnan(o).any() and not np.isnan(lse).any()
              and np.all(o[:, :, :rows] == 0) and np.all(np.isneginf(lse[:, :, :rows]))
              and np.all(np.isfinite(lse[:, :, rows:])), f"empty rows {pat['kind']}")
    # Dilated without rate 1: some positions are selected by no pattern.
    pat = DILATED[2]
    q, k, v = rand_qkv(rng, 1, 8, 8, 16, 16, 4, 4)
    o, lse = ref.attention(q, k, v, pat)
    empty = np.isneginf(lse)
    check(empty.any() and not np.isnan(o).any() and np.all(o[empty] == 0),
          "dilated rows selected by no pattern")


def check_landmark(rng):
    cases = [  # B, H, Hk, Nq, Nk, D, Dv, L, topk
        (1, 2, 1, 23, 23, 6, 5, 4, 0),
        (2, 4, 2, 23, 23, 6, 6, 4, 2),
        (1, 2, 2, 9, 26, 4, 4, 5, 1),     # Nq < Nk, partial last block
        (1, 2, 2, 1, 30, 4, 4, 3, 3),     # decoding step with retrieval
        (1, 2, 2, 30, 30, 4, 4, 3, 100),  # k above the number of blocks
        (1, 1, 1, 12, 7, 4, 4, 2, 1),     # Nq > Nk: empty rows
    ]
    for B, H, Hk, nq, nk, D, Dv, L, topk in cases:
        q, k, v = rand_qkv(rng, B, H, Hk, nq, nk, D, Dv)
        pat = {"kind": "landmark", "block": L, "topk": topk}
        o, lse = ref.attention(q, k, v, pat)
        so, slse = slow_landmark(q, k, v, L, topk)
        close(o, so, f"landmark O {pat} Nq={nq} Nk={nk}")
        close(lse, slse, f"landmark LSE {pat} Nq={nq} Nk={nk}")
    # Landmark values are never read: changing them changes nothing.
    q, k, v = rand_qkv(rng, 1, 2, 2, 20, 20, 4, 4)
    pat = {"kind": "landmark", "block": 4, "topk": 2}
    o1, _ = ref.attention(q, k, v, pat)
    v2 = v.copy()
    v2[:, :, 3::4] = 1e6
    o2, _ = ref.attention(q, k, v2, pat)
    check(np.array_equal(o1, o2), "landmark V never read")
    # Weights sum to 1: with v = 1 everywhere, O = 1 on every row.
    o3, _ = ref.attention(q, k, np.ones_like(v), {"kind": "landmark", "block": 4})
    close(o3, np.ones_like(o3), "landmark weights sum to 1")
    # Top-k ties go to the earlier block: identical landmark keys, and enough
    # blocks (30) that an unstable sort would reorder them.
    qt, kt, vt = rand_qkv(rng, 1, 2, 1, 24, 120, 4, 4)
    kt[:, :, 3::4] = kt[:, :, 3:4]
    for topk in (1, 3, 7):
        o4, _ = ref.attention(qt, kt, vt, {"kind": "landmark", "block": 4, "topk": topk})
        so4, _ = slow_landmark(qt, kt, vt, 4, topk)
        close(o4, so4, f"landmark top-k ties, k={topk}")
    # With all blocks the top-k pattern equals plain landmark.
    o5, l5 = ref.attention(q, k, v, {"kind": "landmark", "block": 4, "topk": 5})
    o6, l6 = ref.attention(q, k, v, {"kind": "landmark", "block": 4})
    close(o5, o6, "landmark topk >= blocks == all (O)")
    close(l5, l6, "landmark topk >= blocks == all (LSE)")


def check_merge(rng):
    # Split the keys of every pattern into two random disjoint sets; the slow
    # loop gives each side's (O, LSE) and merge must give the whole.
    for pat in INTERVAL + DILATED[:2]:
        B, H, Hk, N, D = 1, 2, 1, 15, 6
        q, k, v = rand_qkv(rng, B, H, Hk, N, N, D, D)
        want_o, want_l = ref.attention(q, k, v, pat)
        side = rng.random(N) < 0.5
        parts = []
        for keep in (side, ~side):
            o = np.zeros((B, H, N, D))
            lse = np.zeros((B, H, N))
            for h in range(H):
                counts = (slow_dilated_counts(pat, N, h, H) if pat["kind"] == "dilated"
                          else [[slow_m(pat, p, j) for j in range(N)] for p in range(N)])
                for i in range(N):
                    mult = [counts[i][j] if keep[j] else 0 for j in range(N)]
                    row, l = slow_softmax_row(q[0, h, i].tolist(), k[0, 0].tolist(),
                                              v[0, 0].tolist(), mult, 1 / math.sqrt(D))
                    o[0, h, i], lse[0, h, i] = row, l
            parts.append((o, lse))
        mo, ml = ref.merge(*parts[0], *parts[1])
        close(mo, want_o, f"merge of disjoint key sets O {pat}")
        close(ml, want_l, f"merge of disjoint key sets LSE {pat}")
    # Split-KV for full attention through attention() itself.
    q, k, v = rand_qkv(rng, 2, 4, 2, 5, 40, 8, 8)
    a = ref.attention(q, k[:, :, :17], v[:, :, :17], {"kind": "full"})
    b = ref.attention(q, k[:, :, 17:], v[:, :, 17:], {"kind": "full"})
    whole = ref.attention(q, k, v, {"kind": "full"})
    mo, ml = ref.merge(*a, *b)
    close(mo, whole[0], "split-KV merge O")
    close(ml, whole[1], "split-KV merge LSE")
    # Dilated = merge of its single patterns (the multiset union).
    for pat in DILATED:
        q, k, v = rand_qkv(rng, 1, 4, 2, 26, 26, 4, 4)
        acc = None
        for w, r in zip(pat["segments"], pat["rates"]):
            # A head's offset depends only on (h, H, r): the same in the single pattern.
            single = dict(pat, segments=[w], rates=[r])
            part = ref.attention(q, k, v, single)
            acc = part if acc is None else ref.merge(*acc, *part)
        whole = ref.attention(q, k, v, pat)
        close(acc[0], whole[0], f"dilated = merge of its patterns O {pat}")
        close(acc[1], whole[1], f"dilated = merge of its patterns LSE {pat}")
    # -inf handling.
    o = rng.standard_normal((3, 4))
    l = rng.standard_normal(3)
    z = np.full((3, 4), np.nan)    # an empty side's O must not leak, even as NaN
    mo, ml = ref.merge(o, l, z, np.full(3, -np.inf))
    close(mo, o, "merge with -inf side (O)")
    close(ml, l, "merge with -inf side (LSE)")
    mo, ml = ref.merge(z, np.full(3, -np.inf), z, np.full(3, -np.inf))
    check(np.all(mo == 0) and np.all(np.isneginf(ml)), "merge of two empty sides")


def check_dilated_special(rng):
    # A single pattern with w >= N and r = 1 is causal (non-causal: full).
    q, k, v = rand_qkv(rng, 2, 4, 2, 21, 21, 8, 8)
    for w in (21, 64):
        for causal, plain in ((True, "causal"), (False, "full")):
            d = ref.attention(q, k, v, {"kind": "dilated", "segments": [w], "rates": [1],
                                        "causal": causal})
            c = ref.attention(q, k, v, {"kind": plain})
            close(d[0], c[0], f"dilated w={w} r=1 causal={causal} == {plain} (O)", tol=1e-14)
            close(d[1], c[1], f"dilated w={w} r=1 causal={causal} == {plain} (LSE)",
                  tol=1e-14)
    # Same pattern twice: every key counts twice, so O is unchanged and
    # LSE grows by ln 2 (multiset semantics).
    d2 = ref.attention(q, k, v, {"kind": "dilated", "segments": [64, 64], "rates": [1, 1]})
    c = ref.attention(q, k, v, {"kind": "causal"})
    close(d2[0], c[0], "dilated doubled pattern O")
    close(d2[1], c[1] + math.log(2), "dilated doubled pattern LSE")
    try:
        ref.attention(q, k[:, :, :20], v[:, :, :20], DILATED[0])
        check(False, "dilated Nq != Nk rejected")
    except ValueError:
        check(True, "dilated Nq != Nk rejected")


def check_lightning(rng):
    # Slopes: H = 8 (power of two) and H = 6 (ALiBi's non-power-of-two rule).
    check(np.allclose(ref.alibi_slopes(8), [2.0 ** -(i + 1) for i in range(8)],
                      rtol=0, atol=0), "ALiBi slopes H=8")
    check(np.array_equal(ref.alibi_slopes(6),
                         [2 ** -2, 2 ** -4, 2 ** -6, 2 ** -8, 2 ** -1, 2 ** -3]),
          "ALiBi slopes H=6")
    check(np.array_equal(ref.alibi_slopes(1), [2.0 ** -8]), "ALiBi slopes H=1")
    cases = [  # B, H, Hk, N, D, Dv, slopes, state?, scale
        (1, 4, 2, 50, 8, 6, None, True, 1.0),
        (2, 3, 1, 33, 5, 7, None, False, 0.5),
        (1, 2, 2, 16, 4, 4, [0.0, 0.3], True, 1.0),
        (1, 2, 1, 600, 4, 4, [5.0, 40.0], True, 1.0),   # lam^-t would overflow
    ]
    for B, H, Hk, N, D, Dv, slopes, with_state, scale in cases:
        q, k, v = rand_qkv(rng, B, H, Hk, N, N, D, Dv)
        s = ref.alibi_slopes(H) if slopes is None else np.array(slopes)
        kv0 = rng.standard_normal((B, H, D, Dv)) if with_state else np.zeros((B, H, D, Dv))
        o, st = ref.lightning(q, k, v, slopes, kv0 if with_state else None, scale)
        ro, rst = slow_lightning_recurrent(q, k, v, s, kv0, scale)
        bo, bst = block_lightning(q, k, v, s, kv0, 16, scale)
        what = f"lightning B={B} H={H}/{Hk} N={N} D={D} Dv={Dv}"
        close(o, ro, f"{what}: parallel == recurrent (O)", tol=1e-10)
        close(st, rst, f"{what}: parallel == recurrent (state)", tol=1e-10)
        close(o, bo, f"{what}: parallel == block 16 (O)", tol=1e-10)
        close(st, bst, f"{what}: parallel == block 16 (state)", tol=1e-10)
    # Prefill then decode: the state carries exactly.
    q, k, v = rand_qkv(rng, 1, 4, 2, 30, 30, 6, 5)
    whole, st_whole = ref.lightning(q, k, v)
    o1, st = ref.lightning(q[:, :, :20], k[:, :, :20], v[:, :, :20])
    outs = [o1]
    for t in range(20, 30):
        ot, st = ref.lightning(q[:, :, t:t + 1], k[:, :, t:t + 1], v[:, :, t:t + 1],
                               state_in=st)
        outs.append(ot)
    close(np.concatenate(outs, axis=2), whole, "lightning prefill + decode steps (O)")
    close(st, st_whole, "lightning prefill + decode steps (state)")
    # Bottom-right alignment Nq < Nk: the last rows of the full computation.
    sub, _ = ref.lightning(q[:, :, 25:], k, v)
    close(sub, whole[:, :, 25:], "lightning Nq < Nk")


def check_flops():
    pats = INTERVAL + [
        {"kind": "sliding_window", "window": 40}, {"kind": "block_causal", "block": 7},
        {"kind": "landmark", "block": 4}, {"kind": "landmark", "block": 7},
    ]
    for pat in pats:
        for nq, nk in ((1, 1), (37, 37), (100, 100), (13, 50), (60, 20), (1, 77)):
            # B = 3, H = 2, 2 * D + 2 * Dv = 2 * 8 + 2 * 6 per pair.
            want = int(ref.mask_matrix(pat, nq, nk).sum()) * 3 * 2 * (2 * 8 + 2 * 6)
            check(ref.useful_flops(pat, 3, 2, nq, nk, 8, 6) == want,
                  f"flops {pat} {nq}x{nk}")
    for pat in DILATED:
        for n in (1, 37, 100):
            for H in (1, 4, 8):
                want = sum(int(ref.mask_matrix(pat, n, n, h, H).sum()) for h in range(H))
                check(ref.useful_flops(pat, 2, H, n, n, 16, 16) == 2 * want * 4 * 16,  # B=2
                      f"flops {pat} N={n} H={H}")
    # Landmark top-k: count from the slow definition of the pairs a query scores.
    for L, topk, nq, nk in ((4, 2, 30, 30), (5, 1, 10, 41), (3, 100, 20, 20)):
        want = 0
        for i in range(nq):
            p = nk - nq + i
            if p < 0:
                continue
            blk = p // L
            want += blk                                   # every earlier landmark
            want += min(topk, blk) * (L - 1)              # the chosen blocks
            want += sum(1 for j in range(blk * L, p + 1) if j % L != L - 1)
        check(ref.useful_flops({"kind": "landmark", "block": L, "topk": topk},
                               1, 1, nq, nk, 8, 8) == want * 32,
              f"flops landmark L={L} topk={topk}")
    N, D = 4096, 64
    check(ref.useful_flops({"kind": "causal"}, 1, 1, N, N, D, D) == 4 * D * N * (N + 1) // 2,
          "dense causal flops formula")
    check(ref.useful_flops({"kind": "causal"}, 2, 3, 10 ** 6, 10 ** 6, 128, 128)
          == 6 * 4 * 128 * (10 ** 6) * (10 ** 6 + 1) // 2, "causal flops at N = 1e6")
    # Paper-size dilated: close to sum_k 2 N w_k D / r_k^2 per head.
    pat = {"kind": "dilated", "segments": [2048, 4096, 8192], "rates": [1, 2, 4]}
    n, H = 1 << 16, 4
    approx = H * sum(2 * n * w * D / r ** 2 for w, r in zip(pat["segments"], pat["rates"]))
    got = ref.useful_flops(pat, 1, H, n, n, D, D)
    check(abs(got / approx - 1) < 0.01, f"dilated flops ~ SPEC estimate ({got / approx:.4f})")
    check(ref.lightning_flops(2, 3, 100, 16, 8, 32)
          == 6 * (2 * 100 * 32 * 24 + 4 * 100 * 16 * 8), "lightning flops")


def check_parser():
    cases = {
        "#attn.full": {"kind": "full"},
        "#attn.causal": {"kind": "causal"},
        "#attn.sliding_window<window = 16>": {"kind": "sliding_window", "window": 16},
        "#attn.block_causal<block = 32>": {"kind": "block_causal", "block": 32},
        "#attn.dilated<segments = [4, 8], rates = [1, 2]>":
            {"kind": "dilated", "segments": [4, 8], "rates": [1, 2], "causal": True,
             "offsets": "interleaved"},
        "#attn.dilated<segments = [4, 8], rates = [1, 2], causal = false>":
            {"kind": "dilated", "segments": [4, 8], "rates": [1, 2], "causal": False,
             "offsets": "interleaved"},
        "#attn.dilated<segments = [12, 48], rates = [2, 4], causal = false, "
        "offsets = grouped>":
            {"kind": "dilated", "segments": [12, 48], "rates": [2, 4], "causal": False,
             "offsets": "grouped"},
        "#attn.dilated<segments=[4,8],rates=[1,2],offsets=grouped>":
            {"kind": "dilated", "segments": [4, 8], "rates": [1, 2], "causal": True,
             "offsets": "grouped"},
        "#attn.landmark<block = 64>": {"kind": "landmark", "block": 64, "topk": 0},
        "#attn.landmark<block = 64, topk = 4>": {"kind": "landmark", "block": 64, "topk": 4},
    }
    for text, want in cases.items():
        try:
            got = ref.pattern_from_text(text)
        except ValueError as e:
            got = str(e)
        check(got == want, f"parse {text!r}: {got}")
    for bad in ("#attn.dilated<segments = [6], rates = [4]>",   # w mod r != 0
                "#attn.sliding_window", "#attn.sliding_window<block = 3>",
                "#attn.dilated<segments = [4, 8], rates = [1]>",
                "#attn.landmark<block = 64, offsets = grouped>", "#attn.nope",
                "causal"):
        try:
            ref.pattern_from_text(bad)
            check(False, f"parse rejects {bad!r}")
        except ValueError:
            check(True, f"parse rejects {bad!r}")


def check_rel_error():
    want = np.array([[1.0, -4.0], [2.0, 0.5]])
    got = want + np.array([[0.0, 0.02], [0.0, 0.0]])
    m, r = ref.rel_error(got, want)
    check(abs(m - 0.02) < 1e-15 and abs(r - 0.005) < 1e-15, "rel_error value")
    bad = got.copy()
    bad[1, 1] = np.nan
    check(ref.rel_error(bad, want) == (math.inf, math.inf), "rel_error NaN is infinite")
    check(ref.rel_error(np.zeros(3), np.zeros(3)) == (0.0, 0.0), "rel_error zeros")


def main():
    rng = np.random.default_rng(20240601)
    for fn in (check_masks, check_softmax_patterns, check_empty_rows, check_landmark,
               check_merge, check_dilated_special, check_lightning, check_flops,
               check_parser, check_rel_error):
        if fn.__code__.co_argcount:
            fn(rng)
        else:
            fn()
    print(f"reference self-check: {CHECKS} checks, {FAILURES} failures")
    return 1 if FAILURES else 0


if __name__ == "__main__":
    sys.exit(main())
