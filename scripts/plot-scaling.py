"""Plots bench-scaling.ts's JSON: masks/s (with the least and most served stream), CPU ms per mask, RSS and
p50/p99 latency against the number of streams, paced and unpaced. Usage: plot-scaling.py RESULT.json OUT.png
(matplotlib, from the training venv: bench-scaling.ts runs it)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    with open(src, encoding="utf-8") as f:
        result = json.load(f)
    points = result["scaling"]
    fig, axes = plt.subplots(2, 2, figsize=(11, 8))
    (ax_rate, ax_cpu), (ax_rss, ax_lat) = axes
    styles = {"paced": ("tab:blue", f"{result['clipFps']} fps cameras"), "unpaced": ("tab:orange", "unpaced")}
    for mode, (color, label) in styles.items():
        ps = [p for p in points if p["mode"] == mode]
        if not ps:
            continue
        n = [p["streams"] for p in ps]
        ax_rate.plot(n, [p["masksPerS"] for p in ps], "o-", color=color, label=f"{label}: all streams")
        ax_rate.fill_between(n, [p["streamMinPerS"] * p["streams"] for p in ps], [p["streamMaxPerS"] * p["streams"] for p in ps],
                             color=color, alpha=0.15, label=f"{label}: streams × least/most served stream")
        ax_cpu.plot(n, [p["cpuMsPerMask"] for p in ps], "o-", color=color, label=label)
        ax_rss.plot(n, [p["rssMb"] for p in ps], "o-", color=color, label=f"{label}: RSS")
        if all("pssMb" in p for p in ps):
            ax_rss.plot(n, [p["pssMb"] for p in ps], "s:", color=color, label=f"{label}: PSS")
        ax_lat.plot(n, [p["p50"] for p in ps], "o--", color=color, label=f"{label}: p50")
        ax_lat.plot(n, [p["p99"] for p in ps], "o-", color=color, label=f"{label}: p99")
    if any(p["mode"] == "paced" for p in points):
        ax_rate.plot([p["streams"] for p in points if p["mode"] == "paced"],
                     [p["streams"] * result["clipFps"] for p in points if p["mode"] == "paced"], ":", color="gray", label="frames asked (paced)")
    titles = [(ax_rate, "masks/s received"), (ax_cpu, "CPU ms per mask (daemon + ffmpeg)"), (ax_rss, "RSS and PSS, MB (daemon + ffmpeg)"),
              (ax_lat, "capture→receive latency, ms")]
    for ax, title in titles:
        ax.set_title(title)
        ax.set_xscale("log", base=2)
        ax.set_xticks(sorted({p["streams"] for p in points}))
        ax.get_xaxis().set_major_formatter(matplotlib.ticker.ScalarFormatter())
        ax.set_xlabel("streams")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in (ax_rate, ax_cpu, ax_rss):
        ax.set_ylim(bottom=0)
    ax_lat.set_yscale("log")
    fig.suptitle(f"segd scaling: {result['model'].split('/')[-1]}, batch {result['maxBatch']}, {result['settings']['intraOpThreads']} intra-op threads "
                 f"(medians of {result['rounds']} rounds × {result['seconds']} s)", fontsize=10)
    fig.tight_layout()
    fig.savefig(dst, dpi=110)


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: plot-scaling.py RESULT.json OUT.png")
    main(sys.argv[1], sys.argv[2])
