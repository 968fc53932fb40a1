"""CPU benchmark of the attn compiler against the machine's own yardsticks.

Measures, in one run on this machine: the f32 sgemm rate (numpy over
OpenBLAS), a plain numpy/BLAS attention, PyTorch's CPU
scaled_dot_product_attention (installed into a private virtualenv, not a
test dependency) and attn-run, for dense causal attention at D = 64 and 128,
N = 4K..32K, 1 and 2 threads; LongNet's dilated schedule at N = 64K..1M with
time, useful GFLOP/s and peak memory. Prints a table and writes it to
docs/cpu-benchmarks.md. A benchmark, not a test: it asserts nothing.

usage: python3 test/Benchmarks/bench_cpu.py [--quick]
env:   ATTN_BUILD (default build/), BENCH_VENV (default build/bench-venv)
"""
import datetime
import json
import os
import platform
import subprocess
import sys
import tempfile

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("ATTN_BUILD", os.path.join(ROOT, "build"))
RUN = os.path.join(BUILD, "bin", "attn-run")
VENV = os.environ.get("BENCH_VENV", os.path.join(BUILD, "bench-venv"))
QUICK = "--quick" in sys.argv
WORK = tempfile.mkdtemp(prefix="attn-bench-")
CACHE = os.path.join(WORK, "cache")


def say(msg):
    print(msg, flush=True)


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def cpu_flags():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags"):
                f = line.split(":", 1)[1].split()
                return "AVX-512" if "avx512f" in f else "AVX2" if "avx2" in f else "SSE"
    except OSError:
        pass
    return "?"


def run_child(cmd, env=None):
    """Runs cmd; returns its stdout."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True, env=env)
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {err.strip()}")
    return out


def run_measured(cmd, env=None):
    """Like run_child but also returns the child's peak RSS (MiB)."""
    pid = os.fork()
    if pid == 0:
        try:
            fd = os.open(os.path.join(WORK, "child.out"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            os.execve(cmd[0], cmd, env or os.environ)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    out = open(os.path.join(WORK, "child.out")).read()
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed: {out.strip()}")
    return out, usage.ru_maxrss / 1024.0


SGEMM = r"""
import sys, time, numpy as np
n = 4096
a = np.random.rand(n, n).astype(np.float32); b = np.random.rand(n, n).astype(np.float32)
a @ b
ts = []
for _ in range(5):
    t = time.perf_counter(); a @ b; ts.append(time.perf_counter() - t)
print(2 * n ** 3 / sorted(ts)[2] / 1e9)
"""

NUMPY_ATTN = r"""
import sys, time, numpy as np
n, d = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
q = rng.standard_normal((n, d), dtype=np.float32); k = rng.standard_normal((n, d), dtype=np.float32)
v = rng.standard_normal((n, d), dtype=np.float32)
def attn():
    o = np.empty_like(q); blk = 1024; c = np.float32(1 / np.sqrt(d))
    for i0 in range(0, n, blk):
        i1 = min(n, i0 + blk)
        s = (q[i0:i1] @ k[:i1].T) * c          # causal: keys up to the block's end
        s[np.arange(i1 - i0)[:, None] < np.arange(i1)[None, :] - i0] = -np.inf
        s -= s.max(1, keepdims=True); np.exp(s, out=s)
        o[i0:i1] = (s @ v[:i1]) / s.sum(1, keepdims=True)
    return o
attn()
ts = []
for _ in range(int(sys.argv[3])):
    t = time.perf_counter(); attn(); ts.append(time.perf_counter() - t)
print(sorted(ts)[len(ts) // 2])
"""

TORCH_SDPA = r"""
import sys, time, torch
n, d, threads = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
torch.set_num_threads(threads)
q = torch.randn(1, 1, n, d); k = torch.randn(1, 1, n, d); v = torch.randn(1, 1, n, d)
f = torch.nn.functional.scaled_dot_product_attention
with torch.no_grad():
    f(q, k, v, is_causal=True)
    ts = []
    for _ in range(int(sys.argv[4])):
        t = time.perf_counter(); f(q, k, v, is_causal=True); ts.append(time.perf_counter() - t)
print(sorted(ts)[len(ts) // 2], torch.__version__)
"""


def ensure_torch():
    py = os.path.join(VENV, "bin", "python")
    if not os.path.exists(py):
        say(f"setting up {VENV} with CPU PyTorch (benchmark only) ...")
        subprocess.run([sys.executable, "-m", "venv", VENV], check=True)
        subprocess.run([py, "-m", "pip", "install", "-q", "numpy"], check=True)
        # PyPI's wheel (download.pytorch.org is not reachable from every
        # machine); it runs on the CPU when there is no GPU.
        subprocess.run([py, "-m", "pip", "install", "-q", "torch"], check=True)
    return py


DENSE_HEAD = ("| D | N | threads | attn ms | attn GFLOP/s | % of sgemm | "
              "numpy/BLAS GFLOP/s | torch SDPA GFLOP/s | attn / torch |\n"
              "|---|---|---|---|---|---|---|---|---|")
LONGNET_HEAD = ("| LongNet N | threads | time ms | useful GFLOP/s | peak RSS MiB | "
                "MiB per 1K tokens |\n|---|---|---|---|---|---|")
LIGHTNING_HEAD = ("| Lightning N | threads | time ms | GFLOP/s (SPEC block formula) | "
                  "peak RSS MiB |\n|---|---|---|---|---|")


def causal_flops(n, d):
    return 4.0 * d * n * (n + 1) / 2


def attn_run(pattern, n, d, threads, runs, h=1, dtype="f32"):
    for name in "qkv":
        np.save(os.path.join(WORK, f"{name}.npy"),
                np.random.default_rng().standard_normal((1, h, n, d), dtype=np.float32)
                .astype(np.float16 if dtype == "f16" else np.float32))
    cmd = [RUN, "--pattern", pattern, "--q", os.path.join(WORK, "q.npy"),
           "--k", os.path.join(WORK, "k.npy"), "--v", os.path.join(WORK, "v.npy"),
           "--out", os.path.join(WORK, "o.npy"), "--threads", str(threads),
           "--bench", str(runs)]
    env = dict(os.environ, ATTN_CACHE_DIR=CACHE)
    out, rss = run_measured(cmd, env)
    line = [l for l in out.splitlines() if l.startswith("bench:")][0]
    ms = float(line.split("median ")[1].split(" ms")[0])
    gflops = float(line.split("), ")[1].split(" useful")[0])
    return ms, gflops, rss


def main():
    rows = []
    date = datetime.date.today().isoformat()
    header = (f"Machine: {cpu_model()}, {os.cpu_count()} cores, {cpu_flags()}; "
              f"numpy {np.__version__}; date {date}.")
    say(header)
    sgemm = {}
    for t in (1, 2):
        env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
        sgemm[t] = float(run_child([sys.executable, "-c", SGEMM], env).strip())
        say(f"sgemm {t} thread(s): {sgemm[t]:.1f} GFLOP/s")
    torch_py = ensure_torch()

    ns = [4096, 8192] if QUICK else [4096, 8192, 16384, 32768]
    say("\n" + DENSE_HEAD)
    table = []
    torch_version = "?"
    for d in (64, 128):
        for n in ns:
            runs = 3 if n >= 16384 else 5
            for t in (1, 2):
                ms, gf, _ = attn_run("#attn.causal", n, d, t, runs)
                env = dict(os.environ, OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
                np_gf = float("nan")
                if n <= 16384:
                    secs = float(run_child([sys.executable, "-c", NUMPY_ATTN, str(n), str(d),
                                            "1" if n >= 16384 else "3"], env))
                    np_gf = causal_flops(n, d) / secs / 1e9
                tout = run_child([torch_py, "-c", TORCH_SDPA, str(n), str(d), str(t),
                                  str(runs)], env).split()
                torch_version = tout[1]
                t_gf = causal_flops(n, d) / float(tout[0]) / 1e9
                row = (f"| {d} | {n} | {t} | {ms:.1f} | {gf:.1f} | {100 * gf / sgemm[t]:.0f}% | "
                       f"{np_gf:.1f} | {t_gf:.1f} | {gf / t_gf:.2f}x |")
                table.append(row)
                say(row)

    say("\n" + LONGNET_HEAD)
    longnet = ("#attn.dilated<segments = [2048, 4096, 8192, 16384, 32768], "
               "rates = [1, 2, 4, 8, 16]>")
    dil = []
    lns = [65536, 262144] if QUICK else [65536, 131072, 262144, 524288, 1048576]
    times = {}
    for n in lns:
        ms, gf, rss = attn_run(longnet, n, 64, 2, 3, h=2)
        times[n] = ms
        row = f"| {n} | 2 | {ms:.1f} | {gf:.1f} | {rss:.0f} | {rss / (n / 1024):.2f} |"
        dil.append(row)
        say(row)
    lin = ""
    if 1048576 in times:
        ratio = times[1048576] / (16 * times[65536])
        lin = (f"1M tokens took {ratio:.2f}x of 16 x the 64K time "
               f"(linear scaling is 1.00x; the bar is <= 2x).")
        say(lin)

    say("\n" + LIGHTNING_HEAD)
    light = []
    lightning_times = {}
    for n in ([4096, 65536] if QUICK else [4096, 16384, 65536, 262144, 1048576]):
        ms, gf, rss = attn_run("#attn.lightning", n, 64, 2, 3, h=2)
        lightning_times[n] = ms
        row = f"| {n} | 2 | {ms:.1f} | {gf:.1f} | {rss:.0f} |"
        light.append(row)
        say(row)
    light_lin = ""
    if 1048576 in lightning_times:
        light_lin = (f"1M tokens took {lightning_times[1048576] / (16 * lightning_times[65536]):.2f}x "
                     f"of 16 x the 64K time.")
        say(light_lin)

    doc = os.path.join(ROOT, "docs", "cpu-benchmarks.md")
    with open(doc, "w") as f:
        f.write("# CPU benchmarks\n\n")
        f.write("Written by `python3 test/Benchmarks/bench_cpu.py` "
                "(one run; medians; f32; B = 1, H = 1 for dense causal).\n\n")
        f.write(header + f" PyTorch {torch_version} (pip wheel, run on the CPU).\n\n")
        f.write(f"sgemm (numpy over OpenBLAS, 4096^3): {sgemm[1]:.1f} GFLOP/s on 1 thread, "
                f"{sgemm[2]:.1f} on 2.\n\n")
        f.write("## Dense causal attention (useful GFLOP/s = 4 D N(N+1)/2 / time)\n\n")
        f.write(DENSE_HEAD + "\n")
        f.write("\n".join(table) + "\n\n")
        f.write("numpy/BLAS attention: blocks of 1024 queries, S = QK^T by sgemm, masked "
                "softmax, PV by sgemm (not run at N = 32K).\n\n")
        f.write("## LongNet dilated attention (w = 2048..32768, r = 1..16; B = 1, H = 2, "
                "D = 64, f32)\n\n")
        f.write(LONGNET_HEAD + "\n")
        f.write("\n".join(dil) + "\n\n")
        if lin:
            f.write(lin + "\n\n")
        f.write("Peak RSS is the whole attn-run process, its .npy inputs and outputs "
                "included (it holds them as float64 too): what matters is that it "
                "grows linearly with N.\n\n")
        f.write("## Lightning attention (B = 1, H = 2, D = Dv = 64, f32, block 64, "
                "default ALiBi slopes)\n\n")
        f.write(LIGHTNING_HEAD + "\n")
        f.write("\n".join(light) + "\n\n")
        if light_lin:
            f.write(light_lin + "\n")
    say(f"\nwrote {doc}")


if __name__ == "__main__":
    main()
