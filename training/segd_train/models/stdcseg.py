"""STDC1-Seg / STDC2-Seg (CVPR 2021), per the facts sheet §2.3.

Inference network: STDC backbone → context path → FFM → main head, logits K @1/8.
- CBR = conv (no bias) → BN → ReLU; the reference's InPlaceABNSync(activation='none') is plain BN here.
- ARM(in→128): f = CBR 3×3; out = f · sigmoid(BN(1×1 conv, no bias)(GAP(f))).
- Global context g = CBR 1×1 (1024→128) on GAP(feat32). The reference "upsamples" it nearest-neighbour
  to the 1/32 size, which is a broadcast: it is added as the N×128×1×1 tensor directly.
- Context path, nearest-neighbour upsampling throughout: s32 = ARM32(feat32) + g; cp16 = CBR 3×3(up(s32))
  @1/16; s16 = ARM16(feat16) + cp16; cp8 = CBR 3×3(up(s16)) @1/8.
- FFM(384→256): f = CBR 1×1(concat[feat8, cp8]); a = sigmoid(1×1 (64→256) ∘ ReLU ∘ 1×1 (256→64) (GAP(f)))
  with no BN and no bias; out = f·a + f. feat8 is the spatial path (there is no separate one).
- Heads = CBR 3×3 (in→mid) → 1×1 (mid→K, no bias): main on the FFM output (256/256); training-only
  aux16 on cp8 (128/64), aux32 on cp16 (128/64) and detail on feat8 (256/64, 1 channel). The reference's
  detail heads on feat2/feat4/feat16 are unused by its recipe (`use_boundary_8` only) and not built.
- `align_corners = True`: the main, aux and detail logits are resized bilinear with align_corners=True
  to the input/label size wherever they are resized (loss, eval, export) — facts sheet pitfall 2.

GAP is `F.avg_pool2d` with the feature size as kernel (SCTNet's `GlobalAvgPool`): `x.mean((2, 3))` and
`AdaptiveAvgPool2d(1)` both export as an opset-18 ReduceMean that the exporter cannot convert down to
opset 17, while this one is a single opset-17 AveragePool.

Initialisation: no pretrained weights exist offline, so the backbone starts from scratch (Kaiming-normal
fan_out convs, BN 1/0; see stdc.py); head convs (context path, FFM, output heads) use the reference's
`kaiming_normal_(a=1)` (std = 1/√fan_in), BN 1/0.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, class_count
from .sctnet import GlobalAvgPool
from .stdc import STDCNet, stdc1_backbone, stdc2_backbone

CP_CHANNELS = 128    # context path width
FFM_CHANNELS = 256


class CBR(nn.Module):
    """conv (no bias) → BN → ReLU."""

    def __init__(self, cin: int, cout: int, kernel: int) -> None:
        super().__init__()
        self.conv = ConvBN(cin, cout, kernel, bias=False)
        self.relu = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.relu(self.conv(x))


class AttentionRefinement(nn.Module):
    """ARM: CBR 3×3, then a channel attention sigmoid(BN(1×1 conv(GAP)))."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = CBR(cin, cout, 3)
        self.gap = GlobalAvgPool()
        self.atten = ConvBN(cout, cout, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.conv(x)
        return f * torch.sigmoid(self.atten(self.gap(f)))


class ContextPath(nn.Module):
    """Returns (cp8 @1/8, cp16 @1/16), both 128 channels."""

    def __init__(self, c16: int, c32: int) -> None:
        super().__init__()
        self.gap = GlobalAvgPool()
        self.global_context = CBR(c32, CP_CHANNELS, 1)
        self.arm32 = AttentionRefinement(c32, CP_CHANNELS)
        self.arm16 = AttentionRefinement(c16, CP_CHANNELS)
        self.head32 = CBR(CP_CHANNELS, CP_CHANNELS, 3)
        self.head16 = CBR(CP_CHANNELS, CP_CHANNELS, 3)

    def forward(self, feat8: torch.Tensor, feat16: torch.Tensor,
                feat32: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s32 = self.arm32(feat32) + self.global_context(self.gap(feat32))   # broadcast = nearest up of 1×1
        cp16 = self.head32(F.interpolate(s32, size=feat16.shape[2:], mode="nearest"))
        s16 = self.arm16(feat16) + cp16
        cp8 = self.head16(F.interpolate(s16, size=feat8.shape[2:], mode="nearest"))
        return cp8, cp16


class FeatureFusion(nn.Module):
    """FFM: f = CBR 1×1(concat); out = f·a + f with a bias-free, BN-free squeeze-excite attention a."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = CBR(cin, cout, 1)
        self.gap = GlobalAvgPool()
        self.squeeze = nn.Conv2d(cout, cout // 4, 1, bias=False)
        self.excite = nn.Conv2d(cout // 4, cout, 1, bias=False)

    def forward(self, spatial: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        f = self.conv(torch.cat([spatial, context], dim=1))
        a = torch.sigmoid(self.excite(F.relu(self.squeeze(self.gap(f)))))
        return f * a + f


class OutputHead(nn.Module):
    """CBR 3×3 (in→mid) → 1×1 classifier (mid→K, no bias)."""

    def __init__(self, cin: int, mid: int, num_classes: int) -> None:
        super().__init__()
        self.conv = CBR(cin, mid, 3)
        self.cls = nn.Conv2d(mid, num_classes, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.cls(self.conv(x))


TRAINING_ONLY = ("aux16.", "aux32.", "detail.")


class STDCSeg(nn.Module):
    """`forward` = inference graph (main logits K @1/8); `forward_train` adds aux16/aux32 logits, the
    1-channel detail logits @1/8 and the SIAM taps x_out (FFM output), x3 (feat16), x5 (feat32)."""

    output_stride = 8
    align_corners = True
    # §2.6: ×10 LR for the FFM and every output head; the context path (ARMs, global context) trains at base LR.
    head_prefixes = ("ffm.", "head.", "aux16.", "aux32.", "detail.")

    def __init__(self, backbone: STDCNet, num_classes: int) -> None:
        super().__init__()
        self.num_classes = class_count(num_classes)
        ch = backbone.channels
        self.backbone = backbone
        self.context = ContextPath(ch["feat16"], ch["feat32"])
        self.ffm = FeatureFusion(ch["feat8"] + CP_CHANNELS, FFM_CHANNELS)
        self.head = OutputHead(FFM_CHANNELS, FFM_CHANNELS, num_classes)
        self.aux16 = OutputHead(CP_CHANNELS, 64, num_classes)      # training only, on cp8
        self.aux32 = OutputHead(CP_CHANNELS, 64, num_classes)      # training only, on cp16
        self.detail = OutputHead(ch["feat8"], 64, 1)               # training only, on feat8
        self.distill_channels = {"x_out": FFM_CHANNELS, "x3": ch["feat16"], "x5": ch["feat32"]}
        for name, m in self.named_modules():
            if name.startswith("backbone"):
                continue      # the backbone initialised itself (Kaiming fan_out)
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=1)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def _features(self, x: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor, torch.Tensor]:
        f = self.backbone(x)
        cp8, cp16 = self.context(f["feat8"], f["feat16"], f["feat32"])
        return f, cp8, cp16, self.ffm(f["feat8"], cp8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self._features(x)[3])

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        f, cp8, cp16, fused = self._features(x)
        return {"logits": self.head(fused),
                "aux": {"aux16": self.aux16(cp8), "aux32": self.aux32(cp16)},
                "detail_logits": self.detail(f["feat8"]),
                "x_out": fused, "x3": f["feat16"], "x5": f["feat32"]}

    def inference_parameters(self) -> int:
        """Parameters reachable from `forward` (no aux or detail heads)."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith(TRAINING_ONLY))


def stdc1_seg(num_classes: int) -> STDCSeg:
    return STDCSeg(stdc1_backbone(), num_classes)


def stdc2_seg(num_classes: int) -> STDCSeg:
    return STDCSeg(stdc2_backbone(), num_classes)
