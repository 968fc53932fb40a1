"""attn.attention / attn.lightning / attn.merge on numpy arrays (CPU)."""
from __future__ import annotations

import numpy as np

from . import _runtime as rt


def dtype_code(a: np.ndarray, name: str, what: str) -> int:
    dt = a.dtype
    if dt == np.float32:
        return rt.F32
    if dt == np.float16:
        return rt.F16
    if dt.name == "bfloat16":  # ml_dtypes.bfloat16
        return rt.BF16
    raise TypeError(f"{what}: {name} has dtype {dt}; expected float32, "
                    "float16 or bfloat16")


def described(a: np.ndarray, name: str, what: str):
    """(pointer, dtype, shape, strides in elements) of an array."""
    code = dtype_code(a, name, what)
    item = a.dtype.itemsize
    if any(s % item for s in a.strides):
        raise ValueError(f"{what}: {name} has strides {a.strides} bytes, not "
                         f"multiples of its element size {item}")
    return (a.ctypes.data, code, a.shape, tuple(s // item for s in a.strides))


def check_rank(a, name: str, rank: int, what: str, dims: str) -> None:
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what}: {name} must be a numpy array like q, got "
                        f"{type(a).__name__}")
    if a.ndim != rank:
        raise ValueError(f"{what}: {name} must be {rank}-D {dims}, got shape "
                         f"{a.shape}")


def empty_like_layout(q: np.ndarray, shape4, dtype) -> np.ndarray:
    """A new [B, H, N, Dv] array stored as q is: [B, N, H, Dv] memory when
    q's heads are closer in memory than its positions."""
    B, H, N, Dv = shape4
    if q.strides[1] < q.strides[2]:
        return np.empty((B, N, H, Dv), dtype=dtype).transpose(0, 2, 1, 3)
    return np.empty((B, H, N, Dv), dtype=dtype)


def text_is_dilated(pattern: str) -> bool:
    return pattern.startswith("#attn.dilated")


def attention(q, k, v, pattern: str, scale: float, return_lse: bool, out):
    what = f"attn.attention({pattern})"
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_rank(t, name, 4, what, "[B, H, N, D]")
    dq = described(q, "q", what)
    dk = described(k, "k", what)
    dv = described(v, "v", what)
    if out is None:
        out = empty_like_layout(q, (q.shape[0], q.shape[1], q.shape[2],
                                    v.shape[3]), q.dtype)
    else:
        check_rank(out, "out", 4, what, "[B, H, Nq, Dv]")
        if not out.flags.writeable:
            raise ValueError(f"{what}: out is read-only")
    args = [dq, dk, dv, described(out, "out", what)]
    lse = None
    # Dilated kernels merge their phases through the LSE: a scratch one.
    if return_lse or text_is_dilated(pattern):
        lse = np.empty(q.shape[:3], dtype=np.float32)
        args.append((lse.ctypes.data, rt.F32, lse.shape,
                     tuple(s // 4 for s in lse.strides)))
    ctx = rt.context(rt.CPU)[0]
    kern = rt.attention_kernel(ctx, pattern, dq[1], q.shape[3], v.shape[3],
                               scale, lse is not None,
                               (q.shape[0], q.shape[1], k.shape[1],
                                q.shape[2], k.shape[2]))
    rt.launch(ctx, kern, args, what)
    return (out, lse) if return_lse else out


def lightning(q, k, v, slopes, state, scale: float, return_state: bool, out):
    what = "attn.lightning"
    for name, t in (("q", q), ("k", k), ("v", v)):
        check_rank(t, name, 4, what, "[B, H, N, D]")
    dq = described(q, "q", what)
    args = [dq, described(k, "k", what), described(v, "v", what)]
    B, H, N, D = q.shape
    Dv = v.shape[3]
    if out is None:
        out = empty_like_layout(q, (B, H, N, Dv), q.dtype)
    else:
        check_rank(out, "out", 4, what, "[B, H, N, Dv]")
    args.append(described(out, "out", what))
    flags = 0
    keep = []
    if slopes is not None:
        s = np.ascontiguousarray(np.asarray(slopes, dtype=np.float32))
        if s.ndim != 1:
            raise ValueError(f"{what}: slopes must be 1-D [H], got shape {s.shape}")
        keep.append(s)
        args.append((s.ctypes.data, rt.F32, s.shape, (1,)))
        flags |= rt.LIGHTNING_SLOPES
    if state is not None:
        st = np.ascontiguousarray(np.asarray(state, dtype=np.float32))
        if st.ndim != 4:
            raise ValueError(f"{what}: state must be 4-D [B, H, D, Dv], got "
                             f"shape {st.shape}")
        keep.append(st)
        args.append((st.ctypes.data, rt.F32, st.shape,
                     tuple(x // 4 for x in st.strides)))
        flags |= rt.LIGHTNING_STATE_IN
    new_state = None
    if return_state:
        new_state = np.empty((B, H, D, Dv), dtype=np.float32)
        args.append((new_state.ctypes.data, rt.F32, new_state.shape,
                     tuple(x // 4 for x in new_state.strides)))
        flags |= rt.LIGHTNING_STATE_OUT
    ctx = rt.context(rt.CPU)[0]
    kern = rt.lightning_kernel(ctx, dq[1], D, Dv, scale, flags)
    rt.launch(ctx, kern, args, what)
    return (out, new_state) if return_state else out


def merge(o1, lse1, o2, lse2):
    o1, o2 = np.asarray(o1), np.asarray(o2)
    l1 = np.asarray(lse1, dtype=np.float32)
    l2 = np.asarray(lse2, dtype=np.float32)
    lse = np.logaddexp(l1, l2)
    with np.errstate(invalid="ignore", over="ignore"):
        w1 = np.where(np.isneginf(l1), 0.0, np.exp(l1 - lse)).astype(np.float32)
        w2 = np.where(np.isneginf(l2), 0.0, np.exp(l2 - lse)).astype(np.float32)
    o = (np.where(w1[..., None] > 0, w1[..., None] * o1.astype(np.float32), 0)
         + np.where(w2[..., None] > 0, w2[..., None] * o2.astype(np.float32), 0))
    return o.astype(o1.dtype), lse
