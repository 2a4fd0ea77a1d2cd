"""Flow alignment: SFNet's FAM (facts sheet §3.3) and SFNet-Lite's gated dual FAM (GD-FAM, §3.4).

Both predict a flow field at the fine (low) level from [upsampled reduced high, reduced low] and warp with
`grid_sample` (bilinear, zeros padding, align_corners=True), which exports as ONNX GridSample (opset ≥ 16).

`flow_warp` copies the reference's grid exactly (§4 pitfall 10): base = (linspace(−1, 1, w), linspace(−1, 1, h))
and grid = base + flow / (w, h) — the flow is divided by the output width/height, not by (w−1)/2, so one flow
unit is about half an output pixel. The base grid is built separably (a 1×w row and an h×1 column, broadcast
when the two flow channels are added), which gives the same numbers as the reference's repeated h×w grid; it
comes from the static feature size only, so at a fixed export size it and the normaliser constant-fold.
No BN or activation inside either module; convs have no bias, as in the reference.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def channel_mean(x: torch.Tensor) -> torch.Tensor:
    """Mean over channels (N×1×H×W) as ReduceSum / C. `x.mean(1)` exports as an opset-18 ReduceMean with an
    axes *input*, which the ONNX version converter cannot bring down to the contract's opset 17."""
    return x.sum(dim=1, keepdim=True) / int(x.shape[1])


def channel_max(x: torch.Tensor) -> torch.Tensor:
    """Max over channels (N×1×H×W) as a MaxPool over the channel axis, for the same reason as
    `channel_mean` (`amax` exports as an opset-18 ReduceMax that does not convert to 17)."""
    _, c, h, w = x.shape
    return F.max_pool2d(x.reshape(-1, 1, c, h * w), kernel_size=(int(c), 1)).reshape(-1, 1, h, w)


def flow_warp(feature: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample `feature` (N×C×h'×w', any size) at base grid + flow/(w, h) → N×C×h×w, h×w = flow's size."""
    h, w = int(flow.shape[2]), int(flow.shape[3])
    base_x = torch.linspace(-1.0, 1.0, w, dtype=flow.dtype, device=flow.device).reshape(1, 1, w)
    base_y = torch.linspace(-1.0, 1.0, h, dtype=flow.dtype, device=flow.device).reshape(1, h, 1)
    grid = torch.stack([base_x + flow[:, 0] / w, base_y + flow[:, 1] / h], dim=3)   # N×h×w×2, (x, y)
    return F.grid_sample(feature, grid, mode="bilinear", padding_mode="zeros", align_corners=True)


class _FlowBase(nn.Module):
    """Shared front of both modules: reduce low and high to d/2 and upsample high to the low size."""

    def __init__(self, dim: int, flow_channels: int) -> None:
        super().__init__()
        half = dim // 2
        self.down_h = nn.Conv2d(dim, half, 1, bias=False)
        self.down_l = nn.Conv2d(dim, half, 1, bias=False)
        self.flow_make = nn.Conv2d(2 * half, flow_channels, 3, padding=1, bias=False)

    def reduced(self, low: torch.Tensor, high: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hd = F.interpolate(self.down_h(high), size=low.shape[2:], mode="bilinear", align_corners=True)
        return hd, self.down_l(low)


class FAM(_FlowBase):
    """Flow alignment module (SFNet v1): warp-and-upsample the *original* high feature to the low size."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, flow_channels=2)

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        hd, ld = self.reduced(low, high)
        return flow_warp(high, self.flow_make(torch.cat([hd, ld], dim=1)))    # high first, as the reference


class GDFAM(_FlowBase):
    """Gated dual FAM (SFNet-Lite, `spatial_atten`): warp both levels, blend with a spatial gate.

    gate = σ(conv3×3(4→1)[mean_c(hd), mean_c(low), max_c(hd), max_c(low)]) — hd reduced and upsampled,
    low *unreduced*, as the reference does; out = warp(high)·gate + warp(low)·(1 − gate)."""

    def __init__(self, dim: int) -> None:
        super().__init__(dim, flow_channels=4)
        self.flow_gate = nn.Conv2d(4, 1, 3, padding=1, bias=False)

    def gate(self, hd: torch.Tensor, low: torch.Tensor) -> torch.Tensor:
        stats = [channel_mean(hd), channel_mean(low), channel_max(hd), channel_max(low)]
        return torch.sigmoid(self.flow_gate(torch.cat(stats, dim=1)))

    def forward(self, low: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
        hd, ld = self.reduced(low, high)
        flow = self.flow_make(torch.cat([hd, ld], dim=1))
        gate = self.gate(hd, low)
        return flow_warp(high, flow[:, 0:2]) * gate + flow_warp(low, flow[:, 2:4]) * (1 - gate)
