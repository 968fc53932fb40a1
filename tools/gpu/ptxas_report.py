#!/usr/bin/env python3
"""Assembles every kernel of kernels/gpu.mlir for sm_80 and sm_90a with
ptxas -v and checks what makes them fast and legal: no spills (0 bytes of
spill stores and loads, no stack frame), at most 255 registers, dynamic
shared memory within the chip's per-block limit (A100: 163 KB, H100: 227 KB).
Prints a table; --write PATH also writes it (markdown). Exits 1 if a kernel
breaks a limit, 2 if a tool is missing.
usage: ptxas_report.py ATTNC [--kernels FILE] [--write PATH]
"""
import argparse
import datetime
import os
import re
import shutil
import subprocess
import sys
import tempfile

SMEM_LIMIT = {"sm_80": 163 * 1024, "sm_90a": 227 * 1024}


def find_ptxas():
    home = os.environ.get("CUDA_HOME")
    for cand in ([os.path.join(home, "bin", "ptxas")] if home else []) + \
            [shutil.which("ptxas"), "/usr/local/cuda/bin/ptxas"]:
        if cand and os.access(cand, os.X_OK):
            return cand
    return None


def metas(ptx):
    """name -> metadata text, decoded from the PTX's NAME__attn_meta arrays."""
    out = {}
    for m in re.finditer(r"\.b8 (\w+)__attn_meta\[\d+\] = \{([\d, ]+)\}", ptx):
        out[m.group(1)] = bytes(int(x) for x in m.group(2).split(",")).rstrip(b"\0").decode()
    return out


def main():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    ap = argparse.ArgumentParser()
    ap.add_argument("attnc")
    ap.add_argument("--kernels", default=os.path.join(root, "kernels", "gpu.mlir"))
    ap.add_argument("--write")
    args = ap.parse_args()
    ptxas = find_ptxas()
    if not ptxas:
        print("ptxas_report: error: no ptxas (set CUDA_HOME or PATH)", file=sys.stderr)
        return 2
    version = subprocess.run([ptxas, "--version"], capture_output=True,
                             text=True).stdout.strip().splitlines()[-1]
    rows, bad = [], 0
    with tempfile.TemporaryDirectory() as tmp:
        # The defaults of both targets, and sm_90a's 4-warp mma.sync variant.
        for label, target, extra in (("sm_80", "sm_80", []), ("sm_90a", "sm_90a", []),
                                     ("sm_90a 4 warps", "sm_90a", ["--warps=4"])):
            ptx_path = os.path.join(tmp, target + ".ptx")
            r = subprocess.run([args.attnc, args.kernels, f"--target={target}",
                                "--emit=ptx", "-o", ptx_path] + extra,
                               capture_output=True, text=True)
            if r.returncode:
                print(r.stderr, file=sys.stderr)
                return 1
            ptx = open(ptx_path).read()
            meta = metas(ptx)
            r = subprocess.run([ptxas, f"-arch={target}", "-v", ptx_path, "-o",
                                os.path.join(tmp, target + ".cubin")],
                               capture_output=True, text=True)
            if r.returncode:
                print(r.stderr, file=sys.stderr)
                return 1
            name = None
            info = {}
            for line in r.stderr.splitlines():
                m = re.search(r"Compiling entry function '(\w+)'", line)
                if m:
                    name = m.group(1)
                    info[name] = {}
                m = re.search(r"(\d+) bytes stack frame, (\d+) bytes spill stores, "
                              r"(\d+) bytes spill loads", line)
                if m and name:
                    info[name]["stack"], info[name]["st"], info[name]["ld"] = map(int, m.groups())
                m = re.search(r"Used (\d+) registers", line)
                if m and name:
                    info[name]["regs"] = int(m.group(1))
                # "Potential Performance Loss: wgmma.mma_async instructions
                # are serialized ... in the function 'NAME'".
                m = re.search(r"wgmma.mma_async instructions are serialized.*'(\w+)'", line)
                if m:
                    info.setdefault(m.group(1), {})["serial"] = True
            for name, v in info.items():
                # Launch entries of a kernel: NAME__phaseK[_rows] (dilated),
                # NAME__colsE (lightning's column slices), NAME__long (the
                # warp-specialized kernel of long rows), NAME__decode and
                # NAME__merge (split-KV decoding: their tiles are not the
                # kernel's, shown as '-').
                owner = re.split(r"__phase|__cols|__long|__decode|__merge", name)[0]
                fields = dict(l.split(" ", 1) for l in meta[owner].splitlines()
                              if " " in l and not l.startswith("launch"))
                # Each launch's own CTA ("launch NAME seg perSeg threads
                # smem [condition]"; dilated phases and lightning's slices
                # differ from the kernel's default).
                for l in meta[owner].splitlines():
                    parts = l.split()
                    if len(parts) >= 6 and parts[0] == "launch" and parts[1] == name:
                        fields["threads"], fields["smem"] = parts[4], parts[5]
                if name.endswith(("__decode", "__merge")):
                    fields["tile_m"] = fields["tile_n"] = fields["stages"] = "-"
                smem = int(fields["smem"])
                ok = (v["st"] == 0 and v["ld"] == 0 and v["stack"] == 0 and
                      v["regs"] <= 255 and smem <= SMEM_LIMIT[target] and
                      not v.get("serial"))
                bad += not ok
                rows.append((label, name, fields["threads"], fields["tile_m"],
                             fields["tile_n"], fields["stages"], v["regs"],
                             v["st"] + v["ld"], v["stack"], smem, ok))
    head = ("| target | kernel | threads | BM | BN | stages | registers | spill bytes "
            "| stack | dynamic smem (bytes) | within limits |")
    lines = [f"# ptxas resource report ({datetime.date.today().isoformat()})", "",
             f"Every kernel of kernels/gpu.mlir, assembled by `{version}` from the PTX "
             "attnc emits (`tools/gpu/ptxas_report.py`). Limits: 0 spill bytes, no "
             "stack frame, at most 255 registers, dynamic shared memory at most "
             "163 KB (sm_80) / 227 KB (sm_90a), no wgmma serialized by ptxas. "
             "'sm_90a': the default (8 warps, TMA, both products by wgmma where D "
             "is a multiple of 64; at D = 64 key tiles of 128 and registers "
             "capped at 128 for two CTAs per SM; at D = 128 warp-specialized "
             "(384 threads, a producer warpgroup and two consumer warpgroups, "
             "key tiles of 128): full and causal attention as one persistent "
             "kernel (a grid of one CTA per SM looping over the query tiles), "
             "the patterns that bound each query's keys (sliding window, "
             "block-causal) a grid of one CTA per query tile where tiles read "
             "2048 keys or more on average, else two CTAs per SM with key "
             "tiles of 64 (as NAME and NAME__long entries). The registers "
             "column is ptxas's allocation for 384 threads, 168, which "
             "setmaxnreg moves to 56 for the producer and 224 for the "
             "consumers of a persistent kernel, 24 and 240 otherwise); "
             "'sm_90a 4 warps': "
             "`--warps=4`, TMA, mma.sync.", "", head,
             "|" + "---|" * 11]
    for r in rows:
        lines.append("| " + " | ".join(str(x) for x in r[:-1]) +
                     f" | {'yes' if r[-1] else '**NO**'} |")
    text = "\n".join(lines) + "\n"
    print(text)
    print(f"{len(rows) - bad}/{len(rows)} kernels within limits")
    if args.write:
        with open(args.write, "w") as f:
            f.write(text)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
