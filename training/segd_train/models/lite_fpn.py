"""EfficientNet-Lite + a tiny FPN head: the ImageNet probe of issue 22, kept as a reference point, not an SCTNet.

The probe that showed ImageNet features transfer across drives (63.2 val / 57.9 on the independently scored CamVid
test split after 15 CPU-minutes, against SCTNet-S from scratch at 60.4 / 47.0). Registered (`lite0-fpn`) so its
figure on the cross-sequence split comes from the same trainer, data and evaluation as every other model here:

    image ─ Lite0 stem…stage7 (ImageNet) ─┬─ 1/8  (40 ch)  ─ 1×1 → 96 ─ + ─ 3×3 ConvBN ReLU ─ 1×1 → K @1/8
                                          ├─ 1/16 (112 ch) ─ 1×1 → 96 ─ + ─ up ┘
                                          └─ 1/32 (320 ch) ─ 1×1 → 96 ─ up ┘

It has no SIAM taps (it cannot be distilled) and no aux head. Its front is `lite_front.py`'s, as
sctnet_lite.py's: the trainer's normalised tensor converted to the (x − 127) / 128 the ImageNet weights expect.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, class_count, init_from_scratch
from .lite_front import LiteFront

FPN_CHANNELS = 96


class LiteFPN(nn.Module):
    """`forward` → logits K @1/8; `forward_train` → {"logits", "aux": {}}."""

    output_stride = 8
    align_corners = False
    head_prefixes = ("lateral8.", "lateral16.", "lateral32.", "fuse.", "classifier.")

    def __init__(self, num_classes: int, variant: str = "lite0", pretrained: bool = True) -> None:
        super().__init__()
        self.num_classes = class_count(num_classes)
        self.encoder = LiteFront(variant, 32, pretrained)
        lite = self.encoder.channels
        self.lateral8 = nn.Conv2d(lite[8], FPN_CHANNELS, 1)
        self.lateral16 = nn.Conv2d(lite[16], FPN_CHANNELS, 1)
        self.lateral32 = nn.Conv2d(lite[32], FPN_CHANNELS, 1)
        self.fuse = nn.Sequential(ConvBN(FPN_CHANNELS, FPN_CHANNELS, 3), nn.ReLU())
        self.classifier = nn.Conv2d(FPN_CHANNELS, num_classes, 1)
        for name, module in self.named_children():
            if name != "encoder":
                init_from_scratch(module, is_classifier=lambda _: name == "classifier")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.encoder.from_normalised(x)
        p = self.lateral32(f[32])
        p = self.lateral16(f[16]) + F.interpolate(p, size=f[16].shape[2:], mode="bilinear", align_corners=False)
        p = self.lateral8(f[8]) + F.interpolate(p, size=f[8].shape[2:], mode="bilinear", align_corners=False)
        return self.classifier(self.fuse(p))

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        return {"logits": self.forward(x), "aux": {}}


def lite_fpn(variant: str, num_classes: int) -> LiteFPN:
    return LiteFPN(num_classes, variant)
