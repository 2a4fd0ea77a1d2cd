"""The ImageNet EfficientNet-Lite front the Lite-based models share: pretrained, truncated, fed the trainer's input.

The trainer (and the exported graph) normalise with the mmseg mean/std (`data/normalize.py`); the ImageNet Lite
weights expect (x − 127) / 128 on 0–255 RGB. One affine converts: x_lite = x_norm · std/128 + (mean − 127)/128.
It is a subclass, not a wrapper, so checkpoints keep their `encoder.*` keys; the affine is a non-persistent buffer,
so it is not in them either.
"""
from __future__ import annotations

import torch

from ..data.normalize import MEAN, STD
from .efficientnet_lite import IMAGENET_INPUT, EfficientNetLite, load_imagenet


class LiteFront(EfficientNetLite):
    """EfficientNet-Lite `variant`, ImageNet weights when `pretrained`, cut after the stride-`upto` stage."""

    def __init__(self, variant: str, upto: int, pretrained: bool = True) -> None:
        super().__init__(variant)
        if pretrained:
            load_imagenet(self)
        self.truncate(upto)
        mean, std = IMAGENET_INPUT
        self.register_buffer("in_scale", torch.tensor([s / std for s in STD]).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("in_shift", torch.tensor([(m - mean) / std for m in MEAN]).view(1, 3, 1, 1),
                             persistent=False)

    def from_normalised(self, x: torch.Tensor) -> dict[int, torch.Tensor]:
        """`features` of a tensor normalised the trainer's way."""
        return self.features(x * self.in_scale + self.in_shift)
