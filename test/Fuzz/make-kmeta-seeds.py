"""Writes the seed corpus of the kernel-metadata fuzzer into DIR: the
metadata attnc attaches to every kernel of kernels/*.mlir (CPU, sm_80,
sm_90a; one file per distinct text) and near misses written by hand.
usage: make-kmeta-seeds.py ATTNC DIR"""
import glob
import os
import re
import subprocess
import sys

attnc, out = sys.argv[1:]
src = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.makedirs(out, exist_ok=True)
texts = {}
for kernel in sorted(glob.glob(os.path.join(src, "kernels", "*.mlir"))):
    for target in ("cpu", "sm_80", "sm_90a"):
        proc = subprocess.run([attnc, kernel, "--target=" + target, "--emit=mlir"],
                              capture_output=True, text=True)
        for raw in re.findall(r'__attn_meta\("((?:[^"\\]|\\.)*)"\)', proc.stdout):
            text = re.sub(r"\\([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), raw)
            text = text.rstrip("\0")
            name = "%s-%s" % (os.path.basename(kernel)[:-5], target)
            texts.setdefault(text, name)
# At most four per kernel file and target, those with the most kinds of
# line first (launch conditions, tensor maps), so the corpus stays small.
groups = {}
for text, name in texts.items():
    groups.setdefault(name, []).append(text)
for name, group in groups.items():
    group.sort(key=lambda t: (-len({l.split(" ")[0] for l in t.split("\n")}),
                              -len(t), t))
    for i, text in enumerate(group[:4]):
        with open(os.path.join(out, "%s-%d.txt" % (name, i + 1)), "w") as f:
            f.write(text)

# Near misses: each breaks one rule of KernelMeta.cpp's parser.
gpu = next((t for t in texts if "\ntarget sm_90a" in t and "\nlaunch" in t), None)
cpu = next(t for t in texts if "\ncpu " in t)
misses = {
    "no-header": cpu.split("\n", 1)[1],
    "empty-line": cpu.replace("\nphases", "\n\nphases"),
    "twice": cpu + "op attention\n",
    "bad-rank": cpu.replace("arg q f32 4", "arg q f32 5"),
    "no-args": "\n".join(l for l in cpu.split("\n") if not l.startswith("arg")),
    "cpu-launch": cpu + "launch k 64 1\n",
    "crlf": cpu.replace("\n", "\r\n"),
}
if gpu:
    misses.update({
        "gpu-phases": gpu.replace("\nphases ", "\nphases 1"),
        "gpu-empty-range": gpu + "launch x 64 1 keys 5 5\n",
        "gpu-cond-twice": gpu + "launch x 64 1 if 2 unless 3\n",
        "gpu-threads": gpu.replace("\nthreads ", "\nthreads 9"),
    })
for name, text in misses.items():
    with open(os.path.join(out, "miss-%s.txt" % name), "w") as f:
        f.write(text)
print("%d seeds from attnc (%d distinct), %d near misses"
      % (sum(min(4, len(g)) for g in groups.values()), len(texts), len(misses)))
