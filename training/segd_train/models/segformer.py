"""SegFormer: Mix Transformer (MiT-B0…B3) encoder + all-MLP decode head (mmseg layout).

Used as the SIAM teacher (facts sheet §1.6). Structure per stage: overlapping patch embed
(conv k/stride [7,3,3,3]/[4,2,2,2], pad k//2, then LayerNorm), `depth` blocks of
LN → efficient self-attention (keys/values spatially reduced by a stride-sr conv + LN) → residual,
LN → Mix-FFN (1×1 → depthwise 3×3 → GELU → 1×1, ratio 4) → residual, then a LayerNorm.
Every LayerNorm uses eps 1e-6; stochastic depth rises linearly 0 → 0.1 over all blocks.

Head: per stage 1×1 conv (no bias) + BN + ReLU to 256 channels, resize to the stage-1 size,
concat [s1, s2, s3, s4] (the "concat feature", 1024 ch) → `fusion_conv` 1×1 + BN + ReLU (the
"decoder feature") → `cls_seg` Dropout2d(0.1) + 1×1 conv. SDHA (losses/siam.py) runs the student
through `head.fusion_conv` and `head.cls_seg`, so both are attributes.

Initialisation follows mmseg's MiT defaults: Linear trunc-normal std 0.02, LayerNorm 1/0, convs
normal(0, sqrt(2/fan_out)) and the head's conv+BN modules Kaiming fan_out; classifier N(0, 0.01).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, DropPath, class_count, init_from_scratch

LN_EPS = 1e-6


@dataclass(frozen=True)
class MiTSpec:
    widths: tuple[int, int, int, int]
    depths: tuple[int, int, int, int]
    heads: tuple[int, int, int, int] = (1, 2, 5, 8)
    sr_ratios: tuple[int, int, int, int] = (8, 4, 2, 1)
    mlp_ratio: int = 4
    drop_path: float = 0.1


MIT_SPECS = {
    "b0": MiTSpec(widths=(32, 64, 160, 256), depths=(2, 2, 2, 2)),
    "b1": MiTSpec(widths=(64, 128, 320, 512), depths=(2, 2, 2, 2)),
    "b2": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 4, 6, 3)),
    "b3": MiTSpec(widths=(64, 128, 320, 512), depths=(3, 4, 18, 3)),
}
HEAD_CHANNELS = 256


class OverlapPatchEmbed(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int, stride: int) -> None:
        super().__init__()
        self.proj = nn.Conv2d(cin, cout, kernel, stride, kernel // 2)
        self.norm = nn.LayerNorm(cout, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, int, int]:
        x = self.proj(x)
        h, w = x.shape[2:]
        return self.norm(x.flatten(2).transpose(1, 2)), h, w


class EfficientSelfAttention(nn.Module):
    def __init__(self, dim: int, heads: int, sr: int) -> None:
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim)
        self.kv = nn.Linear(dim, 2 * dim)
        self.proj = nn.Linear(dim, dim)
        self.sr = nn.Conv2d(dim, dim, sr, sr) if sr > 1 else None
        self.norm = nn.LayerNorm(dim, eps=LN_EPS) if sr > 1 else None

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        n, length, dim = x.shape
        q = self.q(x).reshape(n, length, self.heads, dim // self.heads).transpose(1, 2)
        kv_in = x
        if self.sr is not None and self.norm is not None:
            kv_in = self.sr(x.transpose(1, 2).reshape(n, dim, h, w)).flatten(2).transpose(1, 2)
            kv_in = self.norm(kv_in)
        k, v = self.kv(kv_in).reshape(n, -1, 2, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        out = F.scaled_dot_product_attention(q, k, v)
        return self.proj(out.transpose(1, 2).reshape(n, length, dim))


class MixFFN(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Conv2d(dim, hidden, 1)
        self.dwconv = nn.Conv2d(hidden, hidden, 3, padding=1, groups=hidden)
        self.fc2 = nn.Conv2d(hidden, dim, 1)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        n, _, dim = x.shape
        y = self.fc2(F.gelu(self.dwconv(self.fc1(x.transpose(1, 2).reshape(n, dim, h, w)))))
        return y.flatten(2).transpose(1, 2)


class MiTBlock(nn.Module):
    def __init__(self, dim: int, heads: int, sr: int, mlp_ratio: int, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=LN_EPS)
        self.attn = EfficientSelfAttention(dim, heads, sr)
        self.norm2 = nn.LayerNorm(dim, eps=LN_EPS)
        self.ffn = MixFFN(dim, dim * mlp_ratio)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x), h, w))
        return x + self.drop_path(self.ffn(self.norm2(x), h, w))


class MiTStage(nn.Module):
    def __init__(self, cin: int, dim: int, kernel: int, stride: int, blocks: list[MiTBlock]) -> None:
        super().__init__()
        self.patch_embed = OverlapPatchEmbed(cin, dim, kernel, stride)
        self.blocks = nn.ModuleList(blocks)
        self.norm = nn.LayerNorm(dim, eps=LN_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, h, w = self.patch_embed(x)
        for block in self.blocks:
            t = block(t, h, w)
        t = self.norm(t)
        return t.transpose(1, 2).reshape(t.shape[0], -1, h, w)


class MixVisionTransformer(nn.Module):
    def __init__(self, spec: MiTSpec) -> None:
        super().__init__()
        total = sum(spec.depths)
        rates = [spec.drop_path * i / max(total - 1, 1) for i in range(total)]
        stages, cin, first = [], 3, 0
        for i, (dim, depth) in enumerate(zip(spec.widths, spec.depths)):
            blocks = [MiTBlock(dim, spec.heads[i], spec.sr_ratios[i], spec.mlp_ratio, rates[first + j])
                      for j in range(depth)]
            stages.append(MiTStage(cin, dim, 7 if i == 0 else 3, 4 if i == 0 else 2, blocks))
            cin, first = dim, first + depth
        self.stages = nn.ModuleList(stages)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        outs = []
        for stage in self.stages:
            x = stage(x)
            outs.append(x)
        return outs


class SegFormerHead(nn.Module):
    def __init__(self, widths: tuple[int, ...], num_classes: int, channels: int = HEAD_CHANNELS) -> None:
        super().__init__()
        self.convs = nn.ModuleList(
            nn.Sequential(ConvBN(c, channels, 1, bias=False), nn.ReLU()) for c in widths)
        self.fusion_conv = nn.Sequential(ConvBN(channels * len(widths), channels, 1, bias=False), nn.ReLU())
        self.cls_seg = nn.Sequential(nn.Dropout2d(0.1), nn.Conv2d(channels, num_classes, 1))

    def concat_feature(self, feats: list[torch.Tensor]) -> torch.Tensor:
        size = feats[0].shape[2:]
        return torch.cat([F.interpolate(conv(f), size=size, mode="bilinear", align_corners=False)
                          for conv, f in zip(self.convs, feats)], dim=1)

    def forward(self, feats: list[torch.Tensor]) -> torch.Tensor:
        return self.cls_seg(self.fusion_conv(self.concat_feature(feats)))


class MiTSegmenter(nn.Module):
    """A MiT backbone under a head with `concat_feature`, `fusion_conv` and `cls_seg`: forward, and the SIAM teacher
    protocol (`distill_widths`, `forward_train`, `head_tail`). SegFormer and SegFormerMLP differ only in the head."""

    output_stride = 4
    align_corners = False    # mmseg SegFormer resizes half-pixel, like its SCTNet student
    spec: MiTSpec
    backbone: MixVisionTransformer
    head: nn.Module          # SegFormerHead or segformer_mlp.MLPHead

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))

    @property
    def distill_widths(self) -> dict[str, int]:
        """SIAM teacher protocol: channels of stage 3, stage 4 and the head's concat feature."""
        return {"stage3": self.spec.widths[2], "stage4": self.spec.widths[3],
                "concat": self.head.fusion_conv[0].conv.in_channels}

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.backbone(x)
        concat = self.head.concat_feature(feats)
        decoder, logits = self.head_tail(concat)
        return {"logits": logits, "decoder_feature": decoder,
                "concat_feature": concat, "stage3": feats[2], "stage4": feats[3]}

    def head_tail(self, concat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """SIAM teacher protocol: concat feature → (decoder feature, logits) through the head's own layers."""
        decoder = self.head.fusion_conv(concat)
        return decoder, self.head.cls_seg(decoder)


class SegFormer(MiTSegmenter):
    """`forward` → logits K @1/4; `forward_train` → dict with the SIAM teacher targets."""

    def __init__(self, spec: MiTSpec, num_classes: int) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = class_count(num_classes)
        self.backbone = MixVisionTransformer(spec)
        self.head = SegFormerHead(spec.widths, num_classes)
        _init_weights(self)


def _init_weights(model: SegFormer) -> None:
    init_mit(model.backbone)
    init_from_scratch(model.head, is_classifier=lambda name: name.startswith("cls_seg"))


def init_mit(module: nn.Module) -> None:
    """mmseg's MiT init: Linear trunc-normal 0.02, LayerNorm 1/0, convs normal(0, sqrt(2/fan_out))."""
    for m in module.modules():
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.LayerNorm):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Conv2d):
            fan_out = m.kernel_size[0] * m.kernel_size[1] * m.out_channels // m.groups
            nn.init.normal_(m.weight, std=math.sqrt(2.0 / fan_out))
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def segformer(variant: str, num_classes: int) -> SegFormer:
    if variant not in MIT_SPECS:
        raise ValueError(f"unknown MiT variant {variant!r}; expected one of {sorted(MIT_SPECS)}")
    return SegFormer(MIT_SPECS[variant], num_classes)
