"""Input normalisation shared by training and evaluation (the exporter bakes the same numbers into
the ONNX graph, so they live in one place)."""
from __future__ import annotations

import torch

# RGB, 0–255 scale (mmseg / SCTNet recipe, architectures.md §1.9).
MEAN: tuple[float, float, float] = (123.675, 116.28, 103.53)
STD: tuple[float, float, float] = (58.395, 57.12, 57.375)


def normalize(x: torch.Tensor) -> torch.Tensor:
    """N×3×H×W RGB in 0–255 (uint8 or float) → float32 normalised, on the same device."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"normalize expects N×3×H×W RGB, got shape {tuple(x.shape)}")
    mean = torch.tensor(MEAN, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=torch.float32, device=x.device).view(1, 3, 1, 1)
    return (x.float() - mean) / std
