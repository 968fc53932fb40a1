"""Sequence parallelism across ranks: one dilated or lightning attention over
a sequence split across processes (libattndist, runtime/attndist.h;
docs/distributed.md), through the caller's communicator.

    from mpi4py import MPI
    import attn.dist
    o = attn.dist.dilated(q, k, v, [2048, 8192], [1, 4], comm=MPI.COMM_WORLD,
                          grouped=True)
    o, state = attn.dist.lightning(q, k, v, comm=MPI.COMM_WORLD, return_state=True)

Each rank passes its own contiguous range of the positions ([B, H, n, D]
numpy arrays, ranks in position order, any n) and gets its rows of O. Every
rank must make the same calls in the same order. The communicator is an
mpi4py communicator (CPU); a torch.distributed process group (NCCL, GPUs)
is not supported yet, like CUDA contexts in libattndist itself.
`last_stats()` gives the bytes this rank sent and received in its last call.
"""
from __future__ import annotations

import ctypes
import os
import threading
from typing import Optional, Sequence, Tuple

import numpy as np

from . import _numpy
from . import _runtime as rt

__all__ = ["dilated", "lightning", "last_stats"]


class _Stats(ctypes.Structure):
    _fields_ = [("bytes_sent", ctypes.c_uint64),
                ("bytes_received", ctypes.c_uint64)]


class _Params(ctypes.Structure):
    _fields_ = [("num_patterns", ctypes.c_int),
                ("segments", ctypes.POINTER(ctypes.c_int64)),
                ("rates", ctypes.POINTER(ctypes.c_int64)),
                ("grouped", ctypes.c_int), ("causal", ctypes.c_int),
                ("scale", ctypes.c_float)]


class _Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int), ("shape", ctypes.c_int64 * 4),
                ("strides", ctypes.c_int64 * 4)]


_dist = None
_lock = threading.Lock()
_comms: dict = {}
_stats = _Stats()


def _library():
    global _dist
    with _lock:
        if _dist is None:
            rt.library()  # libattnrt and libattnjit first, global
            path = os.path.join(rt._library_dir(), "libattndist.so")
            if not os.path.exists(path):
                raise ImportError(f"attn.dist: {path} is missing (libattndist "
                                  "is built where MPI is found)")
            lib = ctypes.CDLL(path)
            vp, i32 = ctypes.c_void_p, ctypes.c_int
            pt = ctypes.POINTER(_Tensor)
            lib.attn_comm_create_mpi.argtypes = [vp, ctypes.POINTER(vp)]
            lib.attn_dilated_seqpar.argtypes = [vp, vp, ctypes.POINTER(_Params),
                                                pt, pt, pt, pt,
                                                ctypes.POINTER(_Stats)]
            lib.attn_lightning_seqpar.argtypes = [vp, vp, pt, pt, pt, pt,
                                                  ctypes.POINTER(ctypes.c_float),
                                                  pt, ctypes.c_float,
                                                  ctypes.POINTER(_Stats)]
            for f in (lib.attn_comm_create_mpi, lib.attn_dilated_seqpar,
                      lib.attn_lightning_seqpar):
                f.restype = i32
            _dist = lib
    return _dist


def _comm(comm, what: str) -> int:
    """The attn_comm of an mpi4py communicator (created once per
    communicator handle)."""
    try:
        from mpi4py import MPI
    except ImportError:
        MPI = None
    if MPI is None or not isinstance(comm, MPI.Comm):
        raise TypeError(f"{what}: comm must be an mpi4py communicator (CPU); "
                        f"got {type(comm).__name__} (torch.distributed process "
                        "groups over NCCL are not supported yet)")
    key = MPI._handleof(comm)
    h = _comms.get(key)
    if h is None:
        lib = _library()
        out = ctypes.c_void_p()
        s = lib.attn_comm_create_mpi(MPI._addressof(comm), ctypes.byref(out))
        if s != 0:
            rt.raise_status(s, what)
        h = _comms[key] = out.value
    return h


def _tensor(a: np.ndarray, name: str, what: str) -> _Tensor:
    ptr, code, shape, strides = _numpy.described(a, name, what)
    t = _Tensor()
    t.data, t.dtype, t.rank = ptr, code, len(shape)
    for i, (n, s) in enumerate(zip(shape, strides)):
        t.shape[i], t.strides[i] = n, s
    return t


def _operands(q, k, v, what: str):
    for name, t in (("q", q), ("k", k), ("v", v)):
        _numpy.check_rank(t, name, 4, what, "[B, H, n, D]")
    out = np.full((q.shape[0], q.shape[1], q.shape[2], v.shape[3]), np.nan,
                  dtype=q.dtype)
    return out, [_tensor(x, n, what) for x, n in ((q, "q"), (k, "k"), (v, "v"),
                                                   (out, "out"))]


def dilated(q, k, v, segments: Sequence[int], rates: Sequence[int], *, comm,
            grouped: bool = False, causal: bool = True,
            scale: float = 0.0) -> np.ndarray:
    """This rank's rows of LongNet's dilated attention (SPEC.md) over the
    whole sequence: q [B, H, n, D], k/v [B, Hk, n, D] this rank's n
    positions. Returns o [B, H, n, Dv]."""
    what = "attn.dist.dilated"
    out, ts = _operands(q, k, v, what)
    seg = (ctypes.c_int64 * len(segments))(*segments)
    rat = (ctypes.c_int64 * len(rates))(*rates)
    if len(segments) != len(rates):
        raise ValueError(f"{what}: {len(segments)} segment lengths but "
                         f"{len(rates)} rates")
    p = _Params(len(segments), seg, rat, int(grouped), int(causal), scale)
    ctx = rt.context(rt.CPU)[0]
    h = _comm(comm, what)
    s = _library().attn_dilated_seqpar(ctx, h, ctypes.byref(p),
                                       *[ctypes.byref(t) for t in ts],
                                       ctypes.byref(_stats))
    if s != 0:
        rt.raise_status(s, what)
    return out


def lightning(q, k, v, *, comm, slopes=None, scale: float = 0.0,
              return_state: bool = False):
    """This rank's rows of lightning attention (SPEC.md) over the whole
    sequence (LASP-2: the earlier ranks' states, decayed). With
    return_state, also the state after this rank's last position (the last
    rank's is the sequence's final state) as float32 [B, H, D, Dv]."""
    what = "attn.dist.lightning"
    out, ts = _operands(q, k, v, what)
    sl = None
    if slopes is not None:
        slopes = np.ascontiguousarray(slopes, dtype=np.float32)
        if slopes.shape != (q.shape[1],):
            raise ValueError(f"{what}: slopes must be [H] = [{q.shape[1]}], "
                             f"got {slopes.shape}")
        sl = slopes.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
    state = np.full((q.shape[0], q.shape[1], q.shape[3], v.shape[3]), np.nan,
                    dtype=np.float32)
    st = _tensor(state, "state", what)
    ctx = rt.context(rt.CPU)[0]
    h = _comm(comm, what)
    s = _library().attn_lightning_seqpar(ctx, h, *[ctypes.byref(t) for t in ts],
                                         sl, ctypes.byref(st), scale,
                                         ctypes.byref(_stats))
    if s != 0:
        rt.raise_status(s, what)
    return (out, state) if return_state else out


def last_stats() -> Tuple[int, int]:
    """(bytes sent, bytes received) by this rank in its last call."""
    return int(_stats.bytes_sent), int(_stats.bytes_received)
