"""`python -m segd_train report RUN_DIR...`: the RESULTS.md tables, read from run directories.

Per run: the best validation (step, mIoU, pixel accuracy, per-class IoU from val.csv) and the splits it was trained and
scored on (marked "seen in training" when the run's splits.json says it trained on scored frames), how far it got (last logged
step, images seen = steps × batch size) and its wall time. train.csv's `time_s` restarts at 0 in every resumed
process, so wall time is the sum of each process's last `time_s` (validation included); with the recipe's
`num_threads` it bounds the CPU time from above. With several runs scored on one split, a third table puts their mIoU side by side at
every step validated by at least two of them: a distillation gain is read at equal steps, not best against best.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from ..data.overlap import scored_on_label
from .logs import read_csv


@dataclass(frozen=True)
class RunSummary:
    name: str
    model: str
    teacher: str | None
    train_split: str
    val_split: str                  # the split every mIoU of this run is measured on (val.csv)
    step: int
    iterations: int
    images: int
    wall_hours: float
    threads: int | None
    best_step: int
    miou: float
    pixel_accuracy: float
    per_class: dict[str, float]
    curve: dict[int, float]


def wall_seconds(train_rows: list[dict[str, str]]) -> float:
    total, last = 0.0, 0.0
    for row in train_rows:
        t = float(row["time_s"])
        if t < last:           # a resumed process started its clock again
            total += last
        last = t
    return total + last


def summarise(run_dir: Path) -> RunSummary:
    cfg = yaml.safe_load((run_dir / "config.yaml").read_text())
    train, val = read_csv(run_dir / "train.csv"), read_csv(run_dir / "val.csv")
    if not train or not val:
        raise ValueError(f"{run_dir}: needs train.csv and val.csv with at least one row each")
    best = max(val, key=lambda r: float(r["miou"]))
    val_split = str(cfg.get("val_split", "val"))
    splits_file = run_dir / "splits.json"       # runs before it was written: the split's bare name
    if splits_file.is_file():
        splits = json.loads(splits_file.read_text())
        val_split = scored_on_label(val_split, int(splits["val_frames_in_training"]), int(splits["val_frames"]))
    step = int(float(train[-1]["step"]))
    return RunSummary(
        name=run_dir.name, model=cfg["model"], teacher=cfg.get("teacher"),
        train_split=str(cfg.get("train_split", "train")), val_split=val_split, step=step, iterations=int(cfg["iterations"]),
        images=step * int(cfg["batch_size"]), wall_hours=wall_seconds(train) / 3600, threads=cfg.get("num_threads"),
        best_step=int(float(best["step"])), miou=float(best["miou"]), pixel_accuracy=float(best["pixel_accuracy"]),
        per_class={k.removeprefix("iou_"): float(v) for k, v in best.items() if k.startswith("iou_") and v != ""},
        curve={int(float(r["step"])): float(r["miou"]) for r in val})


def markdown(runs: list[RunSummary]) -> str:
    head = ("| run | model | teacher | trained on | scored on | best mIoU | pixel acc. | at step | steps done | "
            "images seen | wall h |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = "".join(f"| {r.name} | {r.model} | {r.teacher or '—'} | {r.train_split} | {r.val_split} | {100 * r.miou:.1f} | "
                   f"{100 * r.pixel_accuracy:.1f} | "
                   f"{r.best_step} | {r.step}/{r.iterations} | {r.images:,} | {r.wall_hours:.2f} |\n" for r in runs)
    classes = list(runs[0].per_class) if runs else []
    per = ("\n| run (per-class IoU at its best step) | " + " | ".join(classes) + " |\n|---|" + "---|" * len(classes) + "\n"
           + "".join(f"| {r.name} | " + " | ".join(f"{100 * r.per_class.get(c, float('nan')):.1f}" for c in classes)
                     + " |\n" for r in runs))
    return head + rows + per + equal_steps(runs)


def equal_steps(runs: list[RunSummary]) -> str:
    """mIoU per step validated by ≥ 2 runs ('' when there is none); with exactly two, the second minus the first.
    Runs scored on different splits are not comparable step by step, so then there is no such table."""
    if len({r.val_split for r in runs}) > 1:
        return ""
    steps = sorted(s for s in {s for r in runs for s in r.curve} if sum(s in r.curve for r in runs) >= 2)
    if not steps:
        return ""
    diff = len(runs) == 2

    def row(step: int) -> str:
        cells = [f"{100 * r.curve[step]:.1f}" if step in r.curve else "" for r in runs]
        if diff:
            both = all(step in r.curve for r in runs)
            cells.append(f"{100 * (runs[1].curve[step] - runs[0].curve[step]):+.1f}" if both else "")
        return f"| {step} | " + " | ".join(cells) + " |\n"

    head = (f"\n| step ({runs[0].val_split} mIoU) | " + " | ".join(r.name for r in runs) + (" | 2nd − 1st" if diff else "") + " |\n"
            + "|---|" + "---|" * (len(runs) + diff) + "\n")
    return head + "".join(row(s) for s in steps)
