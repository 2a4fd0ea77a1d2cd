"""ResNet-18 with the deep stem (128 inplanes) and SFNet's "variant D" dilations — SFNet's R18 backbone.

Facts sheet §3.1 (and §4 pitfall 8):
- stem: conv3×3 s2 (3→64) → conv3×3 (64→64) → conv3×3 (64→128), each + BN + ReLU, then maxpool 3 s2 p1;
- BasicBlocks [2, 2, 2, 2], widths 64/128/256/512, strides 1/2/2/2; the first layer1 block projects
  128→64 with a 1×1 conv + BN shortcut; no conv has a bias; ReLU after every residual add (torchvision style);
- "variant D" sets dilation = padding = 2 on every conv2 of layer3 and 4 on layer4 but *keeps* the stride-2
  convs, so the output stride stays 32 (it is not the usual stride-8 dilated ResNet).
Outputs x1 64 @1/4, x2 128 @1/8, x3 256 @1/16, x4 512 @1/32 (360×480 input → 12×15 at 1/32).

No pretrained weights exist offline (the reference loads `resnet18-deep-inplane128.pth`), so the network
initialises from scratch: Kaiming-normal fan_out for convs, BN γ=1 β=0 — the reference's own init.
The classifier layers of the ImageNet model (avgpool, fc) are not built: segmentation never uses them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, init_from_scratch

# Per layer: (width, stride, conv2 dilation). Variant D dilates conv2 of layer3 (2) and layer4 (4).
_LAYERS: tuple[tuple[int, int, int], ...] = ((64, 1, 1), (128, 2, 1), (256, 2, 2), (512, 2, 4))
STEM_WIDTH = 128


class DilatedConvBN(ConvBN):
    """A bias-free `ConvBN` whose conv may be dilated (padding = dilation·(k//2) keeps the size).

    Subclassing keeps it foldable by `export.fuse.fold_batchnorm`, which finds conv→BN pairs by type
    and carries the conv's dilation into the fused conv."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, dilation: int = 1) -> None:
        super().__init__(cin, cout, kernel, stride, bias=False)
        if dilation != 1:
            self.conv = nn.Conv2d(cin, cout, kernel, stride, dilation * (kernel // 2), dilation, bias=False)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, dilation: int) -> None:
        super().__init__()
        self.conv1 = DilatedConvBN(cin, cout, 3, stride)
        self.conv2 = DilatedConvBN(cout, cout, 3, dilation=dilation)
        self.downsample = DilatedConvBN(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        return F.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet18D(nn.Module):
    """Deep-stem ResNet-18, variant D; `forward` returns {"x1", "x2", "x3", "x4"} (strides 4/8/16/32)."""

    channels: dict[str, int] = {"x1": 64, "x2": 128, "x3": 256, "x4": 512}

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Sequential(
            DilatedConvBN(3, 64, 3, 2), nn.ReLU(),
            DilatedConvBN(64, 64, 3), nn.ReLU(),
            DilatedConvBN(64, STEM_WIDTH, 3), nn.ReLU(),
            nn.MaxPool2d(3, 2, 1))
        cin = STEM_WIDTH
        layers = []
        for width, stride, dilation in _LAYERS:
            layers.append(nn.Sequential(BasicBlock(cin, width, stride, dilation),
                                        BasicBlock(width, width, 1, dilation)))
            cin = width
        self.layer1, self.layer2, self.layer3, self.layer4 = layers
        init_from_scratch(self)   # from scratch (no weights offline): Kaiming fan_out convs, BN 1/0

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x1 = self.layer1(self.stem(x))
        x2 = self.layer2(x1)
        x3 = self.layer3(x2)
        return {"x1": x1, "x2": x2, "x3": x3, "x4": self.layer4(x3)}
