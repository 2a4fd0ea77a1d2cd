"""SegFormer with the paper's all-MLP decoder as NVlabs/SegFormer and Hugging Face `transformers` build it.

It differs from the mmseg-layout head of `segformer.py` (the SIAM teacher), which is what the official
weights need reproduced exactly:
- per stage a *linear* projection (bias, no BN, no ReLU) to `channels`, run here as a 1×1 conv, then a
  bilinear resize (half-pixel) to the 1/4 map;
- the four maps are concatenated deepest first ([c4, c3, c2, c1]) before `linear_fuse` (1×1 conv without
  bias + BN + ReLU) and the classifier;
- decoder width 256 for MiT-B0/B1 and 768 for B2–B5 (the released configs);
- LayerNorm eps: `transformers` keeps PyTorch's default 1e-5 everywhere; NVlabs' own code uses 1e-6 in the
  blocks and after each stage and the default 1e-5 in the patch embedding and the key/value reduction.
The encoder is segd's Mix Transformer (`segformer.MixVisionTransformer`); only the eps values are set here.
"""
from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, class_count, init_from_scratch
from .segformer import (EfficientSelfAttention, MiTSegmenter, MiTSpec, MixVisionTransformer, OverlapPatchEmbed,
                        init_mit)

Flavour = Literal["hf", "nvlabs"]

MIT_SPECS_ALL = {
    "b0": MiTSpec(widths=(32, 64, 160, 256), depths=(2, 2, 2, 2)),
    "b1": MiTSpec(widths=(64, 128, 320, 512), depths=(2, 2, 2, 2)),
    "b2": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 4, 6, 3)),
    "b3": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 4, 18, 3)),
    "b4": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 8, 27, 3)),
    "b5": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 6, 40, 3)),
}
DECODER_CHANNELS = {"b0": 256, "b1": 256, "b2": 768, "b3": 768, "b4": 768, "b5": 768}


class MLPHead(nn.Module):
    def __init__(self, widths: tuple[int, ...], num_classes: int, channels: int) -> None:
        super().__init__()
        self.linear_c = nn.ModuleList(nn.Conv2d(c, channels, 1) for c in widths)
        self.fusion_conv = nn.Sequential(ConvBN(channels * len(widths), channels, 1, bias=False), nn.ReLU())
        self.cls_seg = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(channels, num_classes, 1))

    def concat_feature(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[2:]
        outs = [F.interpolate(proj(f), size=size, mode="bilinear", align_corners=False)
                for proj, f in zip(self.linear_c, feats)]
        return torch.cat(outs[::-1], dim=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.fusion_conv(self.concat_feature(feats)))


def set_layernorm_eps(backbone: MixVisionTransformer, flavour: Flavour) -> None:
    block_eps = 1e-5 if flavour == "hf" else 1e-6
    # The patch embedding's and the key/value reduction's norms keep 1e-5 in both flavours. They are children
    # of their modules, so they are collected first: modules() reaches them after their parents.
    kept = {id(m.norm) for m in backbone.modules()
            if isinstance(m, (OverlapPatchEmbed, EfficientSelfAttention)) and m.norm is not None}
    for m in backbone.modules():
        if isinstance(m, nn.LayerNorm):
            m.eps = 1e-5 if id(m) in kept else block_eps


class SegFormerMLP(MiTSegmenter):
    """`forward` → logits K @1/4; the SIAM teacher protocol is `MiTSegmenter`'s. The head is the all-MLP one."""

    def __init__(self, variant: str, num_classes: int, flavour: Flavour = "hf", channels: int | None = None) -> None:
        super().__init__()
        if variant not in MIT_SPECS_ALL:
            raise ValueError(f"unknown MiT variant {variant!r}; expected one of {sorted(MIT_SPECS_ALL)}")
        self.spec = MIT_SPECS_ALL[variant]
        self.num_classes = class_count(num_classes)
        self.backbone = MixVisionTransformer(self.spec)
        set_layernorm_eps(self.backbone, flavour)
        self.head = MLPHead(self.spec.widths, num_classes, channels or DECODER_CHANNELS[variant])
        init_mit(self.backbone)
        init_from_scratch(self.head, is_classifier=lambda name: name.startswith("cls_seg"))
