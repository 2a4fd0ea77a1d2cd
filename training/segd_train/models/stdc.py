"""STDC1 / STDC2 backbones (STDCNet813 / STDCNet1446, CVPR 2021), per the facts sheet §2.1–2.2.

- ConvX = conv (no bias, padding k//2) → BN → ReLU. The conv+BN pair is a `ConvBN` so the exporter
  folds it (segd_train.export.fuse).
- STDC module (the reference's CatBottleneck, block_num 4, M output channels):
  b1 = ConvX 1×1 (in→M/2); b2 = ConvX 3×3 (M/2→M/4); b3 = ConvX 3×3 (M/4→M/8); b4 = ConvX 3×3 (M/8→M/8);
  out = concat[b1, b2, b3, b4] (M channels, no residual). In a stride-2 module b1 passes through a
  depthwise 3×3 s2 conv + BN (no ReLU) before b2, and the concat takes AvgPool2d(3, 2, 1) of b1 with
  count_include_pad=True (PyTorch's default, and what the reference relies on; ONNX's default is 0,
  so it is spelled out here and checked at export).
- Stages: stem1 ConvX 3×3 s2 3→32 (feat2), stem2 ConvX 3×3 s2 32→64 (feat4), then 3 stages of STDC
  modules (STDC1 2/2/2, STDC2 4/5/3) to 256 @1/8, 512 @1/16, 1024 @1/32; each stage's first module has
  stride 2.
- Deliberately NOT built: the reference's ImageNet classifier (conv_last 1×1, GAP, fc, BN1d, dropout,
  linear; 3.13M parameters). Segmentation never runs it (`use_conv_last=False`), and building it would
  only inflate parameter counts and need find_unused_parameters under DDP.
- Plain `nn.BatchNorm2d` (the reference backbone's BN is unsynchronised too).

No pretrained weights exist offline: the backbone initialises from scratch, as the reference does
without a checkpoint — Kaiming-normal fan_out for convs, BN γ=1 β=0.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from .layers import ConvBN, init_from_scratch


@dataclass(frozen=True)
class STDCSpec:
    name: str
    stages: tuple[int, int, int]   # STDC modules in the 1/8, 1/16 and 1/32 stages
    base: int = 64


STDC1 = STDCSpec("stdc1", (2, 2, 2))
STDC2 = STDCSpec("stdc2", (4, 5, 3))

STDC_CHANNELS: dict[str, int] = {"feat2": 32, "feat4": 64, "feat8": 256, "feat16": 512, "feat32": 1024}


class ConvX(nn.Module):
    """conv (no bias) → BN → ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1) -> None:
        super().__init__()
        self.conv = ConvBN(cin, cout, kernel, stride, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class STDCModule(nn.Module):
    """Short-Term Dense Concatenate module (the reference's CatBottleneck with block_num = 4)."""

    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        if stride not in (1, 2):
            raise ValueError(f"STDC module stride must be 1 or 2, got {stride}")
        if cout % 8:
            raise ValueError(f"STDC module output channels must be a multiple of 8, got {cout}")
        half = cout // 2
        self.stride = stride
        self.b1 = ConvX(cin, half, 1)
        if stride == 2:
            # Depthwise stride-2 conv + BN, no ReLU: the downsampled b1 that feeds b2.
            self.down = ConvBN(half, half, 3, 2, bias=False, groups=half)
            self.skip = nn.AvgPool2d(3, 2, 1, count_include_pad=True)
        self.b2 = ConvX(half, cout // 4)
        self.b3 = ConvX(cout // 4, cout // 8)
        self.b4 = ConvX(cout // 8, cout // 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b1 = self.b1(x)
        if self.stride == 2:
            b2 = self.b2(self.down(b1))
            b1 = self.skip(b1)
        else:
            b2 = self.b2(b1)
        b3 = self.b3(b2)
        b4 = self.b4(b3)
        return torch.cat([b1, b2, b3, b4], dim=1)


def _stage(cin: int, cout: int, modules: int) -> nn.Sequential:
    return nn.Sequential(STDCModule(cin, cout, 2), *(STDCModule(cout, cout, 1) for _ in range(modules - 1)))


class STDCNet(nn.Module):
    """STDC backbone; `forward(x)` returns {"feat2", "feat4", "feat8", "feat16", "feat32"} (channels in
    `channels`). Works for any H×W: a 360×480 input gives feat32 12×15."""

    def __init__(self, spec: STDCSpec) -> None:
        super().__init__()
        b = spec.base
        self.spec = spec
        self.channels = dict(STDC_CHANNELS)
        self.stem1 = ConvX(3, b // 2, 3, 2)
        self.stem2 = ConvX(b // 2, b, 3, 2)
        self.stage3 = _stage(b, 4 * b, spec.stages[0])
        self.stage4 = _stage(4 * b, 8 * b, spec.stages[1])
        self.stage5 = _stage(8 * b, 16 * b, spec.stages[2])
        init_from_scratch(self)   # as the reference's init_params: Kaiming fan_out convs, BN 1/0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feat2 = self.stem1(x)
        feat4 = self.stem2(feat2)
        feat8 = self.stage3(feat4)
        feat16 = self.stage4(feat8)
        feat32 = self.stage5(feat16)
        return {"feat2": feat2, "feat4": feat4, "feat8": feat8, "feat16": feat16, "feat32": feat32}


def stdc1_backbone() -> STDCNet:
    return STDCNet(STDC1)


def stdc2_backbone() -> STDCNet:
    return STDCNet(STDC2)
