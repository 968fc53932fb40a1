"""The torch custom ops (torch.library): attn::attention, attn::attention_out,
attn::paged_attention and attn::lightning, with fake implementations for
torch.compile, and their
CPU/CUDA implementations over the runtime binding (zero-copy: data pointers
and strides)."""
from __future__ import annotations

import ctypes
import os
import struct
import threading
from typing import Optional, Tuple

import torch

from . import _runtime as rt

_DTYPES = {torch.float32: rt.F32, torch.float16: rt.F16,
           torch.bfloat16: rt.BF16}

lib = torch.library.Library("attn", "DEF")
lib.define("attention(Tensor q, Tensor k, Tensor v, str pattern, float scale, "
           "bool return_lse) -> (Tensor, Tensor)")
lib.define("attention_out(Tensor q, Tensor k, Tensor v, Tensor(a!) out, "
           "Tensor(b!)? lse, str pattern, float scale) -> ()")
lib.define("paged_attention(Tensor q, Tensor k_cache, Tensor v_cache, "
           "Tensor block_table, Tensor kv_lens, str pattern, float scale, "
           "bool return_lse) -> (Tensor, Tensor)")
lib.define("lightning(Tensor q, Tensor k, Tensor v, Tensor? slopes, "
           "Tensor? state, float scale, bool return_state) -> (Tensor, Tensor)")


def dtype_code(t: torch.Tensor, name: str, what: str) -> int:
    code = _DTYPES.get(t.dtype)
    if code is None:
        raise TypeError(f"{what}: {name} has dtype {t.dtype}; expected "
                        "torch.float32, torch.float16 or torch.bfloat16")
    return code


def check_inputs(what: str, tensors, ranks) -> None:
    """Ranks, dtypes and one device for every tensor given (None skipped):
    what the runtime cannot check itself (a CPU context cannot tell a device
    pointer) or what output allocation needs."""
    device = None
    for (name, t), (rank, dims) in zip(tensors, ranks):
        if t is None:
            continue
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{what}: {name} must be a torch.Tensor like q, "
                            f"got {type(t).__name__}")
        if t.dim() != rank:
            raise ValueError(f"{what}: {name} must be {rank}-D {dims}, got "
                             f"shape {tuple(t.shape)}")
        if device is None:
            device = t.device
        elif t.device != device:
            raise ValueError(f"{what}: {name} is on {t.device} but q is on "
                             f"{device}: every tensor must be on one device")
    if device is not None and device.type not in ("cpu", "cuda", "meta"):
        raise ValueError(f"{what}: tensors on {device} are not supported "
                         "(CPU and CUDA only)")


def empty_like_layout(q: torch.Tensor, B, H, N, Dv, dtype) -> torch.Tensor:
    """A new [B, H, N, Dv] tensor stored as q is: [B, N, H, Dv] memory when
    q's heads are closer in memory than its positions (a transposed
    [B, N, H, D] buffer), so that o.transpose(1, 2) is contiguous."""
    if q.stride(1) < q.stride(2):
        return q.new_empty((B, N, H, Dv), dtype=dtype).transpose(1, 2)
    return q.new_empty((B, H, N, Dv), dtype=dtype)


_CPU_KEY = (rt.CPU, 0)
_raw_stream = getattr(torch._C, "_cuda_getCurrentRawStream", None)


def _context(device: torch.device) -> int:
    """The runtime context of `device`; on CUDA, set to launch on the
    current stream of that device."""
    if device.type == "cpu":
        rec = rt.contexts.get(_CPU_KEY) or rt.context(rt.CPU)
        return rec[0]
    index = device.index if device.index is not None \
        else torch.cuda.current_device()
    rec = rt.context(rt.CUDA, index)
    stream = (_raw_stream(index) if _raw_stream is not None
              else torch.cuda.current_stream(device).cuda_stream)
    rt.set_stream(rec, stream)
    return rec[0]


def _desc(t: torch.Tensor, name: str, what: str):
    return (t.data_ptr(), dtype_code(t, name, what), t.shape, t.stride())


_PACK4 = struct.Struct("@" + rt.TENSOR_FORMAT * 4).pack_into
_PACK5 = struct.Struct("@" + rt.TENSOR_FORMAT * 5).pack_into
_BUFSIZE = struct.calcsize("@" + rt.TENSOR_FORMAT * 5)


def launch_attention(q, k, v, o, lse, pattern: str, scale: float) -> None:
    """Launches the attention kernel on 4-D q, k, v, o (and a 3-D lse):
    written out flat, as the per-call cost of this function is most of the
    package's overhead (one struct.pack_into of the five attn_tensors)."""
    dt, dk, dv, do = (_DTYPES.get(q.dtype), _DTYPES.get(k.dtype),
                      _DTYPES.get(v.dtype), _DTYPES.get(o.dtype))
    if dt is None or dk is None or dv is None or do is None:
        what = f"attn.attention({pattern})"
        for name, t in (("q", q), ("k", k), ("v", v), ("out", o)):
            dtype_code(t, name, what)
    ctx = _context(q.device)
    D, Dv = q.shape[3], v.shape[3]
    if lse is None and pattern.startswith("#attn.dilated"):
        # Dilated kernels merge their phases through the LSE: a scratch one.
        lse = torch.empty(q.shape[:3], dtype=torch.float32, device=q.device)
    with_lse = lse is not None
    kern = rt.kernels.get((ctx, "attention", pattern, dt, D, Dv, scale,
                           with_lse))
    if kern is None:
        kern = rt.attention_kernel(ctx, pattern, dt, D, Dv, scale, with_lse,
                                   (q.shape[0], q.shape[1], k.shape[1],
                                    q.shape[2], k.shape[2]))
    buf = ctypes.create_string_buffer(_BUFSIZE)
    if not with_lse:
        _PACK4(buf, 0, q.data_ptr(), dt, 4, *q.shape, *q.stride(),
               k.data_ptr(), dk, 4, *k.shape, *k.stride(),
               v.data_ptr(), dv, 4, *v.shape, *v.stride(),
               o.data_ptr(), do, 4, *o.shape, *o.stride())
        n = 4
    else:
        if lse.dtype != torch.float32:
            raise TypeError(f"attn.attention({pattern}): lse must be "
                            f"torch.float32, got {lse.dtype}")
        _PACK5(buf, 0, q.data_ptr(), dt, 4, *q.shape, *q.stride(),
               k.data_ptr(), dk, 4, *k.shape, *k.stride(),
               v.data_ptr(), dv, 4, *v.shape, *v.stride(),
               o.data_ptr(), do, 4, *o.shape, *o.stride(),
               lse.data_ptr(), rt.F32, 3, *lse.shape, 0, *lse.stride(), 0)
        n = 5
    status = rt.raw_launch(ctx, kern, buf, n)
    if status:
        rt.raise_status(status, f"attn.attention({pattern})")


# --- attn::attention -------------------------------------------------------

def _attention_shapes(q, k, v, pattern, scale, return_lse):
    check_inputs(f"attn.attention({pattern})", (("q", q), ("k", k), ("v", v)),
                 [(4, "[B, H, N, D]")] * 3)
    B, H, Nq, _ = q.shape
    o = empty_like_layout(q, B, H, Nq, v.shape[3], q.dtype)
    lse = q.new_empty((B, H, Nq) if return_lse else (0,), dtype=torch.float32)
    return o, lse


def attention_impl(q, k, v, pattern: str, scale: float,
                   return_lse: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    if fast is not None:
        r = fast(q, k, v, pattern, scale, return_lse, None)
        if type(r) is tuple:
            o, lse = r
            return o, (lse if return_lse else q.new_empty(
                (0,), dtype=torch.float32))
        if r is not None:
            rt.raise_status(r, f"attn.attention({pattern})")
    o, lse = _attention_shapes(q, k, v, pattern, scale, return_lse)
    launch_attention(q, k, v, o, lse if return_lse else None, pattern, scale)
    return o, lse


lib.impl("attention", attention_impl, "CPU")
lib.impl("attention", attention_impl, "CUDA")
torch.library.register_fake("attn::attention")(_attention_shapes)


_dispatch_modes = getattr(torch._C, "_len_torch_dispatch_stack", lambda: 0)


def eager_ok(q: torch.Tensor, k, v) -> bool:
    """Whether attn.attention may call the implementation directly instead
    of through the dispatcher (which costs ~10 us a call): plain CPU/CUDA
    tensors, not under torch.compile or a dispatch mode, no autograd."""
    return (not torch.compiler.is_compiling()
            and type(q) is torch.Tensor and type(k) is torch.Tensor
            and type(v) is torch.Tensor and not _dispatch_modes()
            and not (torch.is_grad_enabled() and (
                q.requires_grad or k.requires_grad or v.requires_grad))
            and q.device.type != "meta")


# --- the compiled fast path (attn._ext) -------------------------------------

def _load_ext():
    """attn._ext, the compiled fast path (runtime/python/ext/attn_ext.cpp),
    from the library folder (the package's lib/, or $ATTN_LIBRARY_DIR), set
    up with the runtime's attn_launch; None when ATTN_NO_EXT=1 or when no
    module was built for this Python (the Python path then runs)."""
    if os.environ.get("ATTN_NO_EXT"):
        return None
    import importlib.machinery
    import importlib.util
    d = rt._library_dir()
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        path = os.path.join(d, "_ext" + suffix)
        if not os.path.exists(path):
            continue
        spec = importlib.util.spec_from_file_location("attn._ext", path)
        try:
            mod = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(mod)
        except ImportError:  # built for another Python: try the next
            continue
        lib = rt.library()
        addr = lambda f: ctypes.cast(f, ctypes.c_void_p).value  # noqa: E731
        stream = _raw_stream or (
            lambda i: torch.cuda.current_stream(i).cuda_stream)
        mod.init(addr(lib.rt.attn_launch), addr(lib.rt.attn_context_set_stream),
                 torch.Tensor, torch.float32, torch.float16, torch.bfloat16,
                 torch.is_grad_enabled, _dispatch_modes, stream, rt.context,
                 rt.attention_kernel)
        return mod
    return None


def _fast_first(*args):
    """The first call of `fast`: loads the extension (once, whichever
    thread comes first), then calls it."""
    global fast, ext
    with _ext_lock:
        if fast is _fast_first:
            ext = _load_ext()
            fast = ext.attention if ext is not None else None
    return fast(*args) if fast is not None else None


_ext_lock = threading.Lock()
ext = None
# attn.attention's fast path: fast(q, k, v, text, scale, return_lse, out) ->
# (o, lse or None), an attn_status (the launch failed), or None (not a call
# it takes: the Python path runs). None when there is no extension.
fast = _fast_first


def attention_eager(q, k, v, pattern: str, scale: float, return_lse: bool):
    """attn::attention without the dispatcher (see eager_ok)."""
    dev = q.device
    if not (q.dim() == 4 and k.dim() == 4 and v.dim() == 4
            and k.device == dev and v.device == dev):
        check_inputs(f"attn.attention({pattern})",
                     (("q", q), ("k", k), ("v", v)), [(4, "[B, H, N, D]")] * 3)
    B, H, Nq, D = q.shape
    if q.stride(1) < q.stride(2):  # as empty_like_layout, inlined
        o = q.new_empty((B, Nq, H, v.shape[3])).transpose(1, 2)
    else:
        o = q.new_empty((B, H, Nq, v.shape[3]))
    lse = (torch.empty((B, H, Nq), dtype=torch.float32, device=dev)
           if return_lse else None)
    launch_attention(q, k, v, o, lse, pattern, scale)
    return o, lse


# --- attn::attention_out ---------------------------------------------------

def attention_out_impl(q, k, v, out, lse, pattern: str, scale: float) -> None:
    check_inputs(f"attn.attention({pattern})",
                 (("q", q), ("k", k), ("v", v), ("out", out), ("lse", lse)),
                 [(4, "[B, H, N, D]")] * 3 + [(4, "[B, H, Nq, Dv]"),
                                              (3, "[B, H, Nq]")])
    launch_attention(q, k, v, out, lse, pattern, scale)


lib.impl("attention_out", attention_out_impl, "CPU")
lib.impl("attention_out", attention_out_impl, "CUDA")


@torch.library.register_fake("attn::attention_out")
def _attention_out_fake(q, k, v, out, lse, pattern, scale) -> None:
    return None


# --- attn::paged_attention -------------------------------------------------

def _paged_shapes(q, k_cache, v_cache, block_table, kv_lens, pattern, scale,
                  return_lse):
    check_inputs(f"attn.paged_attention({pattern})",
                 (("q", q), ("k_cache", k_cache), ("v_cache", v_cache),
                  ("block_table", block_table), ("kv_lens", kv_lens)),
                 [(4, "[B, H, Nq, D]"), (4, "[P, S, Hk, D]"),
                  (4, "[P, S, Hk, Dv]"), (2, "[B, M]"), (1, "[B]")])
    B, H, Nq, _ = q.shape
    o = q.new_empty((B, H, Nq, v_cache.shape[3]))
    lse = q.new_empty((B, H, Nq) if return_lse else (0,), dtype=torch.float32)
    return o, lse


def paged_impl(q, k_cache, v_cache, block_table, kv_lens, pattern: str,
               scale: float, return_lse: bool):
    from . import _paged
    o, lse = _paged_shapes(q, k_cache, v_cache, block_table, kv_lens, pattern,
                           scale, return_lse)
    r = _paged.paged_attention(q, k_cache, v_cache, block_table, kv_lens,
                               pattern, scale, return_lse, o)
    return (r[0], r[1]) if return_lse else (r, lse)


lib.impl("paged_attention", paged_impl, "CPU")
lib.impl("paged_attention", paged_impl, "CUDA")
torch.library.register_fake("attn::paged_attention")(_paged_shapes)


# --- attn::lightning -------------------------------------------------------

def _lightning_shapes(q, k, v, slopes, state, scale, return_state):
    check_inputs("attn.lightning",
                 (("q", q), ("k", k), ("v", v), ("slopes", slopes),
                  ("state", state)),
                 [(4, "[B, H, N, D]")] * 3 + [(1, "[H]"), (4, "[B, H, D, Dv]")])
    B, H, N, D = q.shape
    Dv = v.shape[3]
    o = empty_like_layout(q, B, H, N, Dv, q.dtype)
    st = q.new_empty((B, H, D, Dv) if return_state else (0,),
                     dtype=torch.float32)
    return o, st


def lightning_impl(q, k, v, slopes: Optional[torch.Tensor],
                   state: Optional[torch.Tensor], scale: float,
                   return_state: bool) -> Tuple[torch.Tensor, torch.Tensor]:
    o, new_state = _lightning_shapes(q, k, v, slopes, state, scale,
                                     return_state)
    what = "attn.lightning"
    dq = _desc(q, "q", what)
    args = [dq, _desc(k, "k", what), _desc(v, "v", what), _desc(o, "out", what)]
    flags = 0
    if slopes is not None:
        args.append(_desc(slopes, "slopes", what))
        flags |= rt.LIGHTNING_SLOPES
    if state is not None:
        args.append(_desc(state, "state", what))
        flags |= rt.LIGHTNING_STATE_IN
    if return_state:
        args.append(_desc(new_state, "state_out", what))
        flags |= rt.LIGHTNING_STATE_OUT
    ctx = _context(q.device)
    kern = rt.lightning_kernel(ctx, dq[1], q.shape[3], v.shape[3], scale, flags)
    rt.launch(ctx, kern, args, what)
    return o, new_state


lib.impl("lightning", lightning_impl, "CPU")
lib.impl("lightning", lightning_impl, "CUDA")
torch.library.register_fake("attn::lightning")(_lightning_shapes)


# --- autograd: forward only, said clearly ----------------------------------

def _no_backward(name):
    def backward(ctx, *grads):
        raise NotImplementedError(
            f"attn::{name} has no backward yet: the kernels are forward only")
    return backward


def _setup_context(ctx, inputs, output):
    pass


for _name in ("attention", "paged_attention", "lightning"):
    torch.library.register_autograd(f"attn::{_name}", _no_backward(_name),
                                    setup_context=_setup_context)
