"""attn.attention, attn.lightning and attn.merge on torch tensors and numpy
arrays against the float64 reference from SPEC.md (test/Numerics/reference.py),
on fresh random inputs, with outputs poisoned (NaN) before each run."""
import math

import numpy as np
import pytest
import torch

import attn
import reference as ref

from conftest import DEVICE, PARAMS

CUDA = PARAMS == "cuda"
# The GPU kernels take f16/bf16 and D a multiple of 16 (lightning: 64).
DTYPES = ["float16", "bfloat16"] if CUDA else ["float32", "float16", "bfloat16"]
D = 64 if CUDA else 32
TOL = {"float32": 1e-5, "float16": 1e-2, "bfloat16": 1e-2}

PATTERNS = {
    "full": "full",
    "causal": "causal",
    "sliding_window": "#attn.sliding_window<window = 5>",
    "block_causal": "#attn.block_causal<block = 8>",
    "dilated": "#attn.dilated<segments = [8, 16], rates = [1, 2]>",
    "dilated_grouped_noncausal":
        "#attn.dilated<segments = [6, 12], rates = [2, 4], causal = false, offsets = grouped>",
    # GPU landmark blocks are 16..128 keys.
    "landmark": f"#attn.landmark<block = {16 if CUDA else 8}>",
    "landmark_topk": f"#attn.landmark<block = {16 if CUDA else 8}, topk = 2>",
}


def tdtype(name):
    return getattr(torch, name)


def rand(gen, shape, dtype, device=DEVICE):
    x = torch.randn(shape, generator=gen, dtype=torch.float32)
    return x.to(dtype=tdtype(dtype), device=device)


def f64(t):
    if isinstance(t, np.ndarray):
        return t.astype(np.float64)
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def check(got, want, dtype, what):
    _, rel = ref.rel_error(f64(got), want)
    assert rel <= TOL[dtype], f"{what}: relative error {rel:.3g} > {TOL[dtype]}"


def check_lse(got, want, what):
    got = f64(got)
    assert np.array_equal(np.isneginf(got), np.isneginf(want)), \
        f"{what}: rows without keys differ"
    fin = np.isfinite(want)
    if fin.any():
        err = np.abs(got[fin] - want[fin]).max()
        assert err <= 1e-3 * max(1.0, np.abs(want[fin]).max()), \
            f"{what}: LSE error {err:.3g}"


def landmark_topk_inputs(gen, pattern_text, shape_q, shape_k, dtype, Nq, Nk):
    """q, k whose k-th and (k+1)-th landmark scores are not closer than
    rounding (another valid choice of blocks, beyond SPEC's tolerance)."""
    p = ref.pattern_from_text(pattern_text)
    L, topk = p["block"], p["topk"]
    for _ in range(50):
        q, k = rand(gen, shape_q, dtype), rand(gen, shape_k, dtype)
        qq, kk = f64(q), f64(k)
        H, Hk = qq.shape[1], kk.shape[1]
        s = np.einsum("bhqd,bhkd->bhqk", qq, np.repeat(kk, H // Hk, axis=1))
        ok = True
        for i in range(Nq):
            blk = (Nk - Nq + i) // L
            lm = s[..., i, [b * L + L - 1 for b in range(blk)]]
            if lm.shape[-1] > topk:
                srt = np.sort(lm, axis=-1)[..., ::-1]
                gap = srt[..., topk - 1] - srt[..., topk]
                if (gap < 1e-2 * np.abs(srt[..., topk]).clip(1)).any():
                    ok = False
        if ok:
            return q, k
    pytest.skip("no landmark top-k inputs without a near-tie")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(PATTERNS))
@pytest.mark.parametrize("shape", ["prefill", "gqa_suffix", "decode"])
def test_pattern(name, dtype, shape, seed):
    """Every pattern x dtype x (Nq = Nk, Nq < Nk with GQA, Nq = 1) into a
    NaN-poisoned out=, with the LSE, against the float64 reference."""
    pattern = PATTERNS[name]
    if "dilated" in name and shape != "prefill":
        pytest.skip("dilated attention needs Nq == Nk")
    B, H, Hk, Nq, Nk = {"prefill": (2, 4, 2, 37, 37),
                        "gqa_suffix": (1, 4, 2, 13, 40),
                        "decode": (2, 4, 1, 1, 29)}[shape]
    gen = torch.Generator().manual_seed(seed)
    if "topk" in name:
        q, k = landmark_topk_inputs(gen, pattern, (B, H, Nq, D), (B, Hk, Nk, D),
                                    dtype, Nq, Nk)
    else:
        q, k = rand(gen, (B, H, Nq, D), dtype), rand(gen, (B, Hk, Nk, D), dtype)
    v = rand(gen, (B, Hk, Nk, D), dtype)
    text = pattern if pattern.startswith("#") else "#attn." + pattern
    want_o, want_lse = ref.attention(f64(q), f64(k), f64(v),
                                     ref.pattern_from_text(text))
    out = torch.full((B, H, Nq, D), math.nan, dtype=tdtype(dtype), device=DEVICE)
    o, lse = attn.attention(q, k, v, pattern=pattern, return_lse=True, out=out)
    assert o is out
    check(o, want_o, dtype, f"{name} {dtype} {shape}")
    check_lse(lse, want_lse, f"{name} {dtype} {shape}")
    # The functional form, without the LSE.
    o2 = attn.attention(q, k, v, pattern=pattern)
    assert o2.dtype == q.dtype and o2.shape == (B, H, Nq, D)
    check(o2, want_o, dtype, f"{name} {dtype} {shape} (functional)")


def test_rows_without_keys(seed):
    """Dilated rates without 1: positions no pattern selects give O = 0 and
    LSE = -inf, never NaN."""
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (rand(gen, (1, 2, 16, D), DTYPES[0]) for _ in range(3))
    o, lse = attn.attention(q, k, v, "#attn.dilated<segments = [8], rates = [4]>",
                            return_lse=True)
    assert torch.isneginf(lse).any()
    assert not torch.isnan(o).any()
    assert (o[torch.isneginf(lse)] == 0).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_bnhd_views(dtype, seed):
    """[B, N, H, D] storage passed as transposed views (zero copy), and
    layout="bnhd"; the result is stored heads-inner like q."""
    gen = torch.Generator().manual_seed(seed)
    B, N, H, Hk = 2, 21, 4, 2
    qb, kb, vb = (rand(gen, (B, N, h, D), dtype) for h in (H, Hk, Hk))
    want, _ = ref.attention(f64(qb).transpose(0, 2, 1, 3), f64(kb).transpose(0, 2, 1, 3),
                            f64(vb).transpose(0, 2, 1, 3), {"kind": "causal"})
    o = attn.attention(qb.transpose(1, 2), kb.transpose(1, 2), vb.transpose(1, 2))
    assert o.shape == (B, H, N, D) and o.transpose(1, 2).is_contiguous()
    check(o, want, dtype, "bnhd views")
    o = attn.attention(qb, kb, vb, layout="bnhd")
    assert o.shape == (B, N, H, D) and o.is_contiguous()
    check(o.transpose(1, 2), want, dtype, "layout=bnhd")
    # A packed qkv buffer [B, N, 3, H, D]: q, k, v are strided views of it.
    qkv = rand(gen, (B, N, 3, H, D), dtype)
    q, k, v = (qkv[:, :, i].transpose(1, 2) for i in range(3))
    out = torch.full((B, N, H, D), math.nan, dtype=tdtype(dtype),
                     device=DEVICE).transpose(1, 2)
    attn.attention(q, k, v, "full", out=out)
    want, _ = ref.attention(f64(q), f64(k), f64(v), {"kind": "full"})
    check(out, want, dtype, "packed qkv")


def test_scale(seed):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (rand(gen, (1, 2, 9, D), DTYPES[0]) for _ in range(3))
    want, _ = ref.attention(f64(q), f64(k), f64(v), {"kind": "causal"}, scale=0.3)
    check(attn.attention(q, k, v, "causal", scale=0.3), want, DTYPES[0], "scale")


@pytest.mark.skipif(CUDA, reason="numpy arrays are CPU only")
@pytest.mark.parametrize("dtype", ["float32", "float16"])
@pytest.mark.parametrize("name", ["causal", "sliding_window", "dilated", "landmark"])
def test_numpy(name, dtype, seed):
    rng = np.random.default_rng(seed)
    B, H, Hk, N = 1, 4, 2, 19
    q = rng.standard_normal((B, H, N, D)).astype(dtype)
    k = rng.standard_normal((B, Hk, N, D)).astype(dtype)
    v = rng.standard_normal((B, Hk, N, D)).astype(dtype)
    pattern = PATTERNS[name]
    text = pattern if pattern.startswith("#") else "#attn." + pattern
    want_o, want_lse = ref.attention(q, k, v, ref.pattern_from_text(text))
    out = np.full((B, H, N, D), np.nan, dtype=dtype)
    o, lse = attn.attention(q, k, v, pattern, return_lse=True, out=out)
    assert o is out and isinstance(lse, np.ndarray)
    check(o, want_o, dtype, f"numpy {name}")
    check_lse(lse, want_lse, f"numpy {name}")
    o = attn.attention(np.ascontiguousarray(q.transpose(0, 2, 1, 3)),
                       np.ascontiguousarray(k.transpose(0, 2, 1, 3)),
                       np.ascontiguousarray(v.transpose(0, 2, 1, 3)),
                       pattern, layout="bnhd")
    check(o.transpose(0, 2, 1, 3), want_o, dtype, f"numpy {name} bnhd")


# --- lightning ---------------------------------------------------------------

LD = 64


@pytest.mark.parametrize("dtype", DTYPES)
def test_lightning_prefill(dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    B, H, N = 2, 3, 45
    q, k, v = (rand(gen, (B, H, N, LD), dtype) * 0.3 for _ in range(3))
    want, want_state = ref.lightning(f64(q), f64(k), f64(v))
    o, st = attn.lightning(q, k, v, return_state=True)
    check(o, want, dtype, "lightning prefill")
    assert st.dtype == torch.float32 and st.shape == (B, H, LD, LD)
    check(st, want_state, dtype, "lightning state")
    slopes = torch.rand(H, generator=gen) * 0.5 + 0.01
    want, _ = ref.lightning(f64(q), f64(k), f64(v), slopes=slopes.double().numpy(),
                            scale=0.5)
    o = attn.lightning(q, k, v, slopes=slopes.tolist(), scale=0.5)
    check(o, want, dtype, "lightning slopes + scale")
    # bnhd layout
    o = attn.lightning(q.transpose(1, 2).contiguous(), k.transpose(1, 2).contiguous(),
                       v.transpose(1, 2).contiguous(), slopes=slopes.to(DEVICE),
                       scale=0.5, layout="bnhd")
    check(o.transpose(1, 2), want, dtype, "lightning bnhd")


@pytest.mark.parametrize("dtype", DTYPES)
def test_lightning_state_round_trip(dtype, seed):
    """A prefill returns its state; decode steps (N = 1) continue it; the
    outputs equal one pass over the whole sequence."""
    gen = torch.Generator().manual_seed(seed)
    B, H, N0, steps = 1, 2, 33, 4
    q, k, v = (rand(gen, (B, H, N0 + steps, LD), dtype) * 0.3 for _ in range(3))
    want, want_state = ref.lightning(f64(q), f64(k), f64(v))
    o, st = attn.lightning(q[:, :, :N0], k[:, :, :N0], v[:, :, :N0], return_state=True)
    check(o, want[:, :, :N0], dtype, "prefill")
    for t in range(N0, N0 + steps):
        sl = slice(t, t + 1)
        o, st = attn.lightning(q[:, :, sl], k[:, :, sl], v[:, :, sl], state=st,
                               return_state=True)
        check(o, want[:, :, sl], dtype, f"decode step {t}")
    check(st, want_state, dtype, "final state")


@pytest.mark.skipif(CUDA, reason="numpy arrays are CPU only")
def test_lightning_numpy(seed):
    rng = np.random.default_rng(seed)
    q, k, v = (0.3 * rng.standard_normal((1, 2, 17, LD)).astype(np.float32)
               for _ in range(3))
    want, want_state = ref.lightning(q, k, v)
    o, st = attn.lightning(q, k, v, return_state=True)
    check(o, want, "float32", "numpy lightning")
    check(st, want_state, "float32", "numpy lightning state")
    o2 = attn.lightning(q[:, :, -1:], k[:, :, -1:], v[:, :, -1:],
                        state=ref.lightning(q[:, :, :-1], k[:, :, :-1], v[:, :, :-1])[1])
    check(o2, want[:, :, -1:], "float32", "numpy decode")


# --- merge ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_merge_split_kv(dtype, seed):
    """Split-KV decoding: two halves of the keys, each with its LSE, merged,
    equal attention over all of them."""
    gen = torch.Generator().manual_seed(seed)
    B, H, Nk = 2, 4, 50
    q = rand(gen, (B, H, 1, D), dtype)
    k, v = (rand(gen, (B, 2, Nk, D), dtype) for _ in range(2))
    want_o, want_lse = ref.attention(f64(q), f64(k), f64(v), {"kind": "full"})
    a = attn.attention(q, k[:, :, :20], v[:, :, :20], "full", return_lse=True)
    b = attn.attention(q, k[:, :, 20:], v[:, :, 20:], "full", return_lse=True)
    o, lse = attn.merge(a[0], a[1], b[0], b[1])
    assert o.dtype == q.dtype
    check(o, want_o, dtype, "merge")
    check_lse(lse, want_lse, "merge")
    if not CUDA:
        on, lsen = attn.merge(a[0].float().numpy(), a[1].numpy(),
                              b[0].float().numpy(), b[1].numpy())
        check(on, want_o, dtype, "numpy merge")
        check_lse(lsen, want_lse, "numpy merge")


def test_merge_empty_sides():
    o = torch.ones(1, 1, 2, 4, device=DEVICE)
    lse = torch.tensor([[[0.5, -math.inf]]], device=DEVICE)
    none = torch.full((1, 1, 2), -math.inf, device=DEVICE)
    m, l = attn.merge(o, lse, torch.zeros_like(o), none)
    assert torch.equal(m, torch.tensor([[[[1.0] * 4, [0.0] * 4]]], device=DEVICE))
    assert l[0, 0, 0] == 0.5 and torch.isneginf(l[0, 0, 1])
    assert not torch.isnan(m).any()


def test_threads(seed):
    """Calls from several threads at once (one CPU context, per-thread CUDA
    contexts): each gets its own result."""
    import threading
    gen = torch.Generator().manual_seed(seed)
    inputs = [tuple(rand(gen, (1, 2, 19, D), DTYPES[0]) for _ in range(3))
              for _ in range(4)]
    results = [None] * 4

    def work(i):
        for _ in range(5):
            results[i] = attn.attention(*inputs[i], pattern="causal")

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for (q, k, v), o in zip(inputs, results):
        want, _ = ref.attention(f64(q), f64(k), f64(v), {"kind": "causal"})
        check(o, want, DTYPES[0], "threads")


def test_out_layout_bnhd_returns_out(seed):
    gen = torch.Generator().manual_seed(seed)
    q, k, v = (rand(gen, (1, 9, 2, D), DTYPES[0]) for _ in range(3))
    out = torch.full_like(q, math.nan)
    o = attn.attention(q, k, v, "causal", out=out, layout="bnhd")
    assert o is out
    want, _ = ref.attention(*(f64(x).transpose(0, 2, 1, 3) for x in (q, k, v)),
                            {"kind": "causal"})
    check(out.transpose(1, 2), want, DTYPES[0], "bnhd out")
