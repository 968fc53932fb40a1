"""attn.paged_attention: attention over a paged K/V cache (numpy arrays and
torch tensors), through attn_get_paged_kernel of the C API."""
from __future__ import annotations

import numpy as np

from . import _numpy
from . import _runtime as rt

try:
    import torch
except ImportError:  # numpy only
    torch = None


def _index_array(x, name: str, rank: int, what: str, like_torch: bool):
    """block_table / kv_lens as a contiguous int32 array of `rank` (torch:
    on q's device), converted from any integer dtype."""
    if like_torch:
        if not isinstance(x, torch.Tensor):
            x = torch.as_tensor(np.asarray(x))
        if x.dtype.is_floating_point or x.dtype == torch.bool:
            raise TypeError(f"{what}: {name} must hold integers, got {x.dtype}")
    else:
        x = np.asarray(x)
        if x.dtype.kind not in "iu":
            raise TypeError(f"{what}: {name} must hold integers, got {x.dtype}")
    if x.ndim != rank:
        raise ValueError(f"{what}: {name} must be {rank}-D, got shape "
                         f"{tuple(x.shape)}")
    # Values past int32 would wrap into plausible lengths or pages (a wider
    # dtype is checked eagerly; under torch.compile the values are not known).
    narrow = x.dtype in ((torch.int32, torch.int16, torch.int8, torch.uint8)
                         if like_torch else
                         (np.int32, np.int16, np.int8, np.uint8, np.uint16))
    tracing = like_torch and torch.compiler.is_compiling()
    if not narrow and not tracing and (x.numel() if like_torch else x.size):
        lo, hi = (int(x.min()), int(x.max()))
        if lo < -2**31 or hi >= 2**31:
            raise ValueError(f"{what}: {name} holds {lo if lo < -2**31 else hi}, "
                             "outside int32")
    if like_torch:
        return x.to(torch.int32).contiguous()
    return np.ascontiguousarray(x, dtype=np.int32)


def index_tensor(x, name: str, rank: int, what: str, device):
    """block_table / kv_lens as a contiguous int32 torch tensor on `device`."""
    return _index_array(x, name, rank, what, True).to(device)


def paged_attention(q, k_cache, v_cache, block_table, kv_lens, pattern: str,
                    scale: float, return_lse: bool, out):
    what = f"attn.paged_attention({pattern})"
    is_torch = torch is not None and isinstance(q, torch.Tensor)
    for name, t in (("q", q), ("k_cache", k_cache), ("v_cache", v_cache)):
        if is_torch != (torch is not None and isinstance(t, torch.Tensor)):
            raise TypeError(f"{what}: q, k_cache and v_cache must all be torch "
                            "tensors or all numpy arrays")
        if t.ndim != 4:
            raise ValueError(f"{what}: {name} must be 4-D, got shape "
                             f"{tuple(t.shape)}")
    table = _index_array(block_table, "block_table", 2, what, is_torch)
    lens = _index_array(kv_lens, "kv_lens", 1, what, is_torch)
    B, H, Nq, D = q.shape
    Dv = v_cache.shape[3]
    if is_torch:
        from . import _torch
        _torch.check_inputs(what, (("q", q), ("k_cache", k_cache),
                                   ("v_cache", v_cache)),
                            ((4, ""), (4, ""), (4, "")))
        table, lens = table.to(q.device), lens.to(q.device)
        if out is None:
            out = q.new_empty((B, H, Nq, Dv))
        else:  # a device pointer must never reach a CPU context
            _torch.check_inputs(what, (("q", q), ("out", out)),
                                ((4, ""), (4, "[B, H, Nq, Dv]")))
        lse = (torch.empty((B, H, Nq), dtype=torch.float32, device=q.device)
               if return_lse else None)
        ctx = _torch._context(q.device)

        def desc(t, name):
            return (t.data_ptr(), _torch.dtype_code(t, name, what), t.shape,
                    t.stride())
        index = [(t.data_ptr(), rt.I32, t.shape, t.stride())
                 for t in (table, lens)]
    else:
        if out is None:
            out = np.empty((B, H, Nq, Dv), dtype=q.dtype)
        else:
            _numpy.check_rank(out, "out", 4, what, "[B, H, Nq, Dv]")
            if not out.flags.writeable:
                raise ValueError(f"{what}: out is read-only")
        lse = np.empty((B, H, Nq), dtype=np.float32) if return_lse else None
        ctx = rt.context(rt.CPU)[0]

        def desc(t, name):
            return _numpy.described(t, name, what)
        index = [(t.ctypes.data, rt.I32, t.shape,
                  tuple(s // 4 for s in t.strides)) for t in (table, lens)]
    dq = desc(q, "q")
    args = [dq, desc(k_cache, "k_cache"), desc(v_cache, "v_cache"), *index,
            desc(out, "out")]
    if lse is not None:
        args.append(desc(lse, "lse") if is_torch else
                    (lse.ctypes.data, rt.F32, lse.shape,
                     tuple(s // 4 for s in lse.strides)))
    kern = rt.paged_kernel(ctx, pattern, dq[1], D, Dv, scale, lse is not None)
    rt.launch(ctx, kern, args, what)
    return (out, lse) if return_lse else out
