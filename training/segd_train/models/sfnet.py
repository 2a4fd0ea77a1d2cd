"""SFNet (ECCV 2020) and SFNet-Lite (IJCV 2023) on ResNet-18-D or STDC backbones (facts sheet §3).

- `BackboneAdapter` turns any backbone's dict of features into the four levels [1/4, 1/8, 1/16, 1/32], so
  the same decoders run on ResNet-18-D (x1..x4) and STDC (feat4..feat32).
- `SFNetV1Head` (`UperNetAlignHead`, §3.5): PPM on 1/32, then for 1/16, 1/8, 1/4 in turn
  c = fpn_in(x); f = c + FAM(low=c, high=f); P = fpn_out(f) (the un-convolved f carries on); the P's and the
  PPM output are resized to 1/4 (bilinear, align_corners=True), concatenated, CBR 3×3 → 1×1 classifier.
  d = 128 on R18, 64 on STDC. DSN heads (`dsn=True`: CBR 3×3 with bias + Dropout2d(0.1) + 1×1 on each post-sum
  f, returned as forward_train's "aux") are OFF by default: the v1 R18 recipe trains without them.
- `SFNetLiteHead` (`UperNetAlignHeadV2`, §3.6, d = 128): p2 = fpn_in(1/4), p4 = fpn_in(1/16), g = PPM(1/32);
  fused = GD-FAM(low=p2, high=g); concat [fused, p4 resized to 1/4] → CBR 3×3 → 1×1. Only the two fpn_in that
  run are built: the reference also builds a third fpn_in for R18 (512→128, 65,920 params) and, for every
  backbone, a DSN head (150,291 params at K=19) that never run (§4 pitfall 9). So Lite-R18 here has 12.08M
  parameters at K=19 where the facts sheet says "12.15M used": that figure still counts the third fpn_in.
  Lite-STDC1/2 (6.43M / 10.46M) match the sheet.

Logits are at 1/4 (output_stride 4) and resized to input/label size with align_corners=True everywhere
(§4 pitfall 2). Head layers keep PyTorch's default init, as the reference does; the backbone is from scratch.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .flow_align import FAM, GDFAM
from .layers import ConvBN, class_count
from .ppm import PPM
from .resnet import ResNet18D
from .stdc import stdc1_backbone, stdc2_backbone

LEVEL_STRIDES: tuple[int, ...] = (4, 8, 16, 32)


def cbr(cin: int, cout: int, kernel: int, *, bias: bool = False) -> nn.Sequential:
    """conv (padding k//2) → BN → ReLU; a ConvBN so the exporter folds the BN."""
    return nn.Sequential(ConvBN(cin, cout, kernel, bias=bias), nn.ReLU())


def _up(x: torch.Tensor, size: torch.Size | tuple[int, int]) -> torch.Tensor:
    return F.interpolate(x, size=size, mode="bilinear", align_corners=True)


class BackboneAdapter(nn.Module):
    """Backbone whose forward returns a dict → list of the four levels at strides 4, 8, 16, 32."""

    def __init__(self, backbone: nn.Module, names: tuple[str, str, str, str]) -> None:
        super().__init__()
        channels: dict[str, int] = getattr(backbone, "channels")
        missing = [n for n in names if n not in channels]
        if missing:
            raise ValueError(f"backbone {type(backbone).__name__} has no feature(s) {missing}; "
                             f"it offers {sorted(channels)}")
        self.body = backbone
        self.names = names
        self.channels: tuple[int, ...] = tuple(channels[n] for n in names)

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        feats = self.body(x)
        return [feats[n] for n in self.names]


class SFNetV1Head(nn.Module):
    def __init__(self, channels: tuple[int, ...], dim: int, num_classes: int, dsn: bool = False) -> None:
        super().__init__()
        self.ppm = PPM(channels[3], dim)
        self.fpn_in = nn.ModuleList(cbr(c, dim, 1, bias=True) for c in channels[:3])
        self.fpn_out = nn.ModuleList(cbr(dim, dim, 3) for _ in channels[:3])
        self.fpn_out_align = nn.ModuleList(FAM(dim) for _ in channels[:3])
        self.dsn = nn.ModuleList(nn.Sequential(cbr(dim, dim, 3, bias=True), nn.Dropout2d(0.1),
                                               nn.Conv2d(dim, num_classes, 1)) for _ in channels[:3]) if dsn else None
        self.conv_last = cbr(4 * dim, dim, 3)
        self.conv_seg = nn.Conv2d(dim, num_classes, 1)

    def forward(self, feats: list[torch.Tensor], with_aux: bool = False
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """(x_out: the fused d-channel feature @1/4 before the classifier, aux logits by name)."""
        f = self.ppm(feats[3])
        pyramid = [f]
        aux: dict[str, torch.Tensor] = {}
        for i in (2, 1, 0):                                   # 1/16, 1/8, 1/4
            c = self.fpn_in[i](feats[i])
            f = c + self.fpn_out_align[i](c, f)
            pyramid.append(self.fpn_out[i](f))
            if with_aux and self.dsn is not None:
                aux[f"dsn{LEVEL_STRIDES[i]}"] = self.dsn[i](f)
        pyramid.reverse()                                     # [P@1/4, P@1/8, P@1/16, PPM]
        size = pyramid[0].shape[2:]
        fused = torch.cat([pyramid[0]] + [_up(p, size) for p in pyramid[1:]], dim=1)
        return self.conv_last(fused), aux


class SFNetLiteHead(nn.Module):
    def __init__(self, channels: tuple[int, ...], dim: int, num_classes: int) -> None:
        super().__init__()
        self.ppm = PPM(channels[3], dim)
        # Only the 1/4 and 1/16 levels: the reference's third (1/32) fpn_in never runs, so it is not built.
        self.fpn_in = nn.ModuleList([cbr(channels[0], dim, 1, bias=True), cbr(channels[2], dim, 1, bias=True)])
        self.flow_align_module = GDFAM(dim)
        self.conv_last = cbr(2 * dim, dim, 3)
        self.conv_seg = nn.Conv2d(dim, num_classes, 1)

    def forward(self, feats: list[torch.Tensor], with_aux: bool = False
                ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        g = self.ppm(feats[3])
        p2 = self.fpn_in[0](feats[0])
        p4 = self.fpn_in[1](feats[2])
        fused = self.flow_align_module(p2, g)
        return self.conv_last(torch.cat([fused, _up(p4, fused.shape[2:])], dim=1)), {}


class SFNet(nn.Module):
    """`forward` = inference path (logits K @1/4); `forward_train` adds aux logits (if any) and SIAM taps."""

    output_stride = 4
    align_corners = True

    def __init__(self, backbone: BackboneAdapter, head: SFNetV1Head | SFNetLiteHead, num_classes: int) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.backbone = backbone
        self.head = head
        self.distill_channels = {"x_out": head.conv_seg.in_channels, "x3": backbone.channels[2],
                                 "x5": backbone.channels[3]}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feature, _ = self.head(self.backbone(x))
        return self.head.conv_seg(feature)

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        feats = self.backbone(x)
        feature, aux = self.head(feats, with_aux=True)
        return {"logits": self.head.conv_seg(feature), "aux": aux, "x_out": feature, "x3": feats[2], "x5": feats[3]}

    def inference_parameters(self) -> int:
        """Parameters reachable from forward(): everything except the (optional) DSN heads."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("head.dsn."))


R18_LEVELS = ("x1", "x2", "x3", "x4")
STDC_LEVELS = ("feat4", "feat8", "feat16", "feat32")   # feat2 is not used by either decoder


def _v1(backbone: BackboneAdapter, dim: int, num_classes: int, dsn: bool) -> SFNet:
    class_count(num_classes)
    return SFNet(backbone, SFNetV1Head(backbone.channels, dim, num_classes, dsn), num_classes)


def _lite(backbone: BackboneAdapter, num_classes: int) -> SFNet:
    class_count(num_classes)
    return SFNet(backbone, SFNetLiteHead(backbone.channels, 128, num_classes), num_classes)


def sfnet_r18(num_classes: int, dsn: bool = False) -> SFNet:
    return _v1(BackboneAdapter(ResNet18D(), R18_LEVELS), 128, num_classes, dsn)


def sfnet_stdc1(num_classes: int, dsn: bool = False) -> SFNet:
    return _v1(BackboneAdapter(stdc1_backbone(), STDC_LEVELS), 64, num_classes, dsn)


def sfnet_stdc2(num_classes: int, dsn: bool = False) -> SFNet:
    return _v1(BackboneAdapter(stdc2_backbone(), STDC_LEVELS), 64, num_classes, dsn)


def sfnet_lite_r18(num_classes: int) -> SFNet:
    return _lite(BackboneAdapter(ResNet18D(), R18_LEVELS), num_classes)


def sfnet_lite_stdc1(num_classes: int) -> SFNet:
    return _lite(BackboneAdapter(stdc1_backbone(), STDC_LEVELS), num_classes)


def sfnet_lite_stdc2(num_classes: int) -> SFNet:
    return _lite(BackboneAdapter(stdc2_backbone(), STDC_LEVELS), num_classes)

