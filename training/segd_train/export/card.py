"""The model card (`segd-model-card/1`, docs/model-contract.md) written beside the ONNX.

The contract is models/model-card.schema.json, which the daemon validates every card against;
tests/test_card_schema.py checks that what this module writes matches it field for field.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from ..data.classes import load_classes_json

CARD_FORMAT = "segd-model-card/1"


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def write_card(onnx_path: str | Path, *, architecture: str, classes_file: str | Path, height: int, width: int,
               opset: int, parameters: int, metrics: dict[str, Any] | None, training: dict[str, Any],
               train_split: str = "train", eval_split: str = "val", eval_frames_in_training: int = 0) -> Path:
    """Write `<stem>.json` beside `onnx_path`; `metrics` None → `miou: null` (never evaluated).

    `train_split`/`eval_split`: the splits the recipe trained and selected on (a list split such as
    `xseq-val` names a held-out drive); `metrics.split` says which split the figure itself comes from;
    `eval_frames_in_training`: how many eval-split frames the train split also holds (0 for untrained or imported
    weights), so a trainval model's figure is never read as generalisation.
    """
    onnx_path = Path(onnx_path)
    if not isinstance(training.get("summary"), str) or not training["summary"]:
        raise ValueError("training.summary must be a non-empty string saying how the model was trained")
    table = load_classes_json(Path(classes_file))
    if metrics is None:
        metrics = {"split": eval_split, "miou": None, "per_class_iou": None}
    miou = metrics.get("miou")
    if miou is not None and not (isinstance(miou, (int, float)) and 0.0 <= miou <= 1.0):
        raise ValueError(f"metrics.miou must be a fraction in [0, 1] or null, got {miou!r}")
    card = {
        "format": CARD_FORMAT,
        "name": onnx_path.stem,
        "architecture": architecture,
        "onnx": {"file": onnx_path.name, "opset": opset, "sha256": sha256_file(onnx_path)},
        "input": {"name": "frames", "height": height, "width": width, "layout": "NHWC", "dtype": "uint8",
                  "color": "RGB"},
        "output": {"name": "mask", "layout": "NHW", "dtype": "uint8"},
        "classes": [{"id": c.id, "name": c.name, "color": list(c.color)} for c in table.classes],
        "ignore_index": table.ignore_index,
        "dataset": {"name": table.name, "train_split": train_split, "eval_split": eval_split,
                    "eval_frames_in_training": eval_frames_in_training},
        "metrics": metrics,
        "parameters": parameters,
        "training": training,
    }
    card_path = onnx_path.with_suffix(".json")
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    return card_path
