"""Small layers shared by the model files.

`ConvBN` exists so the exporter can find every conv→BN pair by type and fold it
(`segd_train.export.fuse`); a BN that does not directly follow a conv stays a plain
`nn.BatchNorm2d` and becomes a per-channel affine at export.
"""
from __future__ import annotations

import torch
from torch import nn


class ConvBN(nn.Module):
    """Conv2d followed by BatchNorm2d, foldable into one conv at export."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, *,
                 bias: bool = True, groups: int = 1, eps: float = 1e-5) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=bias)
        self.bn = nn.BatchNorm2d(cout, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class DropPath(nn.Module):
    """Stochastic depth per sample (timm semantics: survivors scaled by 1/keep)."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise ValueError(f"DropPath probability must be in [0, 1), got {p}")
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.shape[0],) + (1,) * (x.ndim - 1)).bernoulli_(keep)
        return x * mask / keep

    def extra_repr(self) -> str:
        return f"p={self.p}"
