"""ctypes binding of the attn runtime core's C API (runtime/attnrt.h) for
the GPU scripts: CUDA contexts, kernel loading and launches on PyTorch
tensors (device pointers, shapes and strides passed as they are)."""
import ctypes
import os

F32, F16, BF16, I32 = 0, 1, 2, 3


class Tensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int),
                ("rank", ctypes.c_int32), ("shape", ctypes.c_int64 * 4),
                ("strides", ctypes.c_int64 * 4)]


class AttnError(RuntimeError):
    pass


class Runtime:
    def __init__(self, path):
        self.lib = ctypes.CDLL(os.path.abspath(path))
        L = self.lib
        L.attn_last_error.restype = ctypes.c_char_p
        L.attn_status_name.restype = ctypes.c_char_p
        for fn in ("attn_context_create", "attn_kernel_load", "attn_launch",
                   "attn_context_set_stream", "attn_synchronize"):
            getattr(L, fn).restype = ctypes.c_int
        L.attn_context_create.argtypes = [ctypes.c_int, ctypes.c_int,
                                          ctypes.POINTER(ctypes.c_void_p)]
        L.attn_kernel_load.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                       ctypes.c_char_p,
                                       ctypes.POINTER(ctypes.c_void_p)]
        L.attn_launch.argtypes = [ctypes.c_void_p, ctypes.c_void_p,
                                  ctypes.POINTER(Tensor), ctypes.c_int]
        L.attn_context_set_stream.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        L.attn_synchronize.argtypes = [ctypes.c_void_p]
        L.attn_kernel_info.restype = ctypes.c_char_p
        L.attn_kernel_info.argtypes = [ctypes.c_void_p]
        L.attn_kernel_release.argtypes = [ctypes.c_void_p]

    def check(self, status, what):
        if status != 0:
            raise AttnError(f"{what}: {self.lib.attn_status_name(status).decode()}: "
                            f"{self.lib.attn_last_error().decode()}")

    def cuda_context(self, ordinal=0):
        ctx = ctypes.c_void_p()
        self.check(self.lib.attn_context_create(1, ordinal, ctypes.byref(ctx)),
                   "attn_context_create(CUDA)")
        return ctx

    def cpu_context(self, threads=0):
        ctx = ctypes.c_void_p()
        self.check(self.lib.attn_context_create(0, threads, ctypes.byref(ctx)),
                   "attn_context_create(CPU)")
        return ctx

    def set_stream(self, ctx, stream_handle):
        self.check(self.lib.attn_context_set_stream(ctx, ctypes.c_void_p(stream_handle)),
                   "attn_context_set_stream")

    def load(self, ctx, path, name):
        k = ctypes.c_void_p()
        self.check(self.lib.attn_kernel_load(ctx, path.encode(), name.encode(),
                                             ctypes.byref(k)),
                   f"attn_kernel_load({path})")
        return k

    def info(self, kernel):
        return self.lib.attn_kernel_info(kernel).decode()

    @staticmethod
    def tensor(t):
        """attn_tensor of a torch tensor (no copy)."""
        import torch
        dt = {torch.float32: F32, torch.float16: F16, torch.bfloat16: BF16,
              torch.int32: I32}[t.dtype]
        a = Tensor()
        a.data = t.data_ptr()
        a.dtype = dt
        a.rank = t.dim()
        for i, (n, s) in enumerate(zip(t.shape, t.stride())):
            a.shape[i] = n
            a.strides[i] = s
        return a

    def args(self, tensors):
        arr = (Tensor * len(tensors))(*[self.tensor(t) for t in tensors])
        return arr

    def launch(self, ctx, kernel, args):
        self.check(self.lib.attn_launch(ctx, kernel, args, len(args)), "attn_launch")
