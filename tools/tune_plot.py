#!/usr/bin/env python3
"""Draws attn-tune's results (its --json file) as a PNG: per shape, the
default schedule's time and the tuned one's (bars), and the speed-up.

    tools/tune_plot.py results.json out.png [--title TEXT]

attn-tune --plot runs it. Several JSON files may be given before the PNG
(one kernel each): they share the figure, one panel per file.
"""
import json
import sys


def main(argv):
    args = [a for a in argv if not a.startswith("--")]
    title = None
    if "--title" in argv:
        title = argv[argv.index("--title") + 1]
        args.remove(title)
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    *inputs, out = args
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("tune_plot.py: error: matplotlib is not installed "
              "(pip install matplotlib)", file=sys.stderr)
        return 2
    docs = []
    for path in inputs:
        try:
            with open(path) as f:
                docs.append(json.load(f))
        except (OSError, ValueError) as e:
            print(f"tune_plot.py: error: cannot read {path}: {e}", file=sys.stderr)
            return 2
    fig, axes = plt.subplots(len(docs), 1, figsize=(9, 3.2 * len(docs)),
                             squeeze=False)
    for ax, doc in zip(axes[:, 0], docs):
        shapes = doc["shapes"]
        labels = [s["shape"].replace(" ", "\n", 3) for s in shapes]
        x = range(len(shapes))
        gd = [s["flops"] / (s["default_ms"] * 1e6) for s in shapes]
        gt = [s["flops"] / (s["tuned_ms"] * 1e6) for s in shapes]
        w = 0.38
        ax.bar([i - w / 2 for i in x], gd, w, label="default schedule")
        ax.bar([i + w / 2 for i in x], gt, w, label="tuned")
        for i, s in enumerate(shapes):
            ax.annotate(f"{s['default_ms'] / s['tuned_ms']:.2f}x",
                        (i + w / 2, gt[i]), ha="center", va="bottom",
                        fontsize=8)
        ax.set_xticks(list(x))
        ax.set_xticklabels(labels, fontsize=7)
        ax.set_ylabel("useful GFLOP/s")
        ax.set_title(doc.get("kernel", ""), fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(title or ("attn-tune on " + docs[0].get("device", "")[:90]),
                 fontsize=9)
    fig.tight_layout()
    fig.savefig(out, dpi=110)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
