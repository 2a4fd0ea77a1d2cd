"""Where the network to export comes from: a training checkpoint, or a seeded random init."""
from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..engine import checkpoint
from ..models import build_model
from ..models.interface import inference_parameters_of


def untrained_model(arch: str, num_classes: int, seed: int = 0) -> nn.Module:
    """A freshly initialised model; the same (arch, num_classes, seed) always gives the same weights."""
    torch.manual_seed(seed)
    return build_model(arch, num_classes).eval()


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint (engine.checkpoint format), read weights-only."""
    return checkpoint.read(path)


def model_from_checkpoint(ckpt: dict[str, Any], source: str = "checkpoint") -> tuple[nn.Module, str]:
    """Rebuild the student a checkpoint holds (engine.checkpoint.rebuild_model); returns (model, arch)."""
    return checkpoint.rebuild_model(ckpt, source, role="student")


def inference_parameters(model: nn.Module) -> int:
    """Parameters that reach the exported graph (aux and detail heads are training-only)."""
    return inference_parameters_of(model)
