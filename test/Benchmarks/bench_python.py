"""Per-call overhead of the Python package (not a test): microseconds per
call of attn.attention on small shapes, against the runtime's attn_launch
called directly (a C loop compiled here, and one ctypes call with a prepacked
argument array), the same kernel and tensors each time.

    python3 test/Benchmarks/bench_python.py [--device cpu|cuda] [--iters N]

Uses the installed `attn` package, or runtime/python with $ATTN_LIBRARY_DIR
(a build's lib/). On CUDA every timed loop ends with a synchronize, and the
C loop is not built (it would need the CUDA headers): the baseline there is
the ctypes call.
"""
import argparse
import ctypes
import os
import platform
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch

import attn
from attn import _runtime as rt
from attn import _torch as at

C_LOOP = r"""
#include "runtime/attnrt.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec + 1e-9 * t.tv_nsec; }
int main(int argc, char **argv) {
  int B = 1, H = atoi(argv[1]), N = atoi(argv[2]), D = atoi(argv[3]), iters = atoi(argv[4]);
  attn_context *ctx; attn_kernel *k;
  if (attn_context_create(ATTN_DEVICE_CPU, 0, &ctx) ||
      attn_get_kernel(ctx, "#attn.causal", ATTN_F32, D, D, 0.f, 0, &k)) {
    fprintf(stderr, "%s\n", attn_last_error()); return 1; }
  float *buf[4]; attn_tensor t[4];
  for (int i = 0; i < 4; ++i) {
    buf[i] = calloc((size_t)B * H * N * D, sizeof(float));
    for (long j = 0; j < (long)B * H * N * D; ++j) buf[i][j] = (float)(j % 7) * 0.1f;
    attn_tensor x = {buf[i], ATTN_F32, 4, {B, H, N, D},
                     {(long)H * N * D, (long)N * D, D, 1}};
    t[i] = x;
  }
  for (int i = 0; i < iters / 10; ++i) attn_launch(ctx, k, t, 4);
  double best = 1e30;
  for (int r = 0; r < 5; ++r) {
    double s = now();
    for (int i = 0; i < iters; ++i)
      if (attn_launch(ctx, k, t, 4)) { fprintf(stderr, "%s\n", attn_last_error()); return 1; }
    double us = (now() - s) / iters * 1e6;
    if (us < best) best = us;
  }
  printf("%.3f\n", best);
  return 0;
}
"""


def c_loop_us(H, N, D, iters):
    """The C loop's best µs per attn_launch, or None when it cannot be built."""
    libdir = os.path.dirname(rt.library().path)
    root = os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.dirname(os.path.abspath(attn.__file__)))))
    inc = os.environ.get("ATTN_SOURCE_DIR", root)
    if not os.path.exists(os.path.join(inc, "runtime", "attnrt.h")):
        return None
    with tempfile.TemporaryDirectory() as d:
        src, exe = os.path.join(d, "loop.c"), os.path.join(d, "loop")
        with open(src, "w") as f:
            f.write(C_LOOP)
        try:
            subprocess.run(["cc", "-O2", "-I", inc, src, "-o", exe,
                            f"-L{libdir}", "-lattnjit", "-lattnrt",
                            f"-Wl,-rpath,{libdir}"], check=True,
                           capture_output=True)
            r = subprocess.run([exe, str(H), str(N), str(D), str(iters)],
                               check=True, capture_output=True, text=True)
        except (OSError, subprocess.CalledProcessError) as e:
            print(f"(C loop not run: {e})", file=sys.stderr)
            return None
        return float(r.stdout)


def timeit(fn, iters, sync=None):
    for _ in range(max(iters // 10, 10)):
        fn()
    best = float("inf")
    for _ in range(5):
        t = time.perf_counter()
        for _ in range(iters):
            fn()
        if sync:
            sync()
        best = min(best, (time.perf_counter() - t) / iters * 1e6)
    return best


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--iters", type=int, default=20000)
    ap.add_argument("--shapes", default="1x16x64,1x1x64,8x128x64")
    ap.add_argument("--dtype", default=None,
                    help="float32 (CPU default) or float16 (CUDA default)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    dtype = getattr(torch, args.dtype or ("float16" if dev.type == "cuda"
                                          else "float32"))
    code = {torch.float32: rt.F32, torch.float16: rt.F16,
            torch.bfloat16: rt.BF16}[dtype]
    sync = torch.cuda.synchronize if dev.type == "cuda" else None
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    print(f"attn {attn.__version__}, torch {torch.__version__}, {dev}, {dtype}, "
          f"CPU: {cpu} ({os.cpu_count()} threads)"
          + (f", GPU: {torch.cuda.get_device_name(dev)}" if sync else ""))
    # torch's own floor for a Python-implemented custom op made like
    # attn::attention (the same schema, an autograd registration that
    # refuses backward): it returns q twice and does nothing else.
    floor_lib = torch.library.Library("attn_bench", "DEF")
    floor_lib.define("noop(Tensor q, Tensor k, Tensor v, str pattern, "
                     "float scale, bool return_lse) -> (Tensor, Tensor)")
    for key in ("CPU", "CUDA"):
        floor_lib.impl("noop", lambda q, k, v, p, s, r: (q, q), key)
    torch.library.register_autograd(
        "attn_bench::noop", lambda ctx, *g: None,
        setup_context=lambda ctx, inputs, output: None)
    at.fast(torch.zeros(1, 1, 1, 64, device=dev, dtype=dtype),
            torch.zeros(1, 1, 1, 64, device=dev, dtype=dtype),
            torch.zeros(1, 1, 1, 64, device=dev, dtype=dtype),
            "#attn.causal", 0.0, False, None) if at.fast else None
    fast = at.fast
    print("attn._ext (compiled fast path): "
          + (os.path.basename(at.ext.__file__) if at.ext else "not loaded"))
    print(f"| shape [B,H,N,D] | C attn_launch | ctypes attn_launch | "
          f"attn.attention (torch) | overhead vs C | same, Python path "
          f"| torch.ops.attn.attention | empty custom op | attn.attention (numpy) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for shape in args.shapes.split(","):
        H, N, D = (int(x) for x in shape.split("x"))
        q, k, v = (torch.randn(1, H, N, D, device=dev, dtype=dtype)
                   for _ in range(3))
        o = torch.empty_like(q)
        # The kernel and a prepacked argument array: the runtime directly.
        ctx = at._context(dev)
        kern = rt.attention_kernel(ctx, "#attn.causal", code, D, D, 0.0, False)
        vals = []
        for t in (q, k, v, o):
            vals += (t.data_ptr(), code, 4, *t.shape, *t.stride())
        packer = rt._PACKERS[4]
        buf = ctypes.create_string_buffer(packer.size)
        packer.pack_into(buf, 0, *vals)
        launch = rt.library().launch
        raw = timeit(lambda: launch(ctx, kern, buf, 4), args.iters, sync)
        c = None if sync or code != rt.F32 else c_loop_us(H, N, D, args.iters)
        api = timeit(lambda: attn.attention(q, k, v, "causal"), args.iters, sync)
        at.fast = None
        pyp = timeit(lambda: attn.attention(q, k, v, "causal"), args.iters, sync)
        at.fast = fast
        op = timeit(lambda: torch.ops.attn.attention(q, k, v, "#attn.causal",
                                                     0.0, False),
                    args.iters, sync)
        noop = timeit(lambda: torch.ops.attn_bench.noop(q, k, v, "#attn.causal",
                                                         0.0, False),
                      args.iters, sync)
        npy = "-"
        if not sync and dtype != torch.bfloat16:
            qn, kn, vn = q.numpy(), k.numpy(), v.numpy()
            npy = "%.1f" % timeit(lambda: attn.attention(qn, kn, vn, "causal"),
                                  args.iters)
        base = c if c is not None else raw
        print(f"| 1x{H}x{N}x{D} | " + ("%.1f" % c if c is not None else "-")
              + f" | {raw:.1f} | {api:.1f} | {api - base:.1f} | {pyp:.1f} | {op:.1f} "
              f"| {noop:.1f} | {npy} |")


if __name__ == "__main__":
    main()
