"""Pyramid pooling module (PSPNet) as SFNet uses it (facts sheet §3.2), with an export-exact adaptive pool.

torch→ONNX lowers `adaptive_avg_pool2d` only when the map divides by the bin (§3.9): the 12×15 map of a
360×480 input has width 15, which bins 2 and 6 do not divide (and torch.export lowers the adaptive pool
through an as_strided Gather besides). So `adaptive_avg_pool2d_exact` computes PyTorch's adaptive
average exactly — window i covers [floor(i·n/b), ceil((i+1)·n/b)) on each axis — as two matmuls with
constant averaging matrices: P_h (b×H) · x · P_wᵀ (W×b). The matrices depend only on the (static) map size,
so at a fixed export size they constant-fold into initializers and the graph is two MatMuls.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN

BINS: tuple[int, ...] = (1, 2, 3, 6)


def adaptive_pool_matrix(n: int, bins: int, *, dtype: torch.dtype = torch.float32,
                         device: torch.device | None = None) -> torch.Tensor:
    """bins×n matrix whose row i averages PyTorch's adaptive window i: [floor(i·n/b), ceil((i+1)·n/b))."""
    if n < 1 or bins < 1:
        raise ValueError(f"adaptive pooling needs a positive size and bin count, got n={n}, bins={bins}")
    i = torch.arange(bins, device=device)
    start = (i * n) // bins
    end = ((i + 1) * n + bins - 1) // bins          # integer ceil: exact, no float rounding
    j = torch.arange(n, device=device)
    inside = (j[None, :] >= start[:, None]) & (j[None, :] < end[:, None])
    return inside.to(dtype) / (end - start)[:, None].to(dtype)


def adaptive_avg_pool2d_exact(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Equals F.adaptive_avg_pool2d(x, bins) for N×C×H×W x; exports as two MatMuls (see module docstring)."""
    h, w = int(x.shape[2]), int(x.shape[3])
    rows = adaptive_pool_matrix(h, bins, dtype=x.dtype, device=x.device)        # b×H
    cols = adaptive_pool_matrix(w, bins, dtype=x.dtype, device=x.device).t()    # W×b
    return torch.matmul(torch.matmul(rows, x), cols)


class PPM(nn.Module):
    """Bins (1, 2, 3, 6): pool → 1×1 conv (no bias) → BN (no ReLU) → bilinear (align_corners=True) back;
    concat [branches…, input] → 1×1 conv (no bias) → BN → ReLU → Dropout2d(0.1)."""

    def __init__(self, cin: int, dim: int, bins: tuple[int, ...] = BINS) -> None:
        super().__init__()
        self.bins = bins
        # ConvBN (not Conv + BN) so the exporter folds each BN into its conv.
        self.stages = nn.ModuleList(ConvBN(cin, dim, 1, bias=False) for _ in bins)
        self.bottleneck = nn.Sequential(ConvBN(cin + len(bins) * dim, dim, 1, bias=False), nn.ReLU(),
                                        nn.Dropout2d(0.1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        priors = [F.interpolate(stage(adaptive_avg_pool2d_exact(x, b)), size=size, mode="bilinear",
                                align_corners=True)
                  for b, stage in zip(self.bins, self.stages)]
        return self.bottleneck(torch.cat(priors + [x], dim=1))
