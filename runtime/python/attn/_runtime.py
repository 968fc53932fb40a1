"""The ctypes binding of the runtime's C API (runtime/attnrt.h): contexts per
device, a dictionary of loaded kernels, and launches on raw pointers.

Nothing here imports torch: numpy arrays and torch tensors both reach launch()
as (pointer, shape, strides) triples, so the binding is shared by the numpy
path and the torch custom ops.
"""
from __future__ import annotations

import ctypes
import os
import struct
import threading
from typing import Dict, Optional, Sequence, Tuple

__all__ = ["AttnError", "F32", "F16", "BF16", "CPU", "CUDA", "library",
           "attention_kernel", "lightning_kernel", "launch", "context",
           "set_stream", "synchronize", "kernel_info"]

F32, F16, BF16 = 0, 1, 2
CPU, CUDA = 0, 1
LIGHTNING_SLOPES, LIGHTNING_STATE_IN, LIGHTNING_STATE_OUT = 1, 2, 4

_STATUS = {1: "ATTN_ERROR_INVALID_ARGUMENT", 2: "ATTN_ERROR_UNSUPPORTED",
           3: "ATTN_ERROR_COMPILE", 4: "ATTN_ERROR_IO",
           5: "ATTN_ERROR_NO_DEVICE", 6: "ATTN_ERROR_INTERNAL"}


class AttnError(RuntimeError):
    """A failure reported by the attn runtime: `status` is the attn_status
    code, `status_name` its name (e.g. "ATTN_ERROR_COMPILE"), and the message
    is the runtime's (attn_last_error)."""

    def __init__(self, status: int, message: str, what: str = ""):
        self.status = status
        self.status_name = _STATUS.get(status, f"status {status}")
        self.runtime_message = message
        prefix = f"{what}: " if what else ""
        super().__init__(f"{prefix}{message} [{self.status_name}]")


class AttnValueError(AttnError, ValueError):
    """ATTN_ERROR_INVALID_ARGUMENT: the runtime rejected an input (shape,
    dtype, stride, head grouping, pattern parameters)."""


def _error(status: int, message: str, what: str) -> AttnError:
    cls = AttnValueError if status == 1 else AttnError
    return cls(status, message, what)


def _library_dir() -> str:
    """Where libattnjit.so is: $ATTN_LIBRARY_DIR (a build tree's lib/, for
    development), else the package's own lib/ (what `pip install .` put
    there)."""
    env = os.environ.get("ATTN_LIBRARY_DIR")
    if env:
        return env
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "lib")


class _Library:
    def __init__(self) -> None:
        d = _library_dir()
        path = os.path.join(d, "libattnjit.so")
        if not os.path.exists(path):
            raise ImportError(
                f"attn: {path} is missing: install the package with "
                "`pip install .` from the clone, or point $ATTN_LIBRARY_DIR "
                "at a build's lib/ folder")
        # libattnrt first, global, so libattnjit's dependency resolves to it.
        self.rt = ctypes.CDLL(os.path.join(d, "libattnrt.so"),
                              mode=ctypes.RTLD_GLOBAL)
        self.jit = ctypes.CDLL(path)
        self.path = path
        rt, jit = self.rt, self.jit
        vp, i32, i64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_int64
        pvp = ctypes.POINTER(ctypes.c_void_p)
        rt.attn_last_error.restype = ctypes.c_char_p
        rt.attn_last_error.argtypes = []
        rt.attn_status_name.restype = ctypes.c_char_p
        rt.attn_status_name.argtypes = [i32]
        for fn, args in (("attn_context_create", [i32, i32, pvp]),
                         ("attn_context_set_stream", [vp, vp]),
                         ("attn_synchronize", [vp]),
                         ("attn_kernel_release", [vp]),
                         ("attn_launch", [vp, vp, vp, i32])):
            f = getattr(rt, fn)
            f.restype, f.argtypes = i32, args
        rt.attn_kernel_info.restype = ctypes.c_char_p
        rt.attn_kernel_info.argtypes = [vp]
        rt.attn_kernel_num_args.restype = i32
        rt.attn_kernel_num_args.argtypes = [vp]
        rt.attn_context_threads.restype = i32
        rt.attn_context_threads.argtypes = [vp]
        jit.attn_get_kernel.restype = i32
        jit.attn_get_kernel.argtypes = [vp, ctypes.c_char_p, i32, i64, i64,
                                        ctypes.c_float, i32, pvp]
        jit.attn_get_lightning_kernel.restype = i32
        jit.attn_get_lightning_kernel.argtypes = [vp, i32, i64, i64,
                                                  ctypes.c_float, i32, pvp]
        self.launch = rt.attn_launch

    def last_error(self) -> str:
        return (self.rt.attn_last_error() or b"").decode(errors="replace")


_lib: Optional[_Library] = None
_lock = threading.Lock()


def library() -> _Library:
    """The loaded runtime (libattnrt + libattnjit), loaded on first use."""
    global _lib
    if _lib is None:
        with _lock:
            if _lib is None:
                _lib = _Library()
    return _lib


# Contexts: one CPU context for the process, one per CUDA device ordinal.
# (device kind, ordinal) -> [handle, current stream]
contexts: Dict[Tuple[int, int], list] = {}


def context(device: int, ordinal: int = 0) -> list:
    """The [handle, stream] record of the context of (device, ordinal),
    created on first use. CPU threads: $ATTN_NUM_THREADS, else one per
    hardware thread."""
    key = (device, ordinal)
    rec = contexts.get(key)
    if rec is not None:
        return rec
    lib = library()
    with _lock:
        rec = contexts.get(key)
        if rec is None:
            h = ctypes.c_void_p()
            arg = ordinal
            if device == CPU:
                arg = int(os.environ.get("ATTN_NUM_THREADS", "0") or 0)
            s = lib.rt.attn_context_create(device, arg, ctypes.byref(h))
            if s != 0:
                raise _error(s, lib.last_error(),
                             "attn: cannot create a "
                             + ("CPU" if device == CPU else f"cuda:{ordinal}")
                             + " context")
            rec = [h.value, None]
            contexts[key] = rec
    return rec


def set_stream(rec: list, stream: int) -> None:
    """Makes the CUDA context `rec` launch on `stream` (a cudaStream_t as an
    integer); a no-op when it already does."""
    if rec[1] != stream:
        lib = library()
        s = lib.rt.attn_context_set_stream(rec[0], stream or None)
        if s != 0:
            raise _error(s, lib.last_error(), "attn: set stream")
        rec[1] = stream


def synchronize(rec: list) -> None:
    lib = library()
    s = lib.rt.attn_synchronize(rec[0])
    if s != 0:
        raise _error(s, lib.last_error(), "attn: synchronize")


# Loaded kernels, kept for the life of the process: attn_get_kernel's own
# memory cache reloads the shared object on every call (~0.1 ms), this
# dictionary costs one lookup. Key: (context handle, op, parameters).
kernels: Dict[tuple, int] = {}


def attention_kernel(ctx: int, pattern: str, dtype: int, d: int, dv: int,
                     scale: float, with_lse: bool) -> int:
    key = (ctx, "attention", pattern, dtype, d, dv, scale, with_lse)
    k = kernels.get(key)
    if k is not None:
        return k
    lib = library()
    h = ctypes.c_void_p()
    s = lib.jit.attn_get_kernel(ctx, pattern.encode(), dtype, d, dv, scale,
                                int(with_lse), ctypes.byref(h))
    if s != 0:
        raise _error(s, lib.last_error(), f"attn.attention({pattern})")
    with _lock:
        old = kernels.setdefault(key, h.value)
    if old != h.value:  # another thread loaded it first
        lib.rt.attn_kernel_release(h.value)
    return old


def lightning_kernel(ctx: int, dtype: int, d: int, dv: int, scale: float,
                     flags: int) -> int:
    key = (ctx, "lightning", dtype, d, dv, scale, flags)
    k = kernels.get(key)
    if k is not None:
        return k
    lib = library()
    h = ctypes.c_void_p()
    s = lib.jit.attn_get_lightning_kernel(ctx, dtype, d, dv, scale, flags,
                                          ctypes.byref(h))
    if s != 0:
        raise _error(s, lib.last_error(), "attn.lightning")
    with _lock:
        old = kernels.setdefault(key, h.value)
    if old != h.value:
        lib.rt.attn_kernel_release(h.value)
    return old


def kernel_info(kernel: int) -> str:
    return (library().rt.attn_kernel_info(kernel) or b"").decode()


# attn_tensor: void *data; int32 dtype; int32 rank; int64 shape[4];
# int64 strides[4] -- 80 bytes, packed with one struct call per launch.
TENSOR_FORMAT = _TENSOR = "Pii4q4q"
_PACKERS: Dict[int, struct.Struct] = {
    n: struct.Struct("@" + _TENSOR * n) for n in range(1, 8)}
_PAD = {4: (), 3: (0,), 2: (0, 0), 1: (0, 0, 0)}


def launch(ctx: int, kernel: int,
           tensors: Sequence[Tuple[int, int, Sequence[int], Sequence[int]]],
           what: str) -> None:
    """Launches `kernel` on `tensors`, each (pointer, dtype, shape, strides
    in elements). Raises AttnError with the runtime's message."""
    vals = []
    for ptr, dt, shape, strides in tensors:
        pad = _PAD[len(shape)]
        vals += (ptr, dt, len(shape), *shape, *pad, *strides, *pad)
    packer = _PACKERS[len(tensors)]
    buf = ctypes.create_string_buffer(packer.size)
    packer.pack_into(buf, 0, *vals)
    s = raw_launch(ctx, kernel, buf, len(tensors))
    if s != 0:
        raise_status(s, what)


def raw_launch(ctx: int, kernel: int, buf, n: int) -> int:
    """attn_launch on `n` packed attn_tensors in `buf`; the status."""
    return (_lib or library()).launch(ctx, kernel, buf, n)


def raise_status(status: int, what: str) -> None:
    raise _error(status, library().last_error(), what)
