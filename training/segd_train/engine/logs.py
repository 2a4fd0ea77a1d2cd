"""Per-run metric files: train.csv (one row per logged step), val.csv (one row per validation) and
curves.png drawn from both. Appending keeps a resumed run's history in the same files."""
from __future__ import annotations

import csv
from pathlib import Path


class CsvLog:
    """Appends dict rows; the header is fixed by the first row ever written (new keys are an error, so a
    resumed run cannot silently shift columns)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fields: list[str] | None = None
        if path.is_file() and path.stat().st_size > 0:
            with path.open(newline="") as f:
                self.fields = next(csv.reader(f), None)

    def append(self, row: dict[str, float | int | str]) -> None:
        if self.fields is None:
            self.fields = list(row)
            with self.path.open("w", newline="") as f:
                csv.writer(f).writerow(self.fields)
        extra = set(row) - set(self.fields)
        if extra:
            raise ValueError(f"{self.path}: row has columns {sorted(extra)} not in the header {self.fields}")
        with self.path.open("a", newline="") as f:
            csv.DictWriter(f, self.fields).writerow(row)

    def truncate_after(self, step: int) -> None:
        """Drops rows logged after `step` (a resumed run repeats them from its checkpoint)."""
        if self.fields is None:
            return
        rows = read_csv(self.path)
        with self.path.open("w", newline="") as f:
            w = csv.DictWriter(f, self.fields)
            w.writeheader()
            for r in rows:
                if int(float(r["step"])) <= step:
                    w.writerow(r)


def read_csv(path: Path) -> list[dict[str, str]]:
    if not path.is_file():
        return []
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def plot_curves(run_dir: Path) -> Path | None:
    """curves.png: training loss and lr over steps, val mIoU over steps."""
    train = read_csv(run_dir / "train.csv")
    val = read_csv(run_dir / "val.csv")
    if not train and not val:
        return None
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4), dpi=100)
    if train:
        steps = [int(r["step"]) for r in train]
        for key in [k for k in train[0] if k not in ("step", "lr", "time_s", "images_per_s", "epoch")]:
            axes[0].plot(steps, [float(r[key]) for r in train], label=key, linewidth=1)
        axes[0].set_yscale("log")
        axes[0].legend(fontsize=7)
        axes[1].plot(steps, [float(r["lr"]) for r in train])
    if val:
        axes[2].plot([int(r["step"]) for r in val], [float(r["miou"]) for r in val], marker="o")
    for ax, title in zip(axes, ("training loss", "base learning rate", "val mIoU")):
        ax.set_title(title)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    out = run_dir / "curves.png"
    fig.savefig(out)
    plt.close(fig)
    return out
