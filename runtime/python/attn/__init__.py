"""attn: attention kernels compiled just in time by the attn compiler, for
PyTorch tensors (CPU and CUDA) and numpy arrays.

    import torch, attn
    q = k = v = torch.randn(1, 8, 1024, 64)
    o = attn.attention(q, k, v, pattern="causal")

Patterns (SPEC.md): "full", "causal", or the dialect's attribute text,
e.g. "#attn.sliding_window<window = 256>", "#attn.block_causal<block = 128>",
"#attn.dilated<segments = [256, 512], rates = [1, 2]>",
"#attn.landmark<block = 64, topk = 4>"; attn.patterns builds them.
Kernels compile on first use (well under a second) and are cached on disk
($ATTN_CACHE_DIR, default ~/.cache/attn) and in this process.

With torch, the calls are the custom ops torch.ops.attn.attention,
attn.attention_out and attn.lightning (fake implementations included), so
torch.compile(fullgraph=True) traces them without a graph break. They are
forward only: there is no backward yet.
"""
from __future__ import annotations

import math
from typing import Any, Optional, Sequence, Tuple, Union

import numpy as np

from . import patterns
from . import _numpy
from . import _paged
from ._runtime import AttnError, AttnValueError

from . import _runtime

try:
    import torch
    from . import _torch
    _is_compiling = torch.compiler.is_compiling
except ImportError:  # numpy only
    torch = None
    _torch = None

__version__ = "0.1.0"
__all__ = ["attention", "paged_attention", "lightning", "merge", "alibi_slopes", "patterns",
           "AttnError", "AttnValueError", "__version__"]

if torch is not None:
    Array = Union["torch.Tensor", np.ndarray]
else:
    Array = np.ndarray  # type: ignore[misc]


_TEXTS = {}  # pattern as given -> dialect text (eager calls only)


def _scale_arg(scale: Optional[float], what: str) -> float:
    """The runtime's scale argument: 0 means the pattern's default."""
    if scale is None:
        return 0.0
    s = float(scale)  # not under torch.compile: scale is a Python number
    if s == 0.0:
        raise ValueError(f"{what}: scale must not be 0 (pass None for the "
                         "default)")
    return s


def _bnhd(layout: str, what: str) -> bool:
    if layout not in ("bhnd", "bnhd"):
        raise ValueError(f"{what}: layout must be 'bhnd' ([B, H, N, D]) or "
                         f"'bnhd' ([B, N, H, D]), got {layout!r}")
    return layout == "bnhd"


def _swap(t):
    """[B, N, H, D] <-> [B, H, N, D], a view (torch or numpy)."""
    if t is None:
        return None
    if isinstance(t, np.ndarray):
        return t.transpose(0, 2, 1, 3)
    return t.transpose(1, 2)


def _all_tensors(what: str, k, v) -> None:
    if not (isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor)):
        raise TypeError(f"{what}: q is a torch.Tensor, so k and v must be "
                        f"too (got {type(k).__name__}, {type(v).__name__})")


def attention(q: Array, k: Array, v: Array, pattern: str = "causal",
              scale: Optional[float] = None, return_lse: bool = False,
              out: Optional[Array] = None, layout: str = "bhnd"
              ) -> Union[Array, Tuple[Array, Array]]:
    """Softmax attention with a pattern: O = softmax(scale * Q K^T, masked
    by the pattern) V, as SPEC.md defines it for every pattern.

    Args:
      q: [B, H, Nq, D] queries (torch.Tensor on CPU or CUDA, or a numpy
         array), float32, float16 or bfloat16.
      k: [B, Hk, Nk, D] keys, same dtype and device; H % Hk == 0 (grouped-
         query attention: query head h reads kv head h // (H // Hk)).
      v: [B, Hk, Nk, Dv] values.
      pattern: "full", "causal", or dialect text such as
         "#attn.sliding_window<window = 256>" (see attn.patterns).
         Queries are aligned bottom-right: row i sits at position Nk - Nq + i.
      scale: the score scale; None means 1/sqrt(D).
      return_lse: also return the log-sum-exp of each row, float32
         [B, H, Nq] (natural log; -inf for a row with no key; for landmark
         patterns the top-level LSE).
      out: an optional [B, H, Nq, Dv] output to write, in q's dtype.
      layout: "bhnd" (default) or "bnhd": with "bnhd" every tensor (and the
         result) is [B, N, H, D], FlashAttention's layout.

    Any strides are taken without a copy as long as the last dimension is
    contiguous (stride 1), so q.transpose(1, 2) of a [B, N, H, D] buffer is
    fine. The result is stored like q (heads-inner when q is). CUDA tensors
    run on the current CUDA stream.

    Returns:
      O [B, H, Nq, Dv] in q's dtype, or (O, LSE) with return_lse.

    Raises:
      TypeError / ValueError for a wrong rank, dtype or device mix;
      attn.AttnValueError (a ValueError) when the runtime rejects the
      shapes, strides or pattern parameters; attn.AttnError when a kernel
      cannot compile (e.g. invalid pattern text), with the compiler's
      message.
    """
    what = "attn.attention"
    # The common eager call on torch tensors: the compiled fast path (the
    # package's per-call cost matters when decoding); None means "not
    # taken" (another case, or no extension built).
    if layout == "bhnd" and _torch is not None and _torch.fast is not None \
            and not _is_compiling():
        text = _TEXTS.get(pattern) if type(pattern) is str else None
        if text is None:
            text = patterns.normalize(pattern)
            if len(_TEXTS) < 256 and type(pattern) is str:
                _TEXTS[pattern] = text
        r = _torch.fast(q, k, v, text,
                        0.0 if scale is None else _scale_arg(scale, what),
                        return_lse, out)
        if r is not None:
            if type(r) is int:
                _runtime.raise_status(r, f"attn.attention({text})")
            return r if return_lse else r[0]
    # Without the extension: the same with as little Python as possible.
    if out is None and layout == "bhnd" and _torch is not None and \
            _torch.eager_ok(q, k, v):
        text = _TEXTS.get(pattern) if type(pattern) is str else None
        if text is None:
            text = patterns.normalize(pattern)
            if len(_TEXTS) < 256:
                _TEXTS[pattern] = text
        o, lse = _torch.attention_eager(
            q, k, v, text, 0.0 if scale is None else _scale_arg(scale, what),
            return_lse)
        return (o, lse) if return_lse else o
    text = patterns.normalize(pattern)
    s = _scale_arg(scale, what)
    given_out = out
    if _bnhd(layout, what):
        q, k, v, out = _swap(q), _swap(k), _swap(v), _swap(out)
    if torch is not None and isinstance(q, torch.Tensor):
        _all_tensors(what, k, v)
        if out is None:
            if _torch.eager_ok(q, k, v):  # layout="bnhd"
                o, lse = _torch.attention_eager(q, k, v, text, s, return_lse)
            else:
                o, lse = torch.ops.attn.attention(q, k, v, text, s,
                                                  return_lse)
        else:
            if not isinstance(out, torch.Tensor):
                raise TypeError(f"{what}: out must be a torch.Tensor like q")
            lse = (q.new_empty(q.shape[:3], dtype=torch.float32)
                   if return_lse and q.dim() == 4 else None)
            torch.ops.attn.attention_out(q, k, v, out, lse, text, s)
            o = out
    elif isinstance(q, np.ndarray):
        res = _numpy.attention(q, k, v, text, s, return_lse, out)
        o, lse = res if return_lse else (res, None)
    else:
        raise TypeError(f"{what}: q must be a torch.Tensor or a numpy array, "
                        f"got {type(q).__name__}")
    if given_out is not None:
        o = given_out
    elif layout == "bnhd":
        o = _swap(o)
    return (o, lse) if return_lse else o


def paged_attention(q: Array, k_cache: Array, v_cache: Array,
                    block_table: Any, kv_lens: Any, pattern: str = "causal",
                    scale: Optional[float] = None, return_lse: bool = False,
                    out: Optional[Array] = None
                    ) -> Union[Array, Tuple[Array, Array]]:
    """Attention over a paged K/V cache (vLLM's layout): as attention(), with
    the keys of each sequence gathered from pages.

    Args:
      q: [B, H, Nq, D] queries (torch.Tensor or numpy array; float32,
         float16 or bfloat16).
      k_cache: [P, S, Hk, D] keys: P pages of S rows (any strides with the
         last one 1, so k.transpose(1, 2) of a [P, Hk, S, D] buffer works).
      v_cache: [P, S, Hk, Dv] values, paged alike.
      block_table: [B, M] integers, the pages of each sequence in order
         (converted to int32).
      kv_lens: [B] integers, the key count of each sequence (at most M S).
      pattern: "full", "causal", "#attn.sliding_window<...>" or
         "#attn.block_causal<...>". Query row i of sequence b sits at
         position kv_lens[b] - Nq + i.
      scale, return_lse, out: as in attention().

    Key j of sequence b is row j % S of page block_table[b, j // S]. On the
    CPU every length and page number used is checked (AttnValueError); on a
    GPU the kernel clamps them. On torch tensors (without out=) it is the
    custom op torch.ops.attn.paged_attention, which torch.compile traces.
    """
    text = patterns.normalize(pattern)
    s = _scale_arg(scale, "attn.paged_attention")
    if torch is not None and isinstance(q, torch.Tensor) and out is None:
        # The custom op (torch.compile traces it): tables as int32 tensors
        # on q's device first.
        what = f"attn.paged_attention({text})"
        table = _paged.index_tensor(block_table, "block_table", 2, what,
                                    q.device)
        lens = _paged.index_tensor(kv_lens, "kv_lens", 1, what, q.device)
        o, lse = torch.ops.attn.paged_attention(q, k_cache, v_cache, table,
                                                lens, text, s, return_lse)
        return (o, lse) if return_lse else o
    return _paged.paged_attention(q, k_cache, v_cache, block_table, kv_lens,
                                  text, s, return_lse, out)


def lightning(q: Array, k: Array, v: Array,
              slopes: Optional[Union[Array, Sequence[float]]] = None,
              state: Optional[Array] = None, return_state: bool = False,
              scale: Optional[float] = None, layout: str = "bhnd"
              ) -> Union[Array, Tuple[Array, Array]]:
    """Lightning attention (causal linear attention with per-head decay,
    TransNormerLLM / Lightning Attention-2):
    O_t = sum_{j <= p_t} lambda_h^(p_t - j) <scale q_t, k_j> v_j, with
    lambda_h = exp(-slopes[h]), plus the decayed contribution of `state`.

    Args:
      q: [B, H, N, D], k: [B, Hk, Nk, D], v: [B, Hk, Nk, Dv] (torch or
         numpy, float32/float16/bfloat16; D and Dv multiples of 8).
      slopes: [H] decay slopes (float32); None means the ALiBi slopes
         (attn.alibi_slopes(H)).
      state: float32 [B, H, D, Dv], the KV state of all earlier keys (e.g.
         from a prefill with return_state=True); None means zero.
      return_state: also return the state after the last key, float32
         [B, H, D, Dv], for the next call (a decode step with N = 1).
      scale: the score scale; None means 1.
      layout: "bhnd" (default) or "bnhd" as in attn.attention.

    Returns:
      O [B, H, N, Dv] in q's dtype, or (O, state) with return_state.
    """
    what = "attn.lightning"
    s = _scale_arg(scale, what)
    if _bnhd(layout, what):
        q, k, v = _swap(q), _swap(k), _swap(v)
    if torch is not None and isinstance(q, torch.Tensor):
        _all_tensors(what, k, v)
        if slopes is not None:
            if isinstance(slopes, torch.Tensor):
                slopes = slopes.to(dtype=torch.float32).contiguous()
            else:
                slopes = torch.as_tensor(slopes, dtype=torch.float32,
                                         device=q.device)
        if state is not None:
            if not isinstance(state, torch.Tensor):
                raise TypeError(f"{what}: state must be a torch.Tensor like q")
            state = state.to(dtype=torch.float32).contiguous()
        o, st = torch.ops.attn.lightning(q, k, v, slopes, state, s,
                                         return_state)
    elif isinstance(q, np.ndarray):
        res = _numpy.lightning(q, k, v, slopes, state, s, return_state, None)
        o, st = res if return_state else (res, None)
    else:
        raise TypeError(f"{what}: q must be a torch.Tensor or a numpy array, "
                        f"got {type(q).__name__}")
    if layout == "bnhd":
        o = _swap(o)
    return (o, st) if return_state else o


def merge(o1: Array, lse1: Array, o2: Array, lse2: Array
          ) -> Tuple[Array, Array]:
    """Combines two partial attention results over disjoint key sets (e.g.
    two halves of a KV cache, each from attention(..., return_lse=True)):
    LSE = ln(e^LSE1 + e^LSE2), O = e^(LSE1 - LSE) O1 + e^(LSE2 - LSE) O2; a
    side with LSE = -inf contributes nothing (both: O = 0, LSE = -inf).

    O: [..., Dv] in any float dtype (computed in float32, returned in o1's
    dtype); LSE: [...] float32. Written with torch (or numpy) operations:
    the compiler has no stand-alone merge kernel (inside a kernel, an
    attention with `accumulate` merges into O and LSE as it stores).
    """
    if torch is not None and isinstance(o1, torch.Tensor):
        l1, l2 = lse1.float(), lse2.float()
        lse = torch.logaddexp(l1, l2)
        w1 = torch.where(l1 == -math.inf, 0.0, torch.exp(l1 - lse))
        w2 = torch.where(l2 == -math.inf, 0.0, torch.exp(l2 - lse))
        o = (torch.where(w1[..., None] > 0, w1[..., None] * o1.float(), 0.0)
             + torch.where(w2[..., None] > 0, w2[..., None] * o2.float(), 0.0))
        return o.to(o1.dtype), lse
    if isinstance(o1, np.ndarray):
        return _numpy.merge(o1, lse1, o2, lse2)
    raise TypeError("attn.merge: o1 must be a torch.Tensor or a numpy array, "
                    f"got {type(o1).__name__}")


def alibi_slopes(H: int) -> np.ndarray:
    """The default lightning slopes (ALiBi): 2^(-8(h+1)/H) for H a power of
    two; otherwise the first 2^floor(log2 H) of those, then the even-indexed
    slopes of the 2 * 2^floor(log2 H) sequence. float32 [H]."""
    def pow2(n):
        return [2.0 ** (-8.0 * (i + 1) / n) for i in range(n)]
    n = 1 << (int(H).bit_length() - 1)
    s = pow2(H) if n == H else pow2(n) + pow2(2 * n)[0::2][:H - n]
    return np.array(s, dtype=np.float32)
