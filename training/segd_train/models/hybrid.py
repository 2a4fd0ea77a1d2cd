"""Hybrid teacher: ImageNet EfficientNet-Lite stages to 1/16, Mix Transformer stages at 1/16 and 1/32, SegFormer head.

Why a hybrid: SIAM aligns the student with a transformer's semantic features (SCTNet uses SegFormer, whose MiT
encoder starts from ImageNet). No ImageNet MiT weights can be reached here, and a MiT trained from scratch on
367 CamVid images on a CPU stays weak; the only pretrained vision weights reachable are EfficientNet-Lite's. So
the convolutional stem-to-1/16 part comes pretrained (as in ViT-hybrid and TransUNet), and the features SIAM
reads are made by transformer stages on top of it:

    image ─ Lite stem…stage5 (pretrained) ─┬─ 1/4 (24 ch) ───────────────────────────┐
                                           ├─ 1/8 (40 ch) ───────────────────────────┤
                                           └─ 1/16 (112 ch) ─ MiT stage 3 @1/16 ─┬──┤ SegFormer all-MLP head → K @1/4
                                                             (patch embed s1)   └─ MiT stage 4 @1/32 ─┘

MiT stage 3: overlapping 3×3 stride-1 patch embedding to `widths[0]`, `depths[0]` blocks of efficient
self-attention (reduction ratio 2) + Mix-FFN; stage 4: 3×3 stride-2 embedding to `widths[1]`, reduction 1 (MiT-B0's
widths 160/256, heads 5/8). Stage 3 and 4 are SIAM's BFA targets ("stage3", "stage4"); the head is SegFormer's
(per-level 1×1 → concat → fusion_conv → cls_seg), so SDHA runs through its fusion_conv and cls_seg unchanged.

The network takes the trainer's normalised input (mmseg mean/std) and converts it to the (x − 127) / 128 the ImageNet
weights expect with one constant per-channel affine (`lite_front.py`). The head is 128 channels wide, not SegFormer's
256: measured here (2 threads, batch 8, 240×320 crops) 256 trains at 3.0 img/s and 128 at 6.5, and SDHA runs the
student through this head's fusion_conv at 1/4 on every distillation step. New parts (MiT stages, head) are
`head_prefixes`, so a recipe's `head_lr_mult` speeds them while the pretrained encoder fine-tunes at the base rate.
"""
from __future__ import annotations

import torch
from torch import nn

from .layers import class_count, init_from_scratch
from .lite_front import LiteFront
from .segformer import MiTBlock, MiTStage, SegFormerHead, init_mit


class HybridTeacher(nn.Module):
    """`forward` → logits K @1/4; `forward_train` → the SIAM teacher targets (as SegFormer's)."""

    output_stride = 4
    align_corners = False
    head_prefixes = ("mit3.", "mit4.", "head.")

    def __init__(self, num_classes: int, variant: str = "lite0", widths: tuple[int, int] = (160, 256),
                 depths: tuple[int, int] = (2, 2), heads: tuple[int, int] = (5, 8),
                 head_channels: int = 128, pretrained: bool = True, drop_path: float = 0.1) -> None:
        super().__init__()
        self.num_classes = class_count(num_classes)
        self.encoder = LiteFront(variant, 16, pretrained)
        c = self.encoder.channels
        rates = [drop_path * i / max(sum(depths) - 1, 1) for i in range(sum(depths))]
        self.mit3 = MiTStage(c[16], widths[0], 3, 1, [MiTBlock(widths[0], heads[0], 2, 4, rates[i])
                                                       for i in range(depths[0])])
        self.mit4 = MiTStage(widths[0], widths[1], 3, 2, [MiTBlock(widths[1], heads[1], 1, 4, rates[depths[0] + i])
                                                          for i in range(depths[1])])
        self.head = SegFormerHead((c[4], c[8], widths[0], widths[1]), num_classes, channels=head_channels)
        self.distill_widths = {"stage3": widths[0], "stage4": widths[1], "concat": 4 * head_channels}
        _init_new(self)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        f = self.encoder.from_normalised(x)
        s3 = self.mit3(f[16])
        return [f[4], f[8], s3, self.mit4(s3)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.features(x)
        concat = self.head.concat_feature(feats)
        decoder, logits = self.head_tail(concat)
        return {"logits": logits, "decoder_feature": decoder, "concat_feature": concat,
                "stage3": feats[2], "stage4": feats[3]}

    def head_tail(self, concat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SIAM teacher protocol: concat feature → (decoder feature, logits) through the head's own layers."""
        decoder = self.head.fusion_conv(concat)
        return decoder, self.head.cls_seg(decoder)


def _init_new(model: HybridTeacher) -> None:
    """The encoder keeps its ImageNet weights; the MiT stages get mmseg's MiT init, the head the from-scratch one."""
    init_mit(model.mit3)
    init_mit(model.mit4)
    init_from_scratch(model.head, is_classifier=lambda name: name.startswith("cls_seg"))
