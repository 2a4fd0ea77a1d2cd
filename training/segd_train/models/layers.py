"""Small layers shared by the model files.

`ConvBN` exists so the exporter can find every conv→BN pair by type and fold it
(`segd_train.export.fuse`); a BN that does not directly follow a conv stays a plain
`nn.BatchNorm2d` and becomes a per-channel affine at export.
"""
from __future__ import annotations

from collections.abc import Callable

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


def class_count(num_classes: int) -> int:
    """`num_classes`, refused unless ≥ 1 (every model's constructor takes it through here)."""
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}")
    return num_classes


def init_from_scratch(module: nn.Module, is_classifier: Callable[[str], bool] | None = None) -> None:
    """The from-scratch init every model here uses (no pretrained weights exist offline): Kaiming-normal
    fan_out convs with zero bias, BN γ=1 β=0; convs whose module name `is_classifier` picks get N(0, 0.01)."""
    for name, m in module.named_modules():
        if isinstance(m, nn.Conv2d):
            if is_classifier is not None and is_classifier(name):
                nn.init.normal_(m.weight, std=0.01)
            else:
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
