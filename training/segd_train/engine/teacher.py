"""The frozen distillation teacher: rebuilt from its own training checkpoint, eval mode, no gradients."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..models import build_model
from . import checkpoint


def load_teacher(path: Path, expected: str | None, num_classes: int, device: torch.device) -> nn.Module:
    ckpt = checkpoint.read(path)
    name = ckpt["config"].get("model")
    if expected is not None and name != expected:
        raise ValueError(f"{path}: teacher checkpoint holds {name!r} but the config expects teacher {expected!r}")
    k = ckpt["config"].get("num_classes")
    if k != num_classes:
        raise ValueError(f"{path}: teacher was trained for {k} classes, the dataset has {num_classes}")
    teacher = build_model(name, num_classes=num_classes)
    teacher.load_state_dict(ckpt["model"])
    for p in teacher.parameters():
        p.requires_grad_(False)   # not detach(): SDHA backpropagates *through* the teacher head (pitfall 5)
    return teacher.to(device).eval()
