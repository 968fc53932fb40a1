"""The compiled fast path of attn.attention (attn._ext, the nanobind module of
runtime/python/ext): that it is the path eager calls take when it is built,
that it computes what the Python path and the float64 reference compute, on
fresh random inputs and poisoned outputs, and that every call it must not
take (autograd, tensor subclasses, dispatch modes, other devices, tuning
buckets) goes to the Python path. ATTN_EXPECT_EXT=1 (lit sets it when the
build has the module for this Python) makes its absence a failure."""
import os
import threading

import numpy as np
import pytest
import torch

import attn
from attn import _torch as at
import reference as ref

from conftest import DEVICE, PARAMS

CUDA = PARAMS == "cuda"
DT = torch.float16 if CUDA else torch.float32
TOL = 1e-2 if CUDA else 1e-5
D = 64


def rand(gen, *shape):
    return torch.randn(shape, generator=gen).to(device=DEVICE, dtype=DT)


def ext_loaded():
    """Makes one call (which loads the extension on first use); whether the
    fast path exists."""
    q = torch.zeros(1, 1, 2, D, device=DEVICE, dtype=DT)
    attn.attention(q, q, q)
    return at.fast is not None


needs_ext = pytest.mark.skipif(
    os.environ.get("ATTN_NO_EXT") == "1",
    reason="ATTN_NO_EXT=1: the Python path only")


@needs_ext
def test_extension_is_there_when_built():
    loaded = ext_loaded()
    if os.environ.get("ATTN_EXPECT_EXT") == "1":
        assert loaded, "attn._ext was built for this Python but did not load"
    if not loaded:
        pytest.skip("attn._ext not built for this Python")
    assert at.ext.__name__ == "attn._ext"


@pytest.fixture
def ext():
    if os.environ.get("ATTN_NO_EXT") == "1" or not ext_loaded():
        pytest.skip("no attn._ext")
    return at.ext


@pytest.fixture
def python_path_fails(monkeypatch):
    """Makes the Python path raise: a call that still succeeds went through
    the extension."""
    def refuse(*args, **kwargs):
        raise AssertionError("the Python path ran")
    monkeypatch.setattr(at, "attention_eager", refuse)
    monkeypatch.setattr(at, "launch_attention", refuse)


CASES = [
    # (pattern, H, Hk, Nq, Nk, heads-inner q/k/v views, return_lse, out=)
    ("causal", 4, 4, 33, 33, False, False, False),
    ("full", 4, 2, 5, 40, False, True, False),
    ("#attn.sliding_window<window = 7>", 6, 2, 29, 29, True, True, False),
    ("#attn.block_causal<block = 8>", 2, 1, 24, 24, False, False, True),
    ("#attn.dilated<segments = [8, 16], rates = [1, 2]>", 4, 4, 32, 32, False,
     False, False),
    ("#attn.dilated<segments = [8, 16], rates = [1, 2]>", 4, 4, 32, 32, True,
     True, True),
    ("#attn.landmark<block = 16>", 2, 2, 64, 64, False, True, False),
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0][:24])
def test_fast_path_against_reference(ext, python_path_fails, seed, case):
    pattern, H, Hk, Nq, Nk, inner, lse, use_out = case
    gen = torch.Generator().manual_seed(seed)
    if inner:  # [B, N, H, D] buffers seen as [B, H, N, D]
        q = rand(gen, 2, Nq, H, D).transpose(1, 2)
        k = rand(gen, 2, Nk, Hk, D).transpose(1, 2)
        v = rand(gen, 2, Nk, Hk, D).transpose(1, 2)
    else:
        q, k, v = rand(gen, 2, H, Nq, D), rand(gen, 2, Hk, Nk, D), rand(gen, 2, Hk, Nk, D)
    out = None
    if use_out:
        out = torch.full((2, H, Nq, D), float("nan"), device=DEVICE, dtype=DT)
    r = attn.attention(q, k, v, pattern, return_lse=lse, out=out)
    o, l = r if lse else (r, None)
    if use_out:
        assert o is out
    if inner and not use_out:  # stored like q: heads-inner
        assert o.stride(1) < o.stride(2)
    want_o, want_l = ref.attention(q.double().cpu().numpy(),
                                   k.double().cpu().numpy(),
                                   v.double().cpu().numpy(),
                                   ref.pattern_from_text(
                                       attn.patterns.normalize(pattern)))
    err = ref.rel_error(o.double().cpu().numpy(), want_o)[1]
    assert err < TOL, err
    if lse:
        assert l.dtype == torch.float32 and tuple(l.shape) == (2, H, Nq)
        np.testing.assert_allclose(l.double().cpu().numpy(), want_l, rtol=0,
                                   atol=5e-3 if CUDA else 1e-4)


def test_fast_and_python_paths_agree(ext, seed, monkeypatch):
    """The same kernel behind both: the same bits."""
    gen = torch.Generator().manual_seed(seed)
    q, k, v = rand(gen, 1, 4, 50, D), rand(gen, 1, 2, 50, D), rand(gen, 1, 2, 50, D)
    o1, l1 = attn.attention(q, k, v, "causal", scale=0.3, return_lse=True)
    monkeypatch.setattr(at, "fast", None)
    o2, l2 = attn.attention(q, k, v, "causal", scale=0.3, return_lse=True)
    assert torch.equal(o1, o2) and torch.equal(l1, l2)


def test_calls_it_must_not_take(ext, seed, monkeypatch):
    """The extension answers None (the Python path's turn) for autograd,
    subclasses, dispatch modes and other devices; ATTN_AUTOTUNE=1 too."""
    gen = torch.Generator().manual_seed(seed)
    q = rand(gen, 1, 2, 8, D)
    args = ("#attn.causal", 0.0, False, None)
    assert ext.attention(q, q, q, *args) is not None
    g = q.clone().requires_grad_()
    assert ext.attention(g, q, q, *args) is None
    with torch.no_grad():  # no autograd: taken
        assert ext.attention(g, q, q, *args) is not None
    p = torch.nn.Parameter(q.clone(), requires_grad=False)
    assert ext.attention(p, q, q, *args) is None
    from torch.utils._python_dispatch import TorchDispatchMode

    class Passthrough(TorchDispatchMode):
        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            return func(*args, **(kwargs or {}))
    with Passthrough():
        assert ext.attention(q, q, q, *args) is None
    m = torch.empty(1, 2, 8, D, device="meta", dtype=DT)
    assert ext.attention(m, m, m, *args) is None
    assert ext.attention(q, q, q[0], *args) is None  # rank 3: Python reports
    assert ext.attention(q.double(), q.double(), q.double(), *args) is None
    if DEVICE == "cuda":
        assert ext.attention(q, q.cpu(), q, *args) is None
    monkeypatch.setenv("ATTN_AUTOTUNE", "1")
    assert ext.attention(q, q, q, *args) is None


def test_launch_errors_are_statuses(ext):
    """A launch the runtime refuses comes back as its attn_status (1:
    invalid argument) with the message in attn_last_error; attn.attention
    raises it."""
    q = torch.zeros(1, 3, 8, D, device=DEVICE, dtype=DT)
    k = torch.zeros(1, 2, 8, D, device=DEVICE, dtype=DT)
    assert ext.attention(q, k, k, "#attn.causal", 0.0, False, None) == 1
    with pytest.raises(attn.AttnValueError, match="multiple of kv heads"):
        attn.attention(q, k, k)


def test_threads(ext, seed):
    """Calls from several threads at once (on CUDA each thread gets its own
    context and its current stream)."""
    gen = torch.Generator().manual_seed(seed)
    qs = [rand(gen, 1, 2, 40, D) for _ in range(4)]
    want = [attn.attention(q, q, q, "causal") for q in qs]
    got = [None] * 4

    def run(i):
        for _ in range(20):
            got[i] = attn.attention(qs[i], qs[i], qs[i], "causal")
        if DEVICE == "cuda":
            torch.cuda.current_stream().synchronize()
    ts = [threading.Thread(target=run, args=(i,)) for i in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for g, w in zip(got, want):
        assert torch.equal(g, w)
