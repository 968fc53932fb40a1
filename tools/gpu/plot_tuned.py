"""Draws bench_tuned.py's results (tuning-gpu-bench.json, or a variant's):
useful TFLOP/s of the tuned (or variant) and default attn kernels, cuDNN SDPA and FlexAttention against N,
one panel per pattern and head dim.
usage: plot_tuned.py tuning-gpu-bench.json OUT.png"""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    doc = json.load(open(sys.argv[1]))
    rows = doc["rows"]
    panels = []
    for r in rows:
        if (r["tag"], r["d"]) not in panels:
            panels.append((r["tag"], r["d"]))
    cols = 4
    fig, axes = plt.subplots((len(panels) + cols - 1) // cols, cols,
                             figsize=(4 * cols, 3.2 * ((len(panels) + cols - 1) // cols)),
                             squeeze=False)
    label = doc.get("label", "tuned")
    styles = {label: ("C0", "o-"), "default": ("C0", "x--"), "cuDNN": ("C3", "s-"),
              "FlexAttention": ("C2", "^-")}
    for ax, (tag, d) in zip(axes.flat, panels):
        sel = [r for r in rows if r["tag"] == tag and r["d"] == d]
        ns = [r["n"] for r in sel]
        for key, (color, style) in styles.items():
            ys = [r["tflops"].get(key) for r in sel]
            pts = [(n, y) for n, y in zip(ns, ys) if y is not None]
            if pts:
                ax.plot([p[0] for p in pts], [p[1] for p in pts], style, color=color,
                        label=key, ms=4)
        ax.set_xscale("log", base=2)
        ax.set_title(f"{tag}, D = {d}", fontsize=10)
        ax.set_xlabel("N")
        ax.set_ylabel("TFLOP/s")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle(f"attn {label} vs default vs cuDNN vs FlexAttention, bf16 "
                 f"({doc['device']}, {doc['date']})", fontsize=11)
    fig.tight_layout()
    fig.savefig(sys.argv[2], dpi=110)


if __name__ == "__main__":
    main()
