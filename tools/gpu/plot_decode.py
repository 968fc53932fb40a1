#!/usr/bin/env python3
"""Plots the numbers bench_decode.py writes (gpu-decode.json) as a PNG: K/V
bandwidth (TB/s) of one decoding step against N, one panel per (D, heads,
B), one line per implementation, the card's copy bandwidth dashed.
usage: plot_decode.py docs/gpu-logs/gpu-decode-h100.json docs/gpu-decode.png
(needs matplotlib: pip install matplotlib)"""
import json
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

LABELS = ["attn", "attn whole-row", "attn paged 16", "attn paged 64", "cuDNN", "FA2"]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    data = json.load(open(src))
    panels = {}
    for r in data["rows"]:
        panels.setdefault((r["d"], r["h"], r["hk"], r["b"]), []).append(r)
    keys = sorted(panels)
    cols = 4
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        pts = sorted(panels[key], key=lambda r: r["n"])
        for i, lab in enumerate(LABELS):
            xs = [r["n"] for r in pts if lab in r["tbs"]]
            ys = [r["tbs"][lab] for r in pts if lab in r["tbs"]]
            if xs:
                ax.plot(xs, ys, marker="o", label=lab, color=f"C{i}")
        ax.axhline(data["copy_tbs"], color="gray", linestyle="--", linewidth=1,
                   label="copy")
        d, h, hk, b = key
        ax.set_title(f"D={d} H/Hk={h}/{hk} B={b}", fontsize=9)
        ax.set_xscale("log", base=2)
        ax.set_xlabel("N (cached keys)")
        ax.set_ylabel("K/V TB/s")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    fig.suptitle(f"Decoding step (Nq = 1), bf16, {data['device']}, {data['date']}",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=90)
    print(f"wrote {dst}")


if __name__ == "__main__":
    main()
