#!/usr/bin/env python3
"""Packs the attn Python package for a GPU machine without LLVM: the package
with libattnrt only (no JIT), every kernel its CUDA tests and benchmark ask
for, precompiled here by attnc ($ATTN_KERNEL_DIR: sm_90a cubins, then sm_80
PTX), the tests, the float64 reference, pytest's wheels and run.sh.

usage: tools/gpu/python_bundle.py [--build build] [--out gpu-bundle-py] [--cpu]
Then, on the GPU machine:  bash gpu-bundle-py/run.sh   (pytest args may follow)
--cpu compiles the same kernels as CPU shared objects instead, so that the
bundle runs here (ATTN_TEST_DEVICE=cpu bash gpu-bundle-py/run.sh): a check
of the bundle itself, without a GPU.

Which kernels: the tests run here once on the CPU with the GPU run's dtypes
and head dims (ATTN_TEST_PARAMS=cuda), recording every kernel request
(ATTN_RECORD_KERNELS); each is compiled from the source the JIT builds for it
(kernel_source below; the JIT's attentionKernelSource/lightningKernelSource
in runtime/jit/Compiler.cpp). A request attnc refuses (the tests' invalid
patterns) goes into the manifest with attnc's message, which the package
raises as the JIT would.
"""
import argparse
import concurrent.futures
import json
import os
import shutil
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DTYPES = {0: "f32", 1: "f16", 2: "bf16"}
# (folder entry, attnc target, emit): tried in this order on the device.
TARGETS = [("sm_90a", "sm_90a", "cubin"), ("sm_80", "sm_80", "ptx")]
# The benchmark's kernels (bench_python.py --device cuda: causal, f16, D = 64).
BENCH = [["attention", "#attn.causal", 1, 64, 64, 0.0, False]]


def view(dtype, hd):
    return f"memref<?x?x?x{hd}x{dtype}, strided<[?, ?, ?, 1], offset: ?>>"


def scale_suffix(scale):
    return "" if scale == 0 else " {scale = %.9e : f32}" % scale


def kernel_source(key):
    """The kernel file of a request, as the JIT writes it."""
    if key[0] in ("attention", "paged_attention"):
        # (paged: the block table and lengths after K and V, as
        # attn_get_paged_kernel's source has them)
        paged = key[0] == "paged_attention"
        _, pattern, dt, d, dv, scale, lse = key
        t = lambda hd: view(DTYPES[dt], hd)  # noqa: E731
        ls = "memref<?x?x?xf32, strided<[?, ?, 1], offset: ?>>"
        s = f"func.func @kernel(%q: {t(d)}, %k: {t(d)}, %v: {t(dv)}"
        if paged:
            s += ", %table: memref<?x?xi32>, %lens: memref<?xi32>"
        s += f", %o: {t(dv)}"
        if lse:
            s += f", %lse: {ls}"
        s += (f") {{\n  attn.attention {pattern} ins(%q, %k, %v : {t(d)}, {t(d)}, "
              f"{t(dv)}) outs(%o : {t(dv)})")
        if lse:
            s += f" lse(%lse : {ls})"
        if paged:
            s += " paged(%table, %lens : memref<?x?xi32>, memref<?xi32>)"
        return s + scale_suffix(scale) + "\n  return\n}\n"
    _, dt, d, dv, scale, flags = key
    t = lambda hd: view(DTYPES[dt], hd)  # noqa: E731
    st = f"memref<?x?x{d}x{dv}xf32>"
    s = f"func.func @kernel(%q: {t(d)}, %k: {t(d)}, %v: {t(dv)}, %o: {t(dv)}"
    tail = ""
    if flags & 1:
        s += ", %slopes: memref<?xf32>"
        tail += " slopes(%slopes : memref<?xf32>)"
    if flags & 2:
        s += f", %kv_in: {st}"
        tail += f" state_in(%kv_in : {st})"
    if flags & 4:
        s += f", %kv_out: {st}"
        tail += f" state_out(%kv_out : {st})"
    return (s + f") {{\n  attn.lightning ins(%q, %k, %v : {t(d)}, {t(d)}, {t(dv)}) "
            f"outs(%o : {t(dv)})" + tail + scale_suffix(scale) + "\n  return\n}\n")


def record(build, env):
    """The kernel requests of the CUDA test run, recorded on the CPU."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        path = f.name
    e = dict(env, ATTN_TEST_PARAMS="cuda", ATTN_RECORD_KERNELS=path,
             ATTN_LIBRARY_DIR=os.path.join(build, "lib"),
             PYTHONPATH=os.path.join(ROOT, "runtime", "python"))
    print("python_bundle: running test/Python on the CPU with the GPU's "
          "parameters, recording kernel requests", flush=True)
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        os.path.join(ROOT, "test", "Python")], env=e)
    if r.returncode != 0:
        sys.exit("python_bundle: the recording run failed")
    keys = []
    with open(path) as f:
        for line in f:
            k = json.loads(line)
            if k not in keys:
                keys.append(k)
    os.unlink(path)
    for k in BENCH:
        if k not in keys:
            keys.append(k)
    return keys


def build_ext(build, python):
    """attn._ext built for `python` (the GPU machine's version) as a project
    of its own (runtime/python/ext/CMakeLists.txt) in build/ext-<python>;
    the module's path, or none when that Python or nanobind is missing."""
    exe = shutil.which(python) or (python if os.path.exists(python) else None)
    if exe is None:
        print(f"python_bundle: no {python} here: no attn._ext for it")
        return []
    try:
        nb = subprocess.run([sys.executable, "-m", "nanobind", "--cmake_dir"],
                            check=True, capture_output=True, text=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        print("python_bundle: no nanobind here: no attn._ext for " + python)
        return []
    bdir = os.path.join(build, "ext-" + os.path.basename(python))
    try:
        subprocess.run(["cmake", "-G", "Ninja", "-S",
                        os.path.join(ROOT, "runtime", "python", "ext"), "-B", bdir,
                        "-DCMAKE_BUILD_TYPE=Release", f"-DPython_EXECUTABLE={exe}",
                        f"-Dnanobind_DIR={nb}"], check=True, capture_output=True)
        subprocess.run(["ninja", "-C", bdir], check=True, capture_output=True)
    except (OSError, subprocess.CalledProcessError) as e:
        print(f"python_bundle: attn._ext for {python} did not build: {e}")
        return []
    lib = os.path.join(bdir, "lib")
    return [os.path.join(lib, x) for x in os.listdir(lib) if x.startswith("_ext.")]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--out", default=os.path.join(ROOT, "gpu-bundle-py"))
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--cpu", action="store_true",
                    help="CPU shared objects instead of GPU kernels")
    ap.add_argument("--ext-python", default=os.environ.get(
        "ATTN_EXT_PYTHON", "python3.12"),
        help="the GPU machine's Python, to build attn._ext for (default "
             "python3.12, or $ATTN_EXT_PYTHON: a path)")
    args = ap.parse_args()
    targets, device = TARGETS, "cuda"
    if args.cpu:
        targets, device = [("cpu", "cpu", "so")], "cpu"
    attnc = os.path.join(args.build, "bin", "attnc")
    env = dict(os.environ)
    if not env.get("CUDA_HOME") and os.path.exists("/usr/local/cuda/bin/ptxas"):
        env["CUDA_HOME"] = "/usr/local/cuda"
    keys = record(args.build, env)
    out = args.out
    shutil.rmtree(out, ignore_errors=True)
    kdir = os.path.join(out, "kernels")
    os.makedirs(os.path.join(kdir, "src"))
    have_ptxas = bool(env.get("CUDA_HOME")) or shutil.which("ptxas")

    def compile_one(i):
        key = keys[i]
        src = os.path.join(kdir, "src", f"k{i}.mlir")
        with open(src, "w") as f:
            f.write(kernel_source(key))
        files, error = [], None
        for name, target, emit in targets:
            if emit == "cubin" and not have_ptxas:
                emit = "ptx"
            dst = f"k{i}.{name}.{emit}"
            tflag = [] if target == "cpu" else [f"--target={target}"]
            r = subprocess.run([attnc, src, *tflag, f"--emit={emit}",
                                "-o", os.path.join(kdir, dst)],
                               capture_output=True, text=True, env=env)
            if r.returncode == 0:
                files.append(dst)
            elif error is None:
                error = r.stderr.strip()
        entry = {"key": key, "files": {device: files}}
        if not files:
            entry = {"key": key, "error": "cannot compile: " + (error or "?"),
                     "status": 3}
        return entry

    print(f"python_bundle: compiling {len(keys)} kernels for "
          + ", ".join(t[0] for t in targets), flush=True)
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as ex:
        entries = list(ex.map(compile_one, range(len(keys))))
    with open(os.path.join(kdir, "manifest.json"), "w") as f:
        json.dump({"kernels": entries}, f, indent=1)
    bad = [e for e in entries if "error" in e]
    print(f"python_bundle: {len(entries) - len(bad)} kernels, {len(bad)} refused "
          "(expected: the tests' invalid patterns):")
    for e in bad:
        msg = [x for x in e["error"].splitlines() if "error:" in x] or [e["error"]]
        print("   ", json.dumps(e["key"]), "->", msg[0].strip()[:120])

    # The package without the JIT, libattnrt beside it.
    pkg = os.path.join(out, "python", "attn")
    shutil.copytree(os.path.join(ROOT, "runtime", "python", "attn"), pkg,
                    ignore=shutil.ignore_patterns("__pycache__", "lib"))
    os.makedirs(os.path.join(pkg, "lib"))
    shutil.copy2(os.path.join(args.build, "lib", "libattnrt.so"), os.path.join(pkg, "lib"))
    # attn._ext, the compiled fast path: the build's (this Python) and one
    # for the GPU machine's Python.
    exts = [os.path.join(args.build, "lib", x)
            for x in os.listdir(os.path.join(args.build, "lib")) if x.startswith("_ext.")]
    exts += build_ext(args.build, args.ext_python)
    for x in exts:
        shutil.copy2(x, os.path.join(pkg, "lib"))
    print("python_bundle: attn._ext for " + (", ".join(os.path.basename(x) for x in exts)
                                             or "no Python (the pure-Python path will run)"))
    shutil.copytree(os.path.join(ROOT, "test", "Python"), os.path.join(out, "test", "Python"),
                    ignore=shutil.ignore_patterns("__pycache__", "*.test"))
    os.makedirs(os.path.join(out, "test", "Numerics"))
    shutil.copy2(os.path.join(ROOT, "test", "Numerics", "reference.py"),
                 os.path.join(out, "test", "Numerics"))
    shutil.copy2(os.path.join(ROOT, "test", "Benchmarks", "bench_python.py"), out)
    # pytest for a machine that may not have it (pure-Python wheels).
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:",
                    "--python-version", "3.12", "-d", os.path.join(out, "wheels"), "pytest"],
                   check=True)
    with open(os.path.join(out, "run.sh"), "w") as f:
        f.write(RUN_SH)
    size = sum(os.path.getsize(os.path.join(d, x)) for d, _, fs in os.walk(out) for x in fs)
    print(f"python_bundle: {out} ({size / 2**20:.1f} MiB). On the GPU machine: "
          f"bash {os.path.relpath(out, ROOT)}/run.sh")


RUN_SH = r'''#!/usr/bin/env bash
# The attn Python package on CUDA, without LLVM (kernels precompiled by
# tools/gpu/python_bundle.py): test/Python on CUDA tensors and streams, then
# the per-call overhead benchmark. Extra arguments go to pytest.
set -uo pipefail
B=$(cd "$(dirname "$0")" && pwd)
if ! python3 -c 'import pytest' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --target /tmp/attn-site "$B"/wheels/*.whl
  export PYTHONPATH=/tmp/attn-site
fi
export PYTHONPATH="$B/python${PYTHONPATH:+:$PYTHONPATH}" ATTN_KERNEL_DIR="$B/kernels"
export ATTN_TEST_DEVICE=${ATTN_TEST_DEVICE:-cuda} ATTN_TEST_PARAMS=cuda
export PYTHONUNBUFFERED=1 PYTHONDONTWRITEBYTECODE=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || true
# The fast path must load where the bundle has a module for this Python.
if python3 -c "import importlib.machinery as m, os, sys; sys.exit(not any(os.path.exists('$B/python/attn/lib/_ext' + s) for s in m.EXTENSION_SUFFIXES))"; then
  export ATTN_EXPECT_EXT=1
fi
python3 -m pytest -q -p no:cacheprovider -rs "$B/test/Python" "$@"
rc=$?
python3 "$B/bench_python.py" --device "$ATTN_TEST_DEVICE" --dtype float16 --iters 5000
exit $rc
'''

if __name__ == "__main__":
    main()
