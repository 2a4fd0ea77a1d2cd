"""The frozen distillation teacher: rebuilt from its own training checkpoint, eval mode, no gradients."""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from . import checkpoint


def load_teacher(path: Path, expected: str | None, num_classes: int, device: torch.device) -> nn.Module:
    teacher, name = checkpoint.rebuild_model(checkpoint.read(path), path, role="teacher", num_classes=num_classes)
    if expected is not None and name != expected:
        raise ValueError(f"{path}: teacher checkpoint holds {name!r} but the config expects teacher {expected!r}")
    for p in teacher.parameters():
        p.requires_grad_(False)   # not detach(): SDHA backpropagates *through* the teacher head (pitfall 5)
    return teacher.to(device).eval()
