#!/usr/bin/env python3
"""Plots the table bench_gpu.py writes (markdown) as a PNG: useful TFLOP/s
against N, one panel per (pattern, D), one line per implementation.
usage: plot_bench.py docs/gpu-benchmarks.md docs/gpu-benchmarks.png
(needs matplotlib: pip install matplotlib)"""
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    src, dst = sys.argv[1], sys.argv[2]
    lines = [l for l in open(src) if l.startswith("| ") and not l.startswith("| pattern")]
    header = next(l for l in open(src) if l.startswith("| pattern"))
    cols = [c.strip() for c in header.strip().strip("|").split("|")]
    impls = [c for c in cols[3:] if "/" not in c]
    data = {}
    for l in lines:
        cells = [c.strip() for c in l.strip().strip("|").split("|")]
        key = (cells[0], int(cells[1]))
        for impl, val in zip(cols[3:], cells[3:]):
            if impl in impls and val not in ("–", "-"):
                data.setdefault(key, {}).setdefault(impl, []).append((int(cells[2]), float(val)))
    keys = sorted(data, key=lambda k: ([p for p, _ in data].index(k[0]), k[1]))
    fig, axes = plt.subplots(len(keys) // 2 + len(keys) % 2, 2, figsize=(11, 3 * ((len(keys) + 1) // 2)))
    for ax, key in zip(axes.flat, keys):
        for impl, pts in data[key].items():
            pts.sort()
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=impl,
                    color=f"C{impls.index(impl)}")
        ax.set_xscale("log", base=2)
        ax.set_title(f"{key[0]}, D = {key[1]}")
        ax.set_xlabel("N")
        ax.set_ylabel("useful TFLOP/s")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(open(src).readline().strip("# \n"))
    fig.tight_layout(rect=(0, 0, 1, 0.985))  # room for the title
    fig.savefig(dst, dpi=90)


if __name__ == "__main__":
    main()
