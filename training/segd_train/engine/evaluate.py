"""Whole-image evaluation: logits → bilinear (the model's align_corners) to the label size → argmax →
confusion matrix → per-class IoU and mIoU over the real classes (the ignore/void id never counts)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from ..data import DeviceSplit, normalize
from ..models.interface import align_corners_of
from .train import autocast_for


@dataclass(frozen=True)
class EvalResult:
    miou: float                  # mean over classes present in labels or predictions (NaN IoUs skipped)
    per_class_iou: list[float]   # NaN where a class is absent from both labels and predictions
    pixel_accuracy: float
    confusion: np.ndarray        # K×K int64, rows = label, columns = prediction

    def as_dict(self, class_names: list[str]) -> dict:
        return {"miou": self.miou, "pixel_accuracy": self.pixel_accuracy,
                "per_class_iou": {n: (None if math.isnan(v) else v) for n, v in zip(class_names, self.per_class_iou)}}


def confusion_matrix(pred: torch.Tensor, label: torch.Tensor, num_classes: int) -> torch.Tensor:
    """K×K counts over pixels whose label is a real class (ids ≥ K, i.e. ignore/void, are skipped)."""
    keep = label < num_classes
    idx = label[keep].long() * num_classes + pred[keep].long()
    return torch.bincount(idx, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def iou_from_confusion(conf: np.ndarray) -> tuple[list[float], float, float]:
    tp = np.diag(conf).astype(np.float64)
    union = conf.sum(0) + conf.sum(1) - tp
    with np.errstate(invalid="ignore", divide="ignore"):
        iou = np.where(union > 0, tp / union, np.nan)
    miou = float(np.nanmean(iou)) if np.any(union > 0) else float("nan")
    acc = float(tp.sum() / conf.sum()) if conf.sum() > 0 else float("nan")
    return [float(v) for v in iou], miou, acc


@torch.no_grad()
def evaluate(model: nn.Module, split: DeviceSplit, num_classes: int, *, batch_size: int = 4,
             amp: str = "none", progress: bool = False) -> EvalResult:
    """`model(x)` must return logits N×K×h×w (any stride). The model is put in eval mode and restored."""
    was_training = model.training
    align_corners = align_corners_of(model)
    model.eval()
    conf = torch.zeros(num_classes, num_classes, dtype=torch.int64, device=split.device)
    n = len(split)
    try:
        for start in tqdm(range(0, n, batch_size), desc="eval", disable=not progress, leave=False):
            images, labels = split.gather(torch.arange(start, min(start + batch_size, n)))
            x = normalize(images.permute(0, 3, 1, 2))
            with autocast_for(x.device, amp):
                logits = model(x)
            logits = F.interpolate(logits.float(), size=labels.shape[-2:], mode="bilinear",
                                   align_corners=align_corners)
            conf += confusion_matrix(logits.argmax(1), labels, num_classes)
    finally:
        model.train(was_training)
    conf_np = conf.cpu().numpy()
    per_class, miou, acc = iou_from_confusion(conf_np)
    return EvalResult(miou, per_class, acc, conf_np)


def save_confusion_png(conf: np.ndarray, class_names: list[str], path: str | Path, title: str = "") -> Path:
    """Row-normalised confusion matrix (each row: where that class's pixels went)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = conf.sum(1, keepdims=True).astype(np.float64)
    norm = np.divide(conf, rows, out=np.zeros(conf.shape, dtype=np.float64), where=rows > 0)
    k = len(class_names)
    fig, ax = plt.subplots(figsize=(1.0 + 0.55 * k, 1.0 + 0.5 * k), dpi=100)
    im = ax.imshow(norm, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.set_xticks(range(k), class_names, rotation=60, ha="right", fontsize=8)
    ax.set_yticks(range(k), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("label")
    if title:
        ax.set_title(title, fontsize=9)
    for i in range(k):
        for j in range(k):
            if norm[i, j] >= 0.01:
                ax.text(j, i, f"{norm[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if norm[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
