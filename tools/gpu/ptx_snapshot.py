#!/usr/bin/env python3
"""Writes the PTX of every GPU kernel the project builds, to check that a
change to the compiler leaves the GPU code byte-identical.

The kernels: the GPU bundle's matrix, benchmark and lightning kernels
(tools/gpu/bundle.py) for each of its targets (sm_80; sm_90a default;
sm_90a with 4 warps), and every `attnc ... --emit=ptx` line of the lit GPU
tests. One PTX file each, plus SHA256SUMS; compare two snapshots with
`diff A/SHA256SUMS B/SHA256SUMS`.

usage: tools/gpu/ptx_snapshot.py OUT [--build build] [--jobs 2]
"""
import argparse
import concurrent.futures
import hashlib
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bundle  # noqa: E402


def lit_jobs(attnc):
    """(name, argv) of the attnc PTX lines of test/GPU, and the GPU inputs of
    test/Passes."""
    jobs = []
    for folder in ("test/GPU",):
        for f in sorted(os.listdir(os.path.join(ROOT, folder))):
            if not f.endswith(".test"):
                continue
            for i, line in enumerate(open(os.path.join(ROOT, folder, f))):
                m = re.match(r"// RUN: attnc (.*--emit=ptx.*?) -o \S+", line)
                if not m:
                    continue
                args = shlex.split(m.group(1).replace("%attn_src", ROOT))
                jobs.append((f"lit-{f}-{i + 1}", [attnc] + args))
    # The GPU inputs of the pass tests, through attnc for both targets.
    inputs = os.path.join(ROOT, "test", "Passes", "Inputs")
    for f in sorted(os.listdir(inputs)):
        if f.endswith(".mlir") and "gpu" in f:
            for target in ("sm_80", "sm_90a"):
                jobs.append((f"lit-{f}-{target}", [attnc, os.path.join(inputs, f),
                                                   f"--target={target}", "--emit=ptx"]))
    return jobs


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--jobs", type=int, default=2)
    args = ap.parse_args()
    attnc = os.path.join(args.build, "bin", "attnc")
    os.makedirs(os.path.join(args.out, "src"), exist_ok=True)
    sources = [(n, bundle.kernel_source(n, p, dt, d))
               for n, p, dt, d in bundle.kernels(False)]
    sources += [(n, bundle.lightning_source(n, dt, d, st))
                for n, dt, d, st in bundle.lightning_kernels(False)]
    jobs = lit_jobs(attnc)
    for name, text in sources:
        src = os.path.join(args.out, "src", name + ".mlir")
        with open(src, "w") as f:
            f.write(text)
        for folder, (target, _, flags) in bundle.TARGETS.items():
            jobs.append((f"{folder}-{name}",
                         [attnc, src, f"--target={target}", "--emit=ptx"] + flags))
    print(f"ptx_snapshot: {len(jobs)} kernels", flush=True)

    def run(job):
        name, argv = job
        r = subprocess.run(argv + ["-o", os.path.join(args.out, name + ".ptx")],
                           capture_output=True, text=True)
        return name, r

    failed = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for i, (name, r) in enumerate(pool.map(run, jobs)):
            if r.returncode != 0:
                failed += 1
                print(f"ptx_snapshot: error: {name}: {r.stderr.strip()}", file=sys.stderr)
            if (i + 1) % 25 == 0:
                print(f"ptx_snapshot: {i + 1}/{len(jobs)}", flush=True)
    with open(os.path.join(args.out, "SHA256SUMS"), "w") as sums:
        for name, _ in sorted(jobs):
            path = os.path.join(args.out, name + ".ptx")
            if os.path.exists(path):
                digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
                sums.write(f"{digest}  {name}.ptx\n")
    print(f"ptx_snapshot: {len(jobs) - failed} written, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
