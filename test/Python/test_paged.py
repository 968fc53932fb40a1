"""attn.paged_attention (a paged K/V cache, vLLM's layout) against the
float64 reference from SPEC.md (test/Numerics/reference.py:
paged_attention gathers each sequence's pages and runs the reference
attention on them), on fresh random inputs, pages shuffled, outputs poisoned
(NaN) before each run; and its errors."""
import math

import numpy as np
import pytest
import torch

import attn
import reference as ref

from conftest import DEVICE, PARAMS
# The dtypes, head dim and tolerances of the attention tests (CPU or GPU).
from test_attention import D, DTYPES, TOL, tdtype

CUDA = PARAMS == "cuda"
PATTERNS = {
    "full": "full",
    "causal": "causal",
    "sliding_window": "#attn.sliding_window<window = 7>",
    "block_causal": "#attn.block_causal<block = 8>",
}
# (B, H, Hk, Nq, page size, pages per sequence, lengths): decoding with
# GQA and lengths from 0 (no keys) to full, pages of one key, chunks of
# queries longer than some sequences, MHA with a long page.
SHAPES = {
    "decode_gqa": (4, 8, 2, 1, 16, 4, [0, 1, 37, 64]),
    "decode_page1": (2, 4, 4, 1, 1, 40, [40, 23]),
    "chunk": (3, 4, 2, 5, 4, 6, [3, 24, 13]),
    "mha_long_page": (2, 2, 2, 3, 64, 2, [100, 64]),
}


def f64(t):
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()


def cache_and_table(gen, B, Hk, S, M, lens, dtype, layout):
    """A cache of more pages than the sequences use, the used ones shuffled
    over it; table entries past a sequence's length hold -1 (never read)."""
    P = B * M + 3
    if layout == "hnd":  # [P, Hk, S, D] storage, passed as a [P, S, Hk, D] view
        k = torch.randn((P, Hk, S, D), generator=gen).transpose(1, 2)
        v = torch.randn((P, Hk, S, D), generator=gen).transpose(1, 2)
    else:
        k = torch.randn((P, S, Hk, D), generator=gen)
        v = torch.randn((P, S, Hk, D), generator=gen)
    k = k.to(dtype=tdtype(dtype), device=DEVICE)
    v = v.to(dtype=tdtype(dtype), device=DEVICE)
    perm = torch.randperm(P, generator=gen)
    table = torch.full((B, M), -1, dtype=torch.int32)
    for b in range(B):
        used = (lens[b] + S - 1) // S
        table[b, :used] = perm[b * M:b * M + used].to(torch.int32)
    return k, v, table


@pytest.mark.parametrize("layout", ["nhd", "hnd"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", list(PATTERNS))
@pytest.mark.parametrize("shape", list(SHAPES))
def test_paged(shape, name, dtype, layout, seed):
    B, H, Hk, Nq, S, M, lens = SHAPES[shape]
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn((B, H, Nq, D), generator=gen).to(tdtype(dtype)).to(DEVICE)
    k, v, table = cache_and_table(gen, B, Hk, S, M, lens, dtype, layout)
    kv_lens = torch.tensor(lens, dtype=torch.int32)
    pattern = PATTERNS[name]
    text = pattern if pattern.startswith("#") else "#attn." + pattern
    want_o, want_lse = ref.paged_attention(f64(q), f64(k), f64(v),
                                           table.numpy(), lens,
                                           ref.pattern_from_text(text))
    out = torch.full((B, H, Nq, D), math.nan, dtype=tdtype(dtype), device=DEVICE)
    o, lse = attn.paged_attention(q, k, v, table.to(DEVICE), kv_lens.to(DEVICE),
                                  pattern=pattern, return_lse=True, out=out)
    assert o is out
    _, rel = ref.rel_error(f64(o), want_o)
    assert rel <= TOL[dtype], f"{shape} {name} {dtype} {layout}: error {rel:.3g}"
    got_lse = f64(lse)
    assert np.array_equal(np.isneginf(got_lse), np.isneginf(want_lse))
    fin = np.isfinite(want_lse)
    assert np.abs(got_lse[fin] - want_lse[fin]).max() <= 1e-3 * max(
        1.0, np.abs(want_lse[fin]).max())


def test_paged_numpy_matches_contiguous(seed):
    """numpy arrays, int64 tables (converted), and the same numbers as
    attn.attention on the gathered contiguous K/V."""
    if DEVICE != "cpu":
        pytest.skip("numpy arrays run on the CPU")
    rng = np.random.default_rng(seed)
    B, H, Hk, S, M = 2, 4, 2, 8, 3
    lens = [20, 9]
    P = 7
    k = rng.standard_normal((P, S, Hk, D)).astype(np.float32)
    v = rng.standard_normal((P, S, Hk, D)).astype(np.float32)
    q = rng.standard_normal((B, H, 1, D)).astype(np.float32)
    table = np.array([[5, 0, 3], [6, 2, 0]], dtype=np.int64)
    o = attn.paged_attention(q, k, v, table, lens)
    for b in range(B):
        j = np.arange(lens[b])
        kb = k[table[b, j // S], j % S].transpose(1, 0, 2)[None].copy()
        vb = v[table[b, j // S], j % S].transpose(1, 0, 2)[None].copy()
        want = attn.attention(q[b:b + 1], kb, vb, pattern="causal")
        np.testing.assert_allclose(o[b:b + 1], want, rtol=1e-5, atol=1e-6)


def small(dtype=torch.float32):
    q = torch.randn(2, 4, 1, D, dtype=dtype, device=DEVICE)
    k = torch.randn(6, 4, 2, D, dtype=dtype, device=DEVICE)
    v = torch.randn(6, 4, 2, D, dtype=dtype, device=DEVICE)
    table = torch.tensor([[0, 1], [2, 3]], dtype=torch.int32, device=DEVICE)
    lens = torch.tensor([5, 8], dtype=torch.int32, device=DEVICE)
    return q, k, v, table, lens


@pytest.mark.skipif(DEVICE != "cpu", reason="the CPU launch checks contents")
def test_paged_errors():
    dt = torch.float16 if CUDA else torch.float32
    q, k, v, table, lens = small(dt)
    with pytest.raises(attn.AttnValueError, match=r"kv_lens\[1\] = 9 is outside \[0, 8\]"):
        attn.paged_attention(q, k, v, table, torch.tensor([5, 9]))
    with pytest.raises(attn.AttnValueError, match=r"kv_lens\[0\] = -1"):
        attn.paged_attention(q, k, v, table, torch.tensor([-1, 2]))
    with pytest.raises(attn.AttnValueError,
                       match=r"block_table\[1, 1\] = 6 is not a page of the cache"):
        attn.paged_attention(q, k, v, torch.tensor([[0, 1], [2, 6]]), lens)
    # Entries past a sequence's length are not pages it uses: not checked.
    attn.paged_attention(q, k, v, torch.tensor([[0, 99], [2, 3]]),
                         torch.tensor([4, 8]))
    with pytest.raises(attn.AttnValueError, match="must agree on pages"):
        attn.paged_attention(q, k, v[:5], table, lens)
    with pytest.raises(attn.AttnValueError, match="batch sizes differ"):
        attn.paged_attention(q, k, v, table[:1], lens)
    with pytest.raises(TypeError, match="block_table must hold integers"):
        attn.paged_attention(q, k, v, table.float(), lens)
    with pytest.raises(ValueError, match="kv_lens must be 1-D"):
        attn.paged_attention(q, k, v, table, lens[None])
    with pytest.raises(ValueError, match="kv_lens holds 4294967301, outside int32"):
        attn.paged_attention(q, k, v, table, torch.tensor([5, 2**32 + 5]))
    with pytest.raises(TypeError, match="out must be a torch.Tensor"):
        attn.paged_attention(q, k, v, table, lens, out=[0.0])
    with pytest.raises(ValueError, match="out must be 4-D"):
        attn.paged_attention(q, k, v, table, lens, out=torch.empty(2, 4, D))
    with pytest.raises(attn.AttnError, match="interval pattern"):
        attn.paged_attention(q, k, v, table, lens,
                             pattern="#attn.dilated<segments = [4], rates = [2]>")


def test_paged_custom_op_and_compile(seed):
    """torch.ops.attn.paged_attention (what attn.paged_attention calls on
    tensors) under torch.compile(fullgraph=True): the same numbers."""
    dt = torch.float16 if CUDA else torch.float32
    q, k, v, table, lens = small(dt)
    want = attn.paged_attention(q, k, v, table, lens)

    @torch.compile(fullgraph=True, backend="eager")
    def step(q, k, v, table, lens):
        return attn.paged_attention(q, k, v, table, lens, pattern="causal") * 2

    got = step(q, k, v, table, lens)
    torch.testing.assert_close(got, want * 2)
    o, lse = torch.ops.attn.paged_attention(q, k, v, table, lens, "#attn.causal",
                                            0.0, True)
    torch.testing.assert_close(o, want)
    assert lse.shape == (2, 4, 1) and torch.isfinite(lse).all()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(3, 8, 2, 1, 70), (2, 4, 2, 2, 33), (1, 4, 1, 1, 130)])
def test_gqa_packed_decode_bnhd(shape, dtype, seed):
    """Decoding on [B, N, Hk, D] storage (a head's keys strided): the CPU
    packs the query heads of a KV head as the rows of one work item (as for
    a paged cache); causal and a window, against the float64 reference."""
    B, H, Hk, Nq, Nk = shape
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn((B, H, Nq, D), generator=gen).to(tdtype(dtype)).to(DEVICE)
    k = torch.randn((B, Nk, Hk, D), generator=gen).to(tdtype(dtype)).to(DEVICE)
    v = torch.randn((B, Nk, Hk, D), generator=gen).to(tdtype(dtype)).to(DEVICE)
    k, v = k.transpose(1, 2), v.transpose(1, 2)
    for pattern in ("causal", "#attn.sliding_window<window = 9>"):
        text = pattern if pattern.startswith("#") else "#attn." + pattern
        want_o, want_lse = ref.attention(f64(q), f64(k), f64(v),
                                         ref.pattern_from_text(text))
        out = torch.full((B, H, Nq, D), math.nan, dtype=tdtype(dtype), device=DEVICE)
        o, lse = attn.attention(q, k, v, pattern=pattern, return_lse=True, out=out)
        _, rel = ref.rel_error(f64(o), want_o)
        assert rel <= TOL[dtype], f"{shape} {pattern} {dtype}: error {rel:.3g}"
        fin = np.isfinite(want_lse)
        assert np.abs(f64(lse)[fin] - want_lse[fin]).max() <= 1e-3 * max(
            1.0, np.abs(want_lse[fin]).max())
