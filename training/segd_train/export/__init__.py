"""Export: network → ONNX per docs/model-contract.md plus its model card.

The ONNX-vs-PyTorch parity check lives in `segd_train.export.parity` (also a CLI).
"""
from __future__ import annotations

from pathlib import Path
from typing import Any

import onnx
from torch import nn

from ..data.classes import load_classes_json
from .card import CARD_FORMAT, write_card
from .fuse import fold_batchnorm
from .model_source import inference_parameters, load_checkpoint, model_from_checkpoint, untrained_model
from .onnx_export import OPSET, SegmentationExport, check_graph, export_onnx, graph_opset


def export_model(model: nn.Module, arch: str, out: str | Path, *, classes_file: str | Path, height: int,
                 width: int, metrics: dict[str, Any] | None, training: dict[str, Any], train_split: str = "train",
                 eval_split: str = "val", eval_frames_in_training: int = 0) -> tuple[Path, Path]:
    """Write `out` (.onnx) and its card beside it; returns (onnx path, card path)."""
    num_classes = len(load_classes_json(Path(classes_file)).classes)
    if getattr(model, "num_classes", num_classes) != num_classes:
        raise ValueError(f"model predicts {getattr(model, 'num_classes')} classes but {classes_file} lists {num_classes}")
    onnx_path = export_onnx(model, out, height, width)
    # The file's own opset: the exporter keeps 18 when a model's ops cannot be converted down to OPSET.
    opset = graph_opset(onnx.load(str(onnx_path), load_external_data=False))
    card = write_card(onnx_path, architecture=arch, classes_file=classes_file, height=height, width=width,
                      opset=opset, parameters=inference_parameters(model), metrics=metrics, training=training,
                      train_split=train_split, eval_split=eval_split,
                      eval_frames_in_training=eval_frames_in_training)
    return onnx_path, card


__all__ = ["CARD_FORMAT", "OPSET", "SegmentationExport", "check_graph", "export_model", "export_onnx",
           "fold_batchnorm", "inference_parameters", "load_checkpoint", "model_from_checkpoint",
           "untrained_model", "write_card"]
