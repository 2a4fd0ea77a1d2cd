"""SFNet / SFNet-Lite (lxtGH/SFSegNets, its own layout) → segd's `sfnet-{r18,stdc1,stdc2}` and
`sfnet-lite-{r18,stdc1,stdc2}`.

Source modules (network/sfnet_resnet.py, sfnet_stdcnet.py, resnet_d.py, stdcnet.py, nn/operators.py):
- ResNet-18-D trunk (`AlignNetResNet`): `layer0` = Sequential(conv1 = Sequential(conv, BN, ReLU, conv, BN, ReLU,
  conv), bn1, relu, maxpool) → `layer0.0.{0,1,3,4,6}`, `layer0.1`; `layer{1..4}.{j}.{conv1,bn1,conv2,bn2}` and
  `.downsample.{0,1}`. The ImageNet file `resnet18-deep-inplane128.pth` is the plain `ResNet` state dict
  (`conv1.{0,1,3,4,6}`, `bn1`, `layer*`, `fc`).
- STDC trunk (`AlignNetSTDCnet`): `backbone.` + the STDCNet813/1446 layout (see importers/stdc.py).
- v1 head (`UperNetAlignHead`): `head.ppm.stages.{i}.{1,2}` (pool, conv, BN), `head.ppm.bottleneck.{0,1}`,
  `head.fpn_in.{i}.{0,1}` (conv with bias, BN), `head.fpn_out.{i}.0.{0,1}`, `head.fpn_out_align.{i}.{down_h,down_l,
  flow_make}` (AlignedModule), `head.conv_last.0.{0,1}` and `head.conv_last.1` (the classifier); `head.dsn.{i}.{0,1,4}`
  when trained with fpn_dsn.
- Lite head (`UperNetAlignHeadV2`, fa_type "spatial_atten"): `head.fpn_in.{0,1[,2]}`, `head.flow_align_module.{down_h,
  down_l,flow_make,flow_gate.0}` (AlignedModulev2PoolingAtten), `head.dsn.{0,1,4}` (DSN head, training-only),
  `head.conv_last`. With ResNet-18 the head builds a third `fpn_in` (512 → 128) that its forward never runs.
"""
from __future__ import annotations

import torch

from . import stdc
from .keytable import ImportRefused, Rule

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
P = r"(weight|bias)"
B = "backbone.body."


def resnet_rules() -> list[Rule]:
    """ResNet-18-D's residual layers: the same names in a segmentor and in the ImageNet file."""
    return [
        Rule(r"(layer[1-4])\.(\d)\.(conv[12])\.weight", B + r"\1.\2.\3.conv.weight"),
        Rule(rf"(layer[1-4])\.(\d)\.bn([12])\.{BN}", B + r"\1.\2.conv\3.bn.\4"),
        Rule(r"(layer[1-4])\.(\d)\.downsample\.0\.weight", B + r"\1.\2.downsample.conv.weight"),
        Rule(rf"(layer[1-4])\.(\d)\.downsample\.1\.{BN}", B + r"\1.\2.downsample.bn.\3"),
    ]


def _stem(conv: str, last_bn: str) -> list[Rule]:
    """The deep stem: conv, BN, ReLU, conv, BN, ReLU, conv (+ the trunk's bn1) → segd stem.{0,2,4}."""
    return [
        Rule(rf"{conv}\.0\.weight", B + "stem.0.conv.weight"), Rule(rf"{conv}\.1\.{BN}", B + r"stem.0.bn.\1"),
        Rule(rf"{conv}\.3\.weight", B + "stem.2.conv.weight"), Rule(rf"{conv}\.4\.{BN}", B + r"stem.2.bn.\1"),
        Rule(rf"{conv}\.6\.weight", B + "stem.4.conv.weight"), Rule(rf"{last_bn}\.{BN}", B + r"stem.4.bn.\1"),
    ]


def backbone_rules(arch: str) -> list[Rule]:
    """The backbone of a segmentor file, or an ImageNet file (ResNet-18-D deep-stem / STDCNet)."""
    trunk = arch.rsplit("-", 1)[1]
    if trunk == "r18":
        return [*_stem(r"(?:layer0\.0|conv1)", r"(?:layer0\.1|bn1)"), *resnet_rules(),
                Rule(r"fc\.(weight|bias)", None, why="ResNet's ImageNet classifier")]
    return stdc.backbone_rules(f"{trunk}-seg", r"(?:backbone\.)?", B)


def head_rules(arch: str) -> list[Rule]:
    lite = arch.startswith("sfnet-lite-")
    h = r"head\."
    rules = [
        Rule(rf"{h}ppm\.stages\.(\d)\.1\.weight", r"head.ppm.stages.\1.conv.weight"),
        Rule(rf"{h}ppm\.stages\.(\d)\.2\.{BN}", r"head.ppm.stages.\1.bn.\2"),
        Rule(rf"{h}ppm\.bottleneck\.0\.weight", "head.ppm.bottleneck.0.conv.weight"),
        Rule(rf"{h}ppm\.bottleneck\.1\.{BN}", r"head.ppm.bottleneck.0.bn.\1"),
        Rule(rf"{h}conv_last\.0\.0\.weight", "head.conv_last.0.conv.weight"),
        Rule(rf"{h}conv_last\.0\.1\.{BN}", r"head.conv_last.0.bn.\1"),
        Rule(rf"{h}conv_last\.1\.{P}", r"head.conv_seg.\1"),
    ]
    fpn_in = "[01]" if lite else r"\d"
    rules += [Rule(rf"{h}fpn_in\.({fpn_in})\.0\.{P}", r"head.fpn_in.\1.0.conv.\2"),
              Rule(rf"{h}fpn_in\.({fpn_in})\.1\.{BN}", r"head.fpn_in.\1.0.bn.\2")]
    if lite:
        return [*rules,
                Rule(rf"{h}flow_align_module\.(down_h|down_l|flow_make)\.weight", r"head.flow_align_module.\1.weight"),
                Rule(rf"{h}flow_align_module\.flow_gate\.0\.weight", "head.flow_align_module.flow_gate.weight"),
                Rule(rf"{h}fpn_in\.2\..*", None, why="SFNet-Lite R18's third fpn_in (512 → d), never run"),
                Rule(rf"{h}dsn\..*", None, why="DSN head, training-only")]
    return [*rules,
            Rule(rf"{h}fpn_out\.(\d)\.0\.0\.weight", r"head.fpn_out.\1.0.conv.weight"),
            Rule(rf"{h}fpn_out\.(\d)\.0\.1\.{BN}", r"head.fpn_out.\1.0.bn.\2"),
            Rule(rf"{h}fpn_out_align\.(\d)\.(down_h|down_l|flow_make)\.weight", r"head.fpn_out_align.\1.\2.weight"),
            Rule(rf"{h}dsn\..*", None, why="DSN heads (fpn_dsn), training-only")]


def model_rules(arch: str) -> list[Rule]:
    trunk = arch.rsplit("-", 1)[1]
    if trunk == "r18":
        back = [*_stem(r"layer0\.0", r"layer0\.1"), *resnet_rules()]
    else:
        back = stdc.backbone_rules(f"{trunk}-seg", r"backbone\.", B)
    return [*back, *head_rules(arch)]


def variant(state: dict[str, torch.Tensor]) -> str:
    """sfnet[-lite]-{r18,stdc1,stdc2}: Lite by its single gated flow module, trunk by its keys."""
    lite = any(k.startswith("head.flow_align_module.") for k in state)
    v1 = any(k.startswith("head.fpn_out_align.") for k in state)
    if lite and v1:
        return "both an SFNet (head.fpn_out_align.*) and an SFNet-Lite (head.flow_align_module.*) head"
    # no head at all: an ImageNet backbone file, named after the v1 model on that trunk (see `trunk`)
    if "layer0.0.0.weight" in state or "conv1.6.weight" in state:
        trunk = "r18"
    else:
        name = stdc.variant({k.removeprefix("backbone."): v for k, v in state.items()})
        if not name.startswith("stdc"):
            return f"an SFNet head on an unknown trunk (no layer0.0.0.weight; backbone: {name})"
        trunk = name.removesuffix("-seg")
    return f"sfnet-{'lite-' if lite else ''}{trunk}"


def check(state: dict[str, torch.Tensor], arch: str) -> None:
    if "stdc" in arch:
        prefix = "backbone." if any(k.startswith("backbone.") for k in state) else ""
        stdc.check_aliases(state, trunk(arch) + "-seg", prefix)


def trunk(arch: str) -> str:
    """What a backbone-only file must match: sfnet-lite-stdc1 and sfnet-stdc1 share the stdc1 trunk."""
    return arch.rsplit("-", 1)[-1]


def optional(key: str) -> bool:
    return False


__all__ = ["ImportRefused", "backbone_rules", "check", "head_rules", "model_rules", "optional", "trunk", "variant"]
