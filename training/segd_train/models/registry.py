"""Explicit model name → builder map (no import-time registration magic)."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .segformer import segformer
from .sctnet import sctnet_b, sctnet_s
from .sfnet import sfnet_lite_r18, sfnet_lite_stdc1, sfnet_lite_stdc2, sfnet_r18, sfnet_stdc1, sfnet_stdc2
from .stdcseg import stdc1_seg, stdc2_seg

_BUILDERS: dict[str, Callable[[int], nn.Module]] = {
    "sctnet-s": sctnet_s,
    "sctnet-b": sctnet_b,
    "segformer-b0": lambda k: segformer("b0", k),
    "segformer-b1": lambda k: segformer("b1", k),
    "segformer-b2": lambda k: segformer("b2", k),
    "segformer-b3": lambda k: segformer("b3", k),
    "stdc1-seg": stdc1_seg,
    "stdc2-seg": stdc2_seg,
    "sfnet-r18": sfnet_r18,
    "sfnet-stdc1": sfnet_stdc1,
    "sfnet-stdc2": sfnet_stdc2,
    "sfnet-lite-r18": sfnet_lite_r18,
    "sfnet-lite-stdc1": sfnet_lite_stdc1,
    "sfnet-lite-stdc2": sfnet_lite_stdc2,
}

MODEL_NAMES: tuple[str, ...] = tuple(_BUILDERS)


def build_model(name: str, num_classes: int) -> nn.Module:
    """Build a freshly initialised model by name; an unknown name raises ValueError listing the choices."""
    try:
        builder = _BUILDERS[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODEL_NAMES)}") from None
    return builder(num_classes)
