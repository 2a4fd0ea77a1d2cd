"""Fold BatchNorm out of an eval-mode network before export.

- `ConvBN` pairs (conv directly followed by BN) are folded into the conv's weights and bias.
- Every other BN (SCTNet's pre-activation BNs, ConvAttn's and the MLP's input BN) sits before a
  ReLU or before a padded conv, where folding into a neighbouring conv would be wrong at the
  borders; it becomes a constant per-channel affine (Mul + Add), which is exactly what an
  eval-mode BN computes, so no BatchNormalization node reaches the graph.
"""
from __future__ import annotations

import copy

import torch
from torch import nn

from ..models.layers import ConvBN


class ChannelAffine(nn.Module):
    """y = x · scale + shift per channel (an eval-mode BatchNorm2d with its statistics baked in)."""

    def __init__(self, scale: torch.Tensor, shift: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("scale", scale.reshape(1, -1, 1, 1).clone())
        self.register_buffer("shift", shift.reshape(1, -1, 1, 1).clone())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale + self.shift


def _bn_scale_shift(bn: nn.BatchNorm2d) -> tuple[torch.Tensor, torch.Tensor]:
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("cannot fold a BatchNorm2d without running statistics (track_running_stats=False)")
    gamma = bn.weight if bn.weight is not None else torch.ones_like(bn.running_mean)
    beta = bn.bias if bn.bias is not None else torch.zeros_like(bn.running_mean)
    scale = gamma / torch.sqrt(bn.running_var + bn.eps)
    return scale, beta - bn.running_mean * scale


def _fold_conv_bn(pair: ConvBN) -> None:
    scale, shift = _bn_scale_shift(pair.bn)
    conv = pair.conv
    bias = conv.bias if conv.bias is not None else torch.zeros_like(scale)
    fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride,
                      conv.padding, conv.dilation, conv.groups, bias=True)
    fused.weight.copy_(conv.weight * scale.reshape(-1, 1, 1, 1))
    fused.bias.copy_(bias * scale + shift)
    pair.conv = fused
    pair.bn = nn.Identity()


@torch.no_grad()
def fold_batchnorm(model: nn.Module) -> nn.Module:
    """Return an eval-mode deep copy of `model` with no BatchNorm2d left; `model` is untouched."""
    folded = copy.deepcopy(model).eval()
    for module in folded.modules():
        if isinstance(module, ConvBN):
            _fold_conv_bn(module)
    for parent in list(folded.modules()):
        for name, child in list(parent.named_children()):
            if isinstance(child, nn.BatchNorm2d):
                setattr(parent, name, ChannelAffine(*_bn_scale_shift(child)))
    for p in folded.parameters():
        p.requires_grad_(False)
    return folded
