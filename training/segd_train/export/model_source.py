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
    """Rebuild the model named by ckpt['config']['model'] and load ckpt['model'] strictly; returns (model, arch)."""
    config = ckpt["config"]
    arch = config.get("model")
    if not isinstance(arch, str):
        raise ValueError(f"{source}: config.model must name the architecture, got {arch!r}")
    state = {k.removeprefix("module."): v for k, v in ckpt["model"].items()}
    num_classes = config.get("num_classes")
    if num_classes is None:
        weight = state.get("head.conv_seg.weight", state.get("head.cls_seg.1.weight"))
        if weight is None:
            raise ValueError(f"{source}: config.num_classes missing and no classifier weight to infer it from")
        num_classes = int(weight.shape[0])
    model = build_model(arch, int(num_classes))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{source}: weights do not match architecture {arch!r}: {err}") from err
    return model.eval(), arch


def inference_parameters(model: nn.Module) -> int:
    """Parameters that reach the exported graph (aux and detail heads are training-only)."""
    return inference_parameters_of(model)
