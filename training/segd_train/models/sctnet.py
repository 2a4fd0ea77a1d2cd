"""SCTNet-S / SCTNet-B (AAAI 2024): single-branch CNN student with conv-attention CFBlocks.

Follows the facts sheet (/work/shared/reference/architectures.md §1) including the reference
code's quirks, because they change the function the network computes:
- every conv has a bias, even before a BN; BasicBlock's last block of a layer has no output ReLU,
  so an explicit ReLU is applied to the inputs of layer2, layer3, layer3_2, layer4 and layer5;
- x2 is concatenated *before* any ReLU; the 4th entry of the reference's layer_nums is unused;
- CFBlock = x + DropPath(ConvAttn(x)); x + DropPath(MLP(x)), DropPath 0.1 constant (not depth-scaled);
- ConvAttn: BN, then bias-free Kv (m×c×7×1) / Kh (m×c×1×7), GDN, then the *same* tensors with dims
  0/1 swapped (weight-tied, not flipped) back to c channels; vertical + horizontal, no projection;
- MLP BN eps is 1e-6 (the other BNs keep 1e-5); DAPPM is pre-activation BN→ReLU→conv with
  count_include_pad=True pooling; all resizes are bilinear, align_corners=False.

Initialisation (deliberate; §1.8). The reference's init helpers are no-ops, so without its
ImageNet checkpoint Kv/Kh start exactly at zero. We train from scratch, and exact zero is a
symmetry trap there: all 64 inter channels receive identical updates, so within a head GDN
divides equal values by their sum and outputs the constant 1/8 whatever the input; its
gradient then vanishes along every non-symmetric direction and the channels never separate.
So we use what the reference code *intends*: Kv/Kh ~ N(0, 1e-3) (tiny, so each CFBlock starts
close to identity, but asymmetric), He/Kaiming-normal fan_out for convs (the standard choice for
ReLU nets trained from scratch), BN γ=1 β=0, and the classifier conv N(0, 0.01) with zero bias
(mmseg's conv_seg init, so the first predictions are near-uniform).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .layers import ConvBN, DropPath, class_count, init_from_scratch


@dataclass(frozen=True)
class SCTNetSpec:
    base: int          # C
    spp: int           # DAPPM inner channels
    heads: int = 8     # GDN groups in ConvAttn
    inter: int = 64    # ConvAttn inter channels m
    drop_path: float = 0.1


SCTNET_S = SCTNetSpec(base=32, spp=64)
SCTNET_B = SCTNetSpec(base=64, spp=128)


class BasicBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, relu_out: bool) -> None:
        super().__init__()
        self.conv1 = ConvBN(cin, cout, 3, stride)
        self.conv2 = ConvBN(cout, cout, 3)
        self.downsample = ConvBN(cin, cout, 1, stride) if stride != 1 or cin != cout else None
        self.relu_out = relu_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(F.relu(self.conv1(x)))
        out = out + (x if self.downsample is None else self.downsample(x))
        return F.relu(out) if self.relu_out else out


def make_layer(cin: int, cout: int, blocks: int, stride: int = 1) -> nn.Sequential:
    # Reference: the first block always ends with ReLU, the last one never (when blocks > 1).
    layers = [BasicBlock(cin, cout, stride, relu_out=True)]
    layers += [BasicBlock(cout, cout, 1, relu_out=i != blocks - 1) for i in range(1, blocks)]
    return nn.Sequential(*layers)


def grouped_double_norm(x: torch.Tensor, heads: int) -> torch.Tensor:
    """GDN: softmax over space, then divide by the sum over the channels of the same group."""
    _, m, h, w = x.shape
    # -1 on the batch axis keeps N dynamic in the exported graph (H, W are fixed there).
    g = x.reshape(-1, heads, m // heads, h * w).softmax(dim=3)
    g = g / (g.sum(dim=2, keepdim=True) + 1e-6)
    return g.reshape(-1, m, h, w)


class ConvAttention(nn.Module):
    def __init__(self, channels: int, inter: int, heads: int) -> None:
        super().__init__()
        if inter % heads:
            raise ValueError(f"inter channels {inter} must be a multiple of heads {heads}")
        self.heads = heads
        self.norm = nn.BatchNorm2d(channels)
        self.kv = nn.Parameter(torch.empty(inter, channels, 7, 1))
        self.kh = nn.Parameter(torch.empty(inter, channels, 1, 7))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        # N(0, 1e-3), truncated at ±2σ: small (block starts near identity) but not zero; see module docstring.
        nn.init.trunc_normal_(self.kv, std=1e-3, a=-2e-3, b=2e-3)
        nn.init.trunc_normal_(self.kh, std=1e-3, a=-2e-3, b=2e-3)

    def _axis(self, x: torch.Tensor, k: torch.Tensor, pad: tuple[int, int]) -> torch.Tensor:
        a = grouped_double_norm(F.conv2d(x, k, padding=pad), self.heads)
        return F.conv2d(a, k.transpose(0, 1), padding=pad)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.norm(x)
        return self._axis(x, self.kv, (3, 0)) + self._axis(x, self.kh, (0, 3))


class MLP(nn.Module):
    """BN(eps 1e-6) → conv3×3 → GELU → conv3×3 (hidden ratio 1; the reference's Dropout(0) omitted)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.BatchNorm2d(channels, eps=1e-6)
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(F.gelu(self.conv1(self.norm(x))))


class CFBlock(nn.Module):
    def __init__(self, channels: int, spec: SCTNetSpec) -> None:
        super().__init__()
        self.attn = ConvAttention(channels, spec.inter, spec.heads)
        self.mlp = MLP(channels)
        self.drop_path = DropPath(spec.drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(x))
        return x + self.drop_path(self.mlp(x))


class GlobalAvgPool(nn.Module):
    """Average over the whole H×W, as AdaptiveAvgPool2d(1). Written as an avg_pool2d whose kernel is the
    input size so the export is one AveragePool: torch.export lowers the adaptive pool through an
    as_strided Gather, and `mean` becomes an opset-18 ReduceMean that does not convert back to 17."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.avg_pool2d(x, kernel_size=(int(x.shape[2]), int(x.shape[3])))


def brc(cin: int, cout: int, kernel: int = 1, pool: nn.Module | None = None) -> nn.Sequential:
    """Pre-activation BN → ReLU → conv (bias), optionally after a pooling."""
    layers = [] if pool is None else [pool]
    layers += [nn.BatchNorm2d(cin), nn.ReLU(), nn.Conv2d(cin, cout, kernel, padding=kernel // 2)]
    return nn.Sequential(*layers)


class DAPPM(nn.Module):
    def __init__(self, cin: int, inner: int, cout: int) -> None:
        super().__init__()

        def avg(k: int, s: int) -> nn.AvgPool2d:
            return nn.AvgPool2d(k, s, k // 2, count_include_pad=True)

        self.scale0 = brc(cin, inner)
        self.scale1 = brc(cin, inner, pool=avg(5, 2))
        self.scale2 = brc(cin, inner, pool=avg(9, 4))
        self.scale3 = brc(cin, inner, pool=avg(17, 8))
        self.scale4 = brc(cin, inner, pool=GlobalAvgPool())
        self.process = nn.ModuleList(brc(inner, inner, 3) for _ in range(4))
        self.compression = brc(inner * 5, cout)
        self.shortcut = brc(cin, cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        size = x.shape[2:]
        ys = [self.scale0(x)]
        for scale, process in zip((self.scale1, self.scale2, self.scale3, self.scale4), self.process):
            up = F.interpolate(scale(x), size=size, mode="bilinear", align_corners=False)
            ys.append(process(up + ys[-1]))
        return self.compression(torch.cat(ys, dim=1)) + self.shortcut(x)


class SCTHead(nn.Module):
    """BN → ReLU → conv3×3 → BN → ReLU → 1×1 classifier (dropout 0 omitted)."""

    def __init__(self, cin: int, mid: int, num_classes: int) -> None:
        super().__init__()
        self.bn1 = nn.BatchNorm2d(cin)
        self.conv = ConvBN(cin, mid, 3)
        self.conv_seg = nn.Conv2d(mid, num_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_seg(F.relu(self.conv(F.relu(self.bn1(x)))))


class SCTNetBackbone(nn.Module):
    def __init__(self, spec: SCTNetSpec) -> None:
        super().__init__()
        c = spec.base
        self.stem = nn.Sequential(ConvBN(3, c, 3, 2), nn.ReLU(), ConvBN(c, c, 3, 2), nn.ReLU())
        self.layer1 = make_layer(c, c, 2)
        self.layer2 = make_layer(c, 2 * c, 2, stride=2)
        self.layer3 = make_layer(2 * c, 4 * c, 2, stride=2)
        self.layer3_2 = CFBlock(4 * c, spec)
        self.convdown4 = nn.Sequential(ConvBN(4 * c, 8 * c, 3, 2), nn.ReLU())
        self.layer4 = CFBlock(8 * c, spec)
        self.layer5 = CFBlock(8 * c, spec)
        self.spp = DAPPM(8 * c, spec.spp, 2 * c)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        x1 = self.layer1(self.stem(x))                                   # C    @1/4
        x2 = self.layer2(F.relu(x1))                                     # 2C   @1/8, pre-ReLU
        x3 = self.layer3_2(F.relu(self.layer3(F.relu(x2))))              # 4C   @1/16
        x4 = self.layer4(F.relu(self.convdown4(x3)))                     # 8C   @1/32
        x5 = self.layer5(F.relu(x4))                                     # 8C   @1/32
        ctx = F.interpolate(self.spp(x5), size=x2.shape[2:], mode="bilinear", align_corners=False)
        return {"x_out": torch.cat([x2, ctx], dim=1), "x2": x2, "x3": x3, "x5": x5}


class SCTNet(nn.Module):
    """`forward` is the inference path (logits K @1/8); `forward_train` adds the aux logits and SIAM taps."""

    output_stride = 8
    align_corners = False    # every resize of its logits (loss, eval, export, fps) is half-pixel (§4 pitfall 2)

    def __init__(self, spec: SCTNetSpec, num_classes: int) -> None:
        super().__init__()
        self.spec = spec
        self.num_classes = class_count(num_classes)
        c = spec.base
        self.backbone = SCTNetBackbone(spec)
        self.head = SCTHead(4 * c, 4 * c, num_classes)
        self.aux_head = SCTHead(2 * c, 2 * c, num_classes)   # training only
        # Channels of the SIAM taps: x_out = concat[x2 (2C), DAPPM (2C)] @1/8, x3 @1/16, x5 @1/32.
        self.distill_channels = {"x_out": 4 * c, "x3": 4 * c, "x5": 8 * c}
        init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x)["x_out"])

    def forward_train(self, x: torch.Tensor) -> dict[str, torch.Tensor | dict[str, torch.Tensor]]:
        f = self.backbone(x)
        return {"logits": self.head(f["x_out"]), "aux": {"aux": self.aux_head(f["x2"])},
                "x_out": f["x_out"], "x3": f["x3"], "x5": f["x5"]}

    def inference_parameters(self) -> int:
        """Parameters on the inference path (backbone + decode head, no aux head)."""
        return sum(p.numel() for n, p in self.named_parameters() if not n.startswith("aux_head."))


def init_weights(model: nn.Module) -> None:
    """See the module docstring for why these choices."""
    init_from_scratch(model, is_classifier=lambda name: name.endswith("conv_seg"))
    for m in model.modules():
        if isinstance(m, ConvAttention):
            m.reset_parameters()


def sctnet_s(num_classes: int) -> SCTNet:
    return SCTNet(SCTNET_S, num_classes)


def sctnet_b(num_classes: int) -> SCTNet:
    return SCTNet(SCTNET_B, num_classes)
