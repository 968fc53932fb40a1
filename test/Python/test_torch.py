"""The torch side: custom ops (opcheck), torch.compile(fullgraph=True),
error cases with the runtime's messages, CUDA streams, docstrings."""
import math

import numpy as np
import pytest
import torch

import attn
import reference as ref

from conftest import DEVICE, PARAMS

CUDA = PARAMS == "cuda"
DT = torch.float16 if CUDA else torch.float32
D = 64


def rand(*shape, dtype=DT):
    return torch.randn(shape, device=DEVICE).to(dtype)


# --- opcheck -------------------------------------------------------------------

@pytest.mark.parametrize("pattern,lse", [("#attn.causal", True),
                                         ("#attn.sliding_window<window = 4>", False),
                                         ("#attn.dilated<segments = [8], rates = [2]>", True)])
def test_opcheck_attention(pattern, lse):
    q, k, v = rand(2, 4, 17, D), rand(2, 2, 17, D), rand(2, 2, 17, D)
    torch.library.opcheck(torch.ops.attn.attention.default,
                          (q, k, v, pattern, 0.0, lse))
    # Strided [B, N, H, D] views: the output is stored like q.
    qb, kb, vb = (x.transpose(1, 2).contiguous().transpose(1, 2) for x in (q, k, v))
    torch.library.opcheck(torch.ops.attn.attention.default,
                          (qb, kb, vb, pattern, 0.5, lse))


def test_opcheck_attention_out():
    q, k, v = rand(1, 2, 9, D), rand(1, 2, 9, D), rand(1, 2, 9, D)
    out = torch.empty_like(q)
    lse = torch.empty(1, 2, 9, device=DEVICE)
    torch.library.opcheck(torch.ops.attn.attention_out.default,
                          (q, k, v, out, lse, "#attn.causal", 0.0))
    torch.library.opcheck(torch.ops.attn.attention_out.default,
                          (q, k, v, out, None, "#attn.full", 0.0))


def test_opcheck_lightning():
    q, k, v = (0.3 * rand(1, 2, 11, 64) for _ in range(3))
    slopes = torch.rand(2, device=DEVICE)
    state = torch.randn(1, 2, 64, 64, device=DEVICE)
    torch.library.opcheck(torch.ops.attn.lightning.default,
                          (q, k, v, slopes, state, 0.0, True))
    torch.library.opcheck(torch.ops.attn.lightning.default,
                          (q, k, v, None, None, 0.0, False))


# --- torch.compile -------------------------------------------------------------

class Block(torch.nn.Module):
    """A small attention block: projections, attn.attention on [B, N, H, D]
    views, merge of two KV halves, lightning with a returned state."""

    def __init__(self, dim=128, heads=2):
        super().__init__()
        self.heads = heads
        self.qkv = torch.nn.Linear(dim, 3 * dim)
        self.proj = torch.nn.Linear(dim, dim)

    def forward(self, x):
        B, N, C = x.shape
        qkv = self.qkv(x).view(B, N, 3, self.heads, C // self.heads)
        q, k, v = qkv.unbind(2)
        o = attn.attention(q, k, v, pattern="causal", layout="bnhd")
        o2, lse = attn.attention(q.transpose(1, 2), k.transpose(1, 2),
                                 v.transpose(1, 2),
                                 pattern=attn.patterns.sliding_window(3),
                                 return_lse=True)
        a = attn.attention(q[:, -1:].transpose(1, 2), k[:, :8].transpose(1, 2),
                           v[:, :8].transpose(1, 2), "full", return_lse=True)
        b = attn.attention(q[:, -1:].transpose(1, 2), k[:, 8:].transpose(1, 2),
                           v[:, 8:].transpose(1, 2), "full", return_lse=True)
        m, _ = attn.merge(a[0], a[1], b[0], b[1])
        lo, st = attn.lightning(q, k, v, return_state=True, layout="bnhd")
        y = self.proj((o + o2.transpose(1, 2) + lo).reshape(B, N, C))
        return y + m.sum() + lse.sum() * 1e-3 + st.sum() * 1e-3


@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph(dynamic):
    torch.manual_seed(0)
    model = Block().to(DEVICE).to(DT)
    x = rand(2, 16, 128)
    with torch.no_grad():
        want = model(x)
        compiled = torch.compile(model, fullgraph=True, dynamic=dynamic,
                                 backend="aot_eager")
        got = compiled(x)
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-4)
        if dynamic:  # another length, no graph break, no error
            x2 = rand(2, 24, 128)
            torch.testing.assert_close(compiled(x2), model(x2), rtol=1e-4, atol=1e-4)


def test_compile_inductor_out():
    """Inductor, and the mutating out= op (auto-functionalized)."""
    def f(q, k, v, out):
        attn.attention(q, k, v, "causal", out=out)
        return out * 2

    q, k, v = rand(1, 2, 9, D), rand(1, 2, 9, D), rand(1, 2, 9, D)
    want = f(q, k, v, torch.empty_like(q))
    got = torch.compile(f, fullgraph=True)(q, k, v, torch.empty_like(q))
    torch.testing.assert_close(got, want)


def test_no_graph_break_count():
    """torch._dynamo.explain: one graph, no break."""
    def f(q, k, v):
        return attn.attention(q, k, v, "#attn.block_causal<block = 4>") + 1

    q, k, v = rand(1, 2, 9, D), rand(1, 2, 9, D), rand(1, 2, 9, D)
    torch._dynamo.reset()
    e = torch._dynamo.explain(f)(q, k, v)
    assert e.graph_break_count == 0 and e.graph_count == 1


# --- errors --------------------------------------------------------------------

def test_errors():
    q, k, v = rand(1, 2, 8, D), rand(1, 2, 8, D), rand(1, 2, 8, D)
    with pytest.raises(ValueError, match="4-D"):
        attn.attention(q[0], k, v)
    with pytest.raises(TypeError, match="dtype"):
        attn.attention(q.double(), k.double(), v.double())
    with pytest.raises(TypeError, match="dtype"):
        attn.attention(q.to(torch.int32), k, v)
    with pytest.raises(ValueError, match="one device"):
        attn.attention(q, k.to("meta"), v)
    with pytest.raises(ValueError, match="unknown pattern"):
        attn.attention(q, k, v, pattern="diagonal")
    with pytest.raises(ValueError, match="attn.lightning"):
        attn.attention(q, k, v, pattern="#attn.lightning")
    with pytest.raises(ValueError, match="scale"):
        attn.attention(q, k, v, scale=0)
    with pytest.raises(ValueError, match="layout"):
        attn.attention(q, k, v, layout="nhd")
    with pytest.raises(TypeError, match="numpy"):
        attn.attention([1.0], k, v)
    with pytest.raises(TypeError):
        attn.attention(q, k.cpu().numpy(), v)


def test_runtime_errors_carry_its_message():
    q, k, v = rand(1, 3, 8, D), rand(1, 2, 8, D), rand(1, 2, 8, D)
    # Non-divisible GQA: the runtime's message, as a ValueError.
    with pytest.raises(attn.AttnValueError,
                       match="H = 3 must be a multiple of kv heads Hk = 2") as e:
        attn.attention(q, k, v)
    assert isinstance(e.value, ValueError)
    assert e.value.status_name == "ATTN_ERROR_INVALID_ARGUMENT"
    q = rand(1, 2, 8, D)
    with pytest.raises(attn.AttnValueError, match="dimension 3 must be"):
        attn.attention(q, rand(1, 2, 8, D // 2), v)
    with pytest.raises(attn.AttnValueError):  # innermost stride 2
        attn.attention(rand(1, 2, 8, 2 * D)[..., ::2], k, v)
    with pytest.raises(attn.AttnValueError):  # out overlaps an input
        attn.attention(q, k, v, out=q)
    with pytest.raises(attn.AttnValueError):  # out of the wrong shape
        attn.attention(q, k, v, out=torch.empty(1, 2, 7, D, device=DEVICE, dtype=DT))
    # Invalid pattern text: the compiler's diagnostic.
    with pytest.raises(attn.AttnError, match="must be positive, got -1") as e:
        attn.attention(q, k, v, "#attn.sliding_window<window = -1>")
    assert e.value.status_name == "ATTN_ERROR_COMPILE"
    with pytest.raises(attn.AttnError, match="not a multiple of its rate 3"):
        attn.attention(q, k, v, "#attn.dilated<segments = [8], rates = [3]>")
    with pytest.raises(attn.AttnError, match="unbalanced"):
        attn.attention(q, k, v, "#attn.sliding_window<window = 2")
    with pytest.raises(attn.AttnValueError):  # dilated needs Nq == Nk
        attn.attention(q[:, :, :4], k, v, "#attn.dilated<segments = [8], rates = [2]>")
    # Lightning: a state of the wrong shape.
    with pytest.raises(attn.AttnValueError):
        attn.lightning(rand(1, 2, 8, 64), rand(1, 2, 8, 64), rand(1, 2, 8, 64),
                       state=torch.zeros(1, 2, 64, 32, device=DEVICE))
    with pytest.raises(ValueError, match="1-D"):
        attn.lightning(rand(1, 2, 8, 64), rand(1, 2, 8, 64), rand(1, 2, 8, 64),
                       slopes=torch.ones(2, 2))
    # The same errors through the op (what torch.compile calls).
    with pytest.raises(attn.AttnValueError, match="multiple of kv heads"):
        torch.ops.attn.attention(rand(1, 3, 8, D), k, v, "#attn.causal", 0.0, False)


@pytest.mark.skipif(CUDA, reason="numpy arrays are CPU only")
def test_numpy_errors():
    q = np.zeros((1, 2, 8, D), np.float32)
    with pytest.raises(TypeError, match="dtype"):
        attn.attention(q.astype(np.float64), q, q)
    with pytest.raises(ValueError, match="4-D"):
        attn.attention(q[0], q, q)
    with pytest.raises(attn.AttnValueError, match="multiple of kv heads"):
        attn.attention(np.zeros((1, 3, 8, D), np.float32), q, q)
    with pytest.raises(ValueError, match="read-only"):
        out = np.zeros_like(q)
        out.flags.writeable = False
        attn.attention(q, q, q, out=out)


def test_backward_is_refused():
    q = rand(1, 2, 8, D).requires_grad_()
    o = attn.attention(q, q.detach(), q.detach())
    with pytest.raises(Exception, match="no backward"):
        o.sum().backward()


# --- CUDA streams --------------------------------------------------------------

@pytest.mark.skipif(DEVICE != "cuda", reason="needs ATTN_TEST_DEVICE=cuda")
def test_cuda_current_stream():
    """A launch goes to the caller's current stream: work queued before it
    on a side stream is seen, and the result is ready after that stream."""
    s = torch.cuda.Stream()
    q, k, v = rand(2, 4, 300, D), rand(2, 4, 300, D), rand(2, 4, 300, D)
    want = attn.attention(q, k, v, "causal")
    torch.cuda.synchronize()
    with torch.cuda.stream(s):
        q2 = q * 1  # queued on s, before the attention
        got = attn.attention(q2, k, v, "causal")
    s.synchronize()
    torch.testing.assert_close(got, want)
    if torch.cuda.device_count() > 1:
        with torch.cuda.device(1):
            q1, k1, v1 = q.to("cuda:1"), k.to("cuda:1"), v.to("cuda:1")
            torch.testing.assert_close(attn.attention(q1, k1, v1).cpu(),
                                       want.cpu())


# --- docs ----------------------------------------------------------------------

def test_docstrings():
    for f in (attn.attention, attn.lightning, attn.merge):
        assert f.__doc__ and "Args" in f.__doc__ or "LSE" in f.__doc__
    assert "pattern" in attn.attention.__doc__
    assert attn.attention.__annotations__
