"""Official checkpoints → segd models, one explicit key table per family (see docs/official-weights.md).

`FAMILIES` names each supported layout; `load_official` maps a file into a freshly built segd model (whole model
or backbone only) and refuses, naming the keys, anything that does not fit.
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from torch import nn

from ..models import build_model
from . import sctnet, segformer_hf, segformer_mmseg, segformer_nvlabs, sfnet, stdc
from .keytable import ImportReport, ImportRefused, Rule, apply_table, map_state
from .read import OfficialCheckpoint, read_official

PARTS = ("model", "backbone")


@dataclass(frozen=True)
class Family:
    name: str
    summary: str
    marker: str                                            # regex: some source key matches it in this layout only
    arch: Callable[[OfficialCheckpoint], str]               # registry name of the segd model
    rules: Callable[[str, str], list[Rule]]                 # (part, arch) → table
    optional: Callable[[str], bool]                         # segd keys a whole-model file may lack
    classifier: tuple[str, ...]                             # segd keys of the final classifier (weight, bias)
    source_classifiers: str = r"$^"                         # regex: source classifier tensors (any head)
    new_classifiers: str = r"(head\.conv_seg|aux_head\.conv_seg|head\.cls_seg\.1)\..*"   # segd keys they fill
    check: Callable[[OfficialCheckpoint, str], None] = lambda ck, arch: None   # family-specific refusals
    serves: str = r"$^"                                     # regex: the segd archs its tables fill
    trunk: Callable[[str], str] = lambda arch: arch         # what a backbone-only file must match


def _sctnet_arch(ck: OfficialCheckpoint) -> str:
    prefix = "backbone." if "backbone.conv1.0.weight" in ck.state else ""
    try:
        name = sctnet.variant(ck.state, prefix)
    except KeyError as e:
        raise ImportRefused(f"{ck.path}: no backbone.conv1.0.weight (nor conv1.0.weight), the SCTNet stem; "
                            "not an SCTNet checkpoint") from None
    if not name.startswith("sctnet-"):
        raise ImportRefused(f"{ck.path}: {name} (backbone.conv1.0.weight {tuple(ck.state[prefix + 'conv1.0.weight'].shape)})")
    return name


def _hf_arch(ck: OfficialCheckpoint) -> str:
    if ck.hf_config is None:
        raise ImportRefused(f"{ck.path}: a Hugging Face SegFormer needs its config.json (pass the model directory)")
    try:
        return segformer_hf.variant(ck.hf_config)[0]
    except ValueError as e:
        raise ImportRefused(f"{ck.path}/{e}") from None


def _arch_of(variant: Callable[[dict], str], prefix: str, what: str) -> Callable[[OfficialCheckpoint], str]:
    """The family's variant reader, refusing a file it does not recognise as `what`."""
    def arch(ck: OfficialCheckpoint) -> str:
        name = variant(ck.state)
        if not name.startswith(prefix):
            raise ImportRefused(f"{ck.path}: {name}; not {what} checkpoint")
        return name
    return arch


def _checked_by(check: Callable[[dict, str], None]) -> Callable[[OfficialCheckpoint, str], None]:
    """The family's extra check, its refusal naming the file."""
    def checked(ck: OfficialCheckpoint, arch: str) -> None:
        try:
            check(ck.state, arch)
        except ImportRefused as e:
            raise ImportRefused(f"{ck.path}: {e}") from None
    return checked


_stdc_arch = _arch_of(stdc.variant, "stdc", "an STDC-Seg / STDCNet")
_stdc_check = _checked_by(stdc.check_aliases)
_nvlabs_arch = _arch_of(segformer_nvlabs.variant, "segformer-nv-", "an NVlabs SegFormer")
_sfnet_arch = _arch_of(sfnet.variant, "sfnet-", "an SFNet / SFNet-Lite")
_sfnet_check = _checked_by(sfnet.check)


def _mmseg_segformer_arch(ck: OfficialCheckpoint) -> str:
    prefix = "backbone." if "backbone.layers.0.0.projection.weight" in ck.state else ""
    try:
        name = segformer_mmseg.variant(ck.state, prefix)
    except KeyError:
        raise ImportRefused(f"{ck.path}: no backbone.layers.0.0.projection.weight (nor layers.0.0.projection.weight), "
                            "the MiT patch embedding; not an mmseg SegFormer checkpoint") from None
    if not name.startswith("segformer-"):
        raise ImportRefused(f"{ck.path}: {name}")
    return name


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("sctnet", "SCTNet-S/-B, mmseg 0.26 layout (xzz777/SCTNet): segmentors and ImageNet backbones",
           r"(backbone\.)?layer3_2\.attn_l\.kv", _sctnet_arch,
           lambda part, arch: sctnet.model_rules() if part == "model" else [
               *sctnet.backbone_rules(r"(?:backbone\.)?"),
               Rule(r"(decode_head|auxiliary_head|teacher_backbone|teacher_head)\..*", None,
                    why="heads and teacher (backbone-only import)")],
           sctnet.optional, ("head.conv_seg.weight", "head.conv_seg.bias"),
           r"(decode_head|auxiliary_head\.0)\.conv_seg\.(weight|bias)", serves=r"sctnet-[sb]"),
    Family("segformer-hf", "SegFormer MiT-B0…B5, Hugging Face transformers layout (SegformerForSemanticSegmentation)",
           r"(segformer\.)?encoder\.patch_embeddings\.0\.proj\.weight", _hf_arch,
           lambda part, arch: segformer_hf.model_rules() if part == "model" else [
               *segformer_hf.backbone_rules(),
               Rule(r"classifier\.(weight|bias)", None, why="ImageNet classifier of SegformerForImageClassification"),
               Rule(r"decode_head\..*", None, why="decode head (backbone-only import)")],
           segformer_hf.optional, ("head.cls_seg.1.weight", "head.cls_seg.1.bias"),
           r"decode_head\.classifier\.(weight|bias)", serves=r"segformer-mlp-b[0-5]"),
    Family("segformer-mmseg", "SegFormer MiT-B0…B5, mmseg 0.x layout (mmseg model zoo, SCTNet's SegFormer teachers)",
           r"(backbone\.)?layers\.0\.0\.projection\.weight", _mmseg_segformer_arch,
           lambda part, arch: segformer_mmseg.model_rules() if part == "model" else [
               *segformer_mmseg.backbone_rules(),
               Rule(r"(decode_head|auxiliary_head)\..*", None, why="heads (backbone-only import)")],
           segformer_mmseg.optional, ("head.cls_seg.1.weight", "head.cls_seg.1.bias"),
           r"decode_head\.conv_seg\.(weight|bias)", serves=r"segformer-b[0-5]"),
    Family("segformer-nvlabs", "SegFormer MiT-B0…B5, NVlabs/SegFormer's own layout (segformer.b*.*.160k.pth, "
           "ImageNet mit_b*.pth)",
           r"(backbone\.)?block1\.0\.attn\.kv\.weight", _nvlabs_arch,
           lambda part, arch: segformer_nvlabs.model_rules() if part == "model" else [
               *segformer_nvlabs.backbone_rules(),
               Rule(r"head\.(weight|bias)", None, why="ImageNet classifier of the MiT classification model"),
               Rule(r"(decode_head|auxiliary_head)\..*", None, why="heads (backbone-only import)")],
           segformer_nvlabs.optional, ("head.cls_seg.1.weight", "head.cls_seg.1.bias"),
           r"decode_head\.linear_pred\.(weight|bias)", serves=r"segformer-nv-b[0-5]"),
    Family("stdc-seg", "STDC1-Seg / STDC2-Seg, the official layout (MichaelFan01/STDC-Seg): segmentors and the "
           "STDCNet813/1446 ImageNet files",
           r"(cp\.backbone\.)?features\.\d+\.conv_list\.0\.conv\.weight", _stdc_arch,
           lambda part, arch: stdc.model_rules(arch) if part == "model" else [
               *stdc.backbone_rules(arch),
               Rule(r"(cp\.(arm16|arm32|conv_head32|conv_head16|conv_avg)|ffm|conv_out\w*)\..*", None,
                    why="context path and heads (backbone-only import)")],
           stdc.optional, ("head.cls.weight",),
           r"(conv_out|conv_out16|conv_out32)\.conv_out\.weight", r"(head|aux16|aux32)\.cls\.weight", _stdc_check,
           r"stdc[12]-seg"),
    Family("sfnet", "SFNet / SFNet-Lite on ResNet-18-D or STDC1/2, the official layout (lxtGH/SFSegNets), and the "
           "ResNet-18-D ImageNet file (resnet18-deep-inplane128.pth)",
           r"head\.(fpn_out_align|flow_align_module)\.0?\.?down_h\.weight|conv1\.6\.weight", _sfnet_arch,
           lambda part, arch: sfnet.model_rules(arch) if part == "model" else [
               *sfnet.backbone_rules(arch), Rule(r"head\..*", None, why="head (backbone-only import)")],
           sfnet.optional, ("head.conv_seg.weight", "head.conv_seg.bias"),
           r"head\.conv_last\.1\.(weight|bias)", r"head\.conv_seg\.(weight|bias)", _sfnet_check,
           r"sfnet-(lite-)?(r18|stdc1|stdc2)", sfnet.trunk),
)}


def detect_family(ck: OfficialCheckpoint) -> Family:
    hits = [f for f in FAMILIES.values() if any(re.fullmatch(f.marker, k) for k in ck.state)]
    if len(hits) != 1:
        sample = ", ".join(sorted(ck.state)[:6])
        what = "no known layout" if not hits else f"several layouts ({', '.join(f.name for f in hits)})"
        raise ImportRefused(f"{ck.path}: {what} matches its keys (first keys: {sample}); pass --family "
                            f"({', '.join(FAMILIES)})")
    return hits[0]


def _num_classes(ck: OfficialCheckpoint, family: Family) -> int:
    """Classes of a whole-model file: the rows of the classifier tensor the table maps onto the segd classifier."""
    mapped, _, _ = map_state(ck.state, family.rules("model", family.arch(ck)))
    w = mapped.get(family.classifier[0])
    if w is None:
        raise ImportRefused(f"{ck.path}: no classifier tensor for {family.classifier[0]} (is it a backbone-only "
                            "file? import it with part 'backbone')")
    return int(w.shape[0])


def load_official(source: str | OfficialCheckpoint, *, family: str | None = None, part: str = "model",
                  num_classes: int | None = None, skip: tuple[str, ...] = ()) -> tuple[nn.Module, str, ImportReport,
                                                                                        OfficialCheckpoint, Family]:
    """Build the segd model an official file describes and load it through the family's table.

    part "model": the whole segmentor; the class count comes from its classifier (num_classes, if given, must
    agree). part "backbone": only the backbone's tensors are required; the rest of the model (built for
    `num_classes`) keeps its initialisation. `skip` adds regexes of source keys to leave out (reported)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, got {part!r}")
    if family is not None and family not in FAMILIES:
        raise ImportRefused(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    ck = source if isinstance(source, OfficialCheckpoint) else read_official(source)
    fam = FAMILIES[family] if family else detect_family(ck)
    arch = fam.arch(ck)
    fam.check(ck, arch)
    rules = [*(Rule(rx, None, why="--skip") for rx in skip), *fam.rules(part, arch)]
    if part == "model":
        k = _num_classes(ck, fam)
        if num_classes is not None and num_classes != k:
            raise ImportRefused(f"{ck.path}: the checkpoint's classifier ({fam.classifier[0]}) predicts {k} classes, "
                                f"{num_classes} were asked for")
        optional = fam.optional
    else:
        if num_classes is None:
            raise ValueError("a backbone-only import needs num_classes for the new head")
        k = num_classes
        optional = lambda key: not key.startswith("backbone.") or fam.optional(key)   # noqa: E731 - new head
    model = build_model(arch, k)
    report = apply_table(model, ck.state, rules, source_name=str(ck.path), optional=optional)
    return model.eval(), arch, report, ck, fam


def init_model(model: nn.Module, arch: str, path: str | Path, *, part: str, family: str | None = None) -> ImportReport:
    """Start a training run's `model` (registry name `arch`) from an official file: its backbone only, or the
    whole model — when the file's classifier predicts another number of classes (Cityscapes → CamVid), its
    classifiers are left out (reported) and the model's new ones keep their initialisation."""
    if part not in PARTS:
        raise ValueError(f"init_part must be one of {PARTS}, got {part!r}")
    if family is not None and family not in FAMILIES:
        raise ImportRefused(f"unknown family {family!r}; expected one of {', '.join(FAMILIES)}")
    ck = read_official(path)
    fam = FAMILIES[family] if family else detect_family(ck)
    if part == "backbone" and family is None and not re.fullmatch(fam.serves, arch):
        # an ImageNet file another family also reads (STDCNet813 for sfnet-stdc1): that family's table decides
        fam = next((f for f in FAMILIES.values() if re.fullmatch(f.serves, arch)), fam)
    held = fam.arch(ck)
    if (fam.trunk(held) != fam.trunk(arch)) if part == "backbone" else held != arch:
        raise ImportRefused(f"{ck.path}: holds {held}, the recipe trains {arch}")
    fam.check(ck, arch)
    if part == "backbone":
        return apply_table(model, ck.state, fam.rules("backbone", arch), source_name=str(ck.path),
                           optional=lambda key: not key.startswith("backbone.") or fam.optional(key))
    rules = fam.rules("model", arch)
    new_head = _num_classes(ck, fam) != model.state_dict()[fam.classifier[0]].shape[0]
    if new_head:
        rules = [Rule(fam.source_classifiers, None, why="classifier for another class count, replaced"), *rules]
    classifier_keys = {k for k in model.state_dict() if re.fullmatch(fam.new_classifiers, k)} if new_head else set()
    return apply_table(model, ck.state, rules, source_name=str(ck.path),
                       optional=lambda key: fam.optional(key) or key in classifier_keys)


__all__ = ["FAMILIES", "Family", "ImportRefused", "ImportReport", "OfficialCheckpoint", "detect_family",
           "init_model", "load_official", "read_official"]
