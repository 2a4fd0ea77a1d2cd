"""Evaluation: confusion matrix and IoU arithmetic on known inputs, and a real run on CamVid val."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from segd_train.data import DeviceSplit, camvid_dataset
from segd_train.engine import confusion_matrix, evaluate, iou_from_confusion, save_confusion_png
from segd_train.models import build_model


def test_confusion_skips_ignore_and_counts_rows_as_labels() -> None:
    label = torch.tensor([[0, 0, 1, 11]])
    pred = torch.tensor([[0, 1, 1, 0]])
    conf = confusion_matrix(pred, label, num_classes=3).numpy()
    assert conf.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    iou, miou, acc = iou_from_confusion(conf)
    assert iou[0] == 0.5 and iou[1] == 0.5 and math.isnan(iou[2])   # absent class: not counted
    assert miou == 0.5 and acc == 2 / 3


def test_evaluate_on_real_val_frames_writes_the_confusion_png(camvid_root: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    ds = camvid_dataset(camvid_root, "val").subset(2)
    split = DeviceSplit.load(ds, torch.device("cpu"))
    model = build_model("sctnet-s", num_classes=11)
    model.train()
    res = evaluate(model, split, 11, batch_size=2)
    assert model.training                                  # mode restored
    assert 0.0 <= res.miou <= 1.0 and 0.0 <= res.pixel_accuracy <= 1.0
    labels = split.labels.numpy()
    assert res.confusion.sum() == int((labels != 11).sum())
    assert res.confusion.shape == (11, 11)
    png = save_confusion_png(res.confusion, ds.class_names, tmp_path / "confusion.png", "t")
    with Image.open(png) as im:
        assert im.size[0] > 200 and im.size[1] > 200
    d = res.as_dict(ds.class_names)
    assert set(d["per_class_iou"]) == set(ds.class_names)


def test_a_perfect_predictor_scores_one(camvid_root: Path) -> None:
    ds = camvid_dataset(camvid_root, "val").subset(2)
    split = DeviceSplit.load(ds, torch.device("cpu"))

    class Oracle(torch.nn.Module):
        """Returns one-hot logits of the true labels (looked up by the normalised input it sees)."""
        def __init__(self) -> None:
            super().__init__()
            self.calls = 0

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            lab = split.labels[self.calls * 2:self.calls * 2 + x.shape[0]].long().clamp(max=10)
            self.calls += 1
            return torch.nn.functional.one_hot(lab, 11).permute(0, 3, 1, 2).float() * 10

    res = evaluate(Oracle(), split, 11, batch_size=2)
    present = np.unique(split.labels.numpy())
    assert res.miou == 1.0 and res.pixel_accuracy == 1.0
    assert sum(not math.isnan(v) for v in res.per_class_iou) == len([c for c in present if c < 11])
