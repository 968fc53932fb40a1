"""Launches one kernel of a bundle once (after a warm-up launch), for
Nsight Compute: device.sh ncu runs it under ncu for the configurations where
a benchmark bar is missed. Random bf16 inputs, B*N = 16K tokens, H*D = 2048
(LongNet: B = 1, H*D = 1024), as in bench_gpu.py. TARGET cudnn launches
torch's cuDNN attention instead (KERNEL full_* or causal_*), the peer to
profile beside ours.
usage: profile_gpu.py BUNDLE TARGET KERNEL N"""
import os
import sys

import torch

BUNDLE = os.path.abspath(sys.argv[1])
sys.path.insert(0, BUNDLE)
import attnrt  # noqa: E402


def main():
    target, name, n = sys.argv[2], sys.argv[3], int(sys.argv[4])
    d = int(name.rsplit("_d", 1)[1])
    b, h = max(1, 16384 // n), 2048 // d
    if name.startswith("longnet"):
        b, h = 1, 1024 // d
    q, k, v = (torch.randn(b, h, n, d, device="cuda", dtype=torch.bfloat16)
               for _ in range(3))
    if target == "cudnn":
        return run_cudnn(name, q, k, v)
    rt = attnrt.Runtime(os.path.join(BUNDLE, "libattnrt.so"))
    ctx = rt.cuda_context(0)
    rt.set_stream(ctx, torch.cuda.current_stream().cuda_stream)
    ext = "ptx" if target == "sm_80" else "cubin"  # sm_90a, sm_90a_w4
    kern = rt.load(ctx, os.path.join(BUNDLE, target, f"{name}.{ext}"), name)
    o = torch.empty_like(q)
    lse = torch.empty(b, h, n, device="cuda", dtype=torch.float32)
    a = rt.args([q, k, v, o, lse])
    for _ in range(2):
        rt.launch(ctx, kern, a)
    torch.cuda.synchronize()
    print(f"{target} {name} N={n} B={b} H={h}: launched", flush=True)


def run_cudnn(name, q, k, v):
    from torch.nn.attention import SDPBackend, sdpa_kernel
    import torch.nn.functional as F
    if not name.startswith(("full", "causal")):
        sys.exit(f"profile_gpu.py: cuDNN runs full and causal only, not {name}")
    b, h, n, _ = q.shape
    with sdpa_kernel([SDPBackend.CUDNN_ATTENTION]):
        for _ in range(2):
            F.scaled_dot_product_attention(q, k, v, is_causal=name.startswith("causal"))
    torch.cuda.synchronize()
    print(f"cudnn {name} N={n} B={b} H={h}: launched", flush=True)


if __name__ == "__main__":
    main()
