"""Plots the model frontier: each candidate's mIoU on its scored split against the daemon's masks/s (4 streams
unpaced, `npm run bench`), with the default's speed floor. Usage: plot-frontier.py FRONTIER.json OUT.png
(matplotlib, from the training venv).

FRONTIER.json: {"split": "xseq-val", "floorMasksPerS": 40, "candidates": [{"name", "miou" (percent),
"masksPerS", "precision": "fp32"|"int8", "note"}]}; a candidate whose miou is null is drawn on the x axis only.
"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    with open(src, encoding="utf-8") as f:
        frontier = json.load(f)
    fig, ax = plt.subplots(figsize=(8, 5.5))
    markers = {"fp32": "o", "int8": "s"}
    unscored = 0   # speed-only candidates share y = 0: their labels are stacked so they stay readable
    for c in frontier["candidates"]:
        y = c["miou"] if c["miou"] is not None else 0.0
        lift = 0
        if c["miou"] is None:
            lift, unscored = 14 * unscored, unscored + 1
        ax.scatter(c["masksPerS"], y, marker=markers.get(c["precision"], "o"), s=60,
                   facecolors="none" if c["miou"] is None else None, edgecolors="black", zorder=3)
        label = f"{c['name']} ({c['precision']})" + ("" if c["miou"] is not None else f": no {frontier['split']} figure")
        ax.annotate(label, (c["masksPerS"], y), textcoords="offset points", xytext=(-6, 6 + lift), ha="right", fontsize=8,
                    arrowprops={"arrowstyle": "-", "lw": 0.5} if lift else None)
    floor = frontier.get("floorMasksPerS")
    if floor is not None:
        ax.axvline(floor, color="tab:red", linestyle="--", linewidth=1, label=f"default needs ≥ {floor:g} masks/s")
        ax.legend(loc="lower left", fontsize=8)
    xs = [c["masksPerS"] for c in frontier["candidates"]]
    ax.set_xlim(min(xs + [floor or min(xs)]) - 15, max(xs + [floor or max(xs)]) + 3)
    ax.set_xlabel("daemon masks/s, 4 streams unpaced (this 2-core CPU)")
    ax.set_ylabel(f"mIoU on {frontier['split']} (%)")
    ax.set_title(f"Accuracy on {frontier['split']} against speed")
    ax.grid(True, alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        raise SystemExit("usage: plot-frontier.py FRONTIER.json OUT.png")
    main(sys.argv[1], sys.argv[2])
