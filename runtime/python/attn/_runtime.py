"""The ctypes binding of the runtime's C API (runtime/attnrt.h): contexts per
device, a dictionary of loaded kernels, and launches on raw pointers.

Nothing here imports torch: numpy arrays and torch tensors both reach launch()
as (pointer, shape, strides) triples, so the binding is shared by the numpy
path and the torch custom ops.
"""
from __future__ import annotations

import ctypes
import json
import os
import struct
import threading
from typing import Dict, Optional, Sequence, Tuple

__all__ = ["AttnError", "F32", "F16", "BF16", "CPU", "CUDA", "library",
           "attention_kernel", "lightning_kernel", "launch", "context",
           "set_stream", "synchronize", "kernel_info"]

F32, F16, BF16, I32 = 0, 1, 2, 3
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


class _Shape(ctypes.Structure):
    """attn_shape of the C API."""
    _fields_ = [("batch", ctypes.c_int64), ("heads", ctypes.c_int64),
                ("kv_heads", ctypes.c_int64), ("nq", ctypes.c_int64),
                ("nk", ctypes.c_int64)]


class _Library:
    def __init__(self) -> None:
        d = _library_dir()
        core = os.path.join(d, "libattnrt.so")
        if not os.path.exists(core):
            raise ImportError(
                f"attn: {core} is missing: install the package with "
                "`pip install .` from the clone, or point $ATTN_LIBRARY_DIR "
                "at a build's lib/ folder")
        # libattnrt first, global, so libattnjit's dependency resolves to it.
        self.rt = ctypes.CDLL(core, mode=ctypes.RTLD_GLOBAL)
        self.path = core
        # The JIT (it links MLIR and LLVM) is optional: without it, kernels
        # come from $ATTN_KERNEL_DIR only (e.g. on a GPU machine without
        # LLVM). ATTN_NO_JIT=1 leaves it out on purpose.
        path = os.path.join(d, "libattnjit.so")
        self.jit = None
        if os.path.exists(path) and not os.environ.get("ATTN_NO_JIT"):
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
        rt.attn_kernel_load.restype = i32
        rt.attn_kernel_load.argtypes = [vp, ctypes.c_char_p, ctypes.c_char_p,
                                        pvp]
        self.launch = rt.attn_launch
        if jit is None:
            return
        jit.attn_get_kernel.restype = i32
        jit.attn_get_kernel.argtypes = [vp, ctypes.c_char_p, i32, i64, i64,
                                        ctypes.c_float, i32, pvp]
        jit.attn_get_kernel_for_shape.restype = i32
        jit.attn_get_kernel_for_shape.argtypes = [
            vp, ctypes.c_char_p, i32, i64, i64, ctypes.c_float, i32,
            ctypes.POINTER(_Shape), i32, pvp]
        jit.attn_get_paged_kernel.restype = i32
        jit.attn_get_paged_kernel.argtypes = [vp, ctypes.c_char_p, i32, i64,
                                              i64, ctypes.c_float, i32, pvp]
        jit.attn_get_lightning_kernel.restype = i32
        jit.attn_get_lightning_kernel.argtypes = [vp, i32, i64, i64,
                                                  ctypes.c_float, i32, pvp]

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


# Contexts: one CPU context for the process; on CUDA one per device ordinal
# and thread, since a context launches on one stream at a time (set_stream)
# and threads may each have another current stream.
# (device kind, ordinal[, thread]) -> [handle, current stream]
contexts: Dict[Tuple[int, int], list] = {}
devices: Dict[int, int] = {}  # context handle -> CPU or CUDA


def context(device: int, ordinal: int = 0) -> list:
    """The [handle, stream] record of the context of (device, ordinal),
    created on first use. CPU threads: $ATTN_NUM_THREADS, else one per
    hardware thread."""
    key = (device, ordinal) if device == CPU else \
        (device, ordinal, threading.get_ident())
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
            devices[h.value] = device
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
                     scale: float, with_lse: bool,
                     shape: Optional[Tuple[int, int, int, int, int]] = None
                     ) -> int:
    """The kernel for the request; with ATTN_AUTOTUNE=1 and the call's
    shape (B, H, Hk, Nq, Nk), one per tuning bucket, tuned on a miss
    (docs/tuning.md)."""
    key = (ctx, "attention", pattern, dtype, d, dv, scale, with_lse)
    base = key
    tune = shape is not None and os.environ.get("ATTN_AUTOTUNE") == "1"
    if tune:
        b, h, hk, nq, nk = shape
        key = key + (nq.bit_length(), nk.bit_length(), h // max(hk, 1))
    k = kernels.get(key)
    if k is not None:
        return k
    what = f"attn.attention({pattern})"

    def jit(lib, h):
        if tune:
            return lib.jit.attn_get_kernel_for_shape(
                ctx, pattern.encode(), dtype, d, dv, scale, int(with_lse),
                ctypes.byref(_Shape(*shape)), 0, ctypes.byref(h))
        return lib.jit.attn_get_kernel(ctx, pattern.encode(), dtype, d, dv,
                                       scale, int(with_lse), ctypes.byref(h))
    return _get_kernel(key, what, jit, base)


def paged_kernel(ctx: int, pattern: str, dtype: int, d: int, dv: int,
                 scale: float, with_lse: bool) -> int:
    """The kernel of attn_get_paged_kernel (a paged K/V cache)."""
    key = (ctx, "paged_attention", pattern, dtype, d, dv, scale, with_lse)
    k = kernels.get(key)
    if k is not None:
        return k

    def jit(lib, h):
        return lib.jit.attn_get_paged_kernel(ctx, pattern.encode(), dtype, d,
                                             dv, scale, int(with_lse),
                                             ctypes.byref(h))
    return _get_kernel(key, f"attn.paged_attention({pattern})", jit)


def lightning_kernel(ctx: int, dtype: int, d: int, dv: int, scale: float,
                     flags: int) -> int:
    key = (ctx, "lightning", dtype, d, dv, scale, flags)
    k = kernels.get(key)
    if k is not None:
        return k

    def jit(lib, h):
        return lib.jit.attn_get_lightning_kernel(ctx, dtype, d, dv, scale,
                                                 flags, ctypes.byref(h))
    return _get_kernel(key, "attn.lightning", jit)


def _get_kernel(key: tuple, what: str, jit, base: Optional[tuple] = None
                ) -> int:
    """The kernel of `key` (context handle first): from $ATTN_KERNEL_DIR when
    it has it (looked up by `base`, the key without tuning buckets), else
    from the JIT; remembered in `kernels`."""
    lib = library()
    ctx = key[0]
    params = list((base or key)[1:])
    _record(params)
    h = ctypes.c_void_p()
    entry = _precompiled(devices.get(ctx, CPU), params)
    if entry is not None:
        if "error" in entry:  # attnc refused it: its diagnostic
            raise _error(int(entry.get("status", 3)), entry["error"], what)
        s, err = 1, ""
        for path in entry["files"]:
            s = lib.rt.attn_kernel_load(ctx, path.encode(), b"kernel",
                                        ctypes.byref(h))
            if s == 0:
                break
            err += ("; " if err else "") + lib.last_error()
        if s != 0:
            raise _error(s, err, what)
    elif lib.jit is None:
        raise AttnError(
            2, "no JIT here ("
            + ("ATTN_NO_JIT is set" if os.environ.get("ATTN_NO_JIT")
               else "libattnjit.so is not installed")
            + ") and no precompiled kernel for " + json.dumps(params)
            + " in $ATTN_KERNEL_DIR ("
            + (os.environ.get("ATTN_KERNEL_DIR") or "not set") + ")", what)
    else:
        s = jit(lib, h)
        if s != 0:
            raise _error(s, lib.last_error(), what)
    with _lock:
        old = kernels.setdefault(key, h.value)
    if old != h.value:  # another thread loaded it first
        lib.rt.attn_kernel_release(h.value)
    return old


# Precompiled kernels ($ATTN_KERNEL_DIR): manifest.json lists, per kernel
# request (the parameters of attention_kernel / lightning_kernel, as JSON),
# the images to try in order per device ("cpu": shared objects; "cuda":
# e.g. an sm_90a cubin, then sm_80 PTX), or the compiler's error for a
# request it refused. tools/gpu/python_bundle.py writes one.
_manifest: Optional[dict] = None


def _precompiled(device: int, params: list) -> Optional[dict]:
    global _manifest
    d = os.environ.get("ATTN_KERNEL_DIR")
    if not d:
        return None
    if _manifest is None:
        with open(os.path.join(d, "manifest.json")) as f:
            m = json.load(f)
        _manifest = {}
        for e in m["kernels"]:
            files = {dev: [os.path.join(d, x) for x in fs]
                     for dev, fs in e.get("files", {}).items()}
            _manifest[json.dumps(e["key"])] = dict(e, files=files)
    e = _manifest.get(json.dumps(params))
    if e is None:
        return None
    if "error" in e:
        return e
    files = e["files"].get("cpu" if device == CPU else "cuda")
    return dict(files=files) if files else None


def _record(params: list) -> None:
    """$ATTN_RECORD_KERNELS: append each kernel request (one JSON line), to
    precompile the same set elsewhere."""
    path = os.environ.get("ATTN_RECORD_KERNELS")
    if path:
        with _lock, open(path, "a") as f:
            f.write(json.dumps(params) + "\n")


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
