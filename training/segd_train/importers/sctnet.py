"""SCTNet (xzz777/SCTNet, mmseg 0.26 layout) → segd's `sctnet-s` / `sctnet-b`.

Source modules (mmseg/models/backbones/sctnet.py, decode_heads/sct_head*.py of the official repository):
`backbone.conv1` (conv, BN, ReLU, conv, BN, ReLU), `backbone.layer{1,2,3}.{i}.{conv,bn}{1,2}` and
`.downsample.{0,1}`, CFBlocks `backbone.{layer3_2,layer4,layer5}.attn_l.{norm,kv,kv3}` / `.mlp_l.{norm,conv1,conv2}`,
`backbone.convdown4.{0,1}`, DAPPM `backbone.spp.{scale0..4,process1..4,compression,shortcut}`,
`decode_head.{bn1,conv1,bn2,conv_seg}`, `auxiliary_head.0` (AU_SCTHead, same shape as the decode head) and
`auxiliary_head.1` (VitGuidanceHead: the SegFormer teacher and its alignment projections).
An ImageNet backbone file (`SCT-S_Pretrain.pth`, loaded by the official config as the backbone's init_cfg)
holds the same `backbone.` tensors, or the same names without the prefix.
"""
from __future__ import annotations

import torch

from .keytable import Rule

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
P = r"(weight|bias)"


def backbone_rules(prefix: str = "backbone\\.") -> list[Rule]:
    b = prefix
    return [
        Rule(rf"{b}conv1\.0\.{P}", r"backbone.stem.0.conv.\1"),
        Rule(rf"{b}conv1\.1\.{BN}", r"backbone.stem.0.bn.\1"),
        Rule(rf"{b}conv1\.3\.{P}", r"backbone.stem.2.conv.\1"),
        Rule(rf"{b}conv1\.4\.{BN}", r"backbone.stem.2.bn.\1"),
        Rule(rf"{b}(layer[123])\.(\d+)\.conv([12])\.{P}", r"backbone.\1.\2.conv\3.conv.\4"),
        Rule(rf"{b}(layer[123])\.(\d+)\.bn([12])\.{BN}", r"backbone.\1.\2.conv\3.bn.\4"),
        Rule(rf"{b}(layer[123])\.(\d+)\.downsample\.0\.{P}", r"backbone.\1.\2.downsample.conv.\3"),
        Rule(rf"{b}(layer[123])\.(\d+)\.downsample\.1\.{BN}", r"backbone.\1.\2.downsample.bn.\3"),
        Rule(rf"{b}(layer3_2|layer4|layer5)\.attn_l\.norm\.{BN}", r"backbone.\1.attn.norm.\2"),
        Rule(rf"{b}(layer3_2|layer4|layer5)\.attn_l\.kv", r"backbone.\1.attn.kv"),
        Rule(rf"{b}(layer3_2|layer4|layer5)\.attn_l\.kv3", r"backbone.\1.attn.kh"),
        Rule(rf"{b}(layer3_2|layer4|layer5)\.mlp_l\.norm\.{BN}", r"backbone.\1.mlp.norm.\2"),
        Rule(rf"{b}(layer3_2|layer4|layer5)\.mlp_l\.(conv[12])\.{P}", r"backbone.\1.mlp.\2.\3"),
        Rule(rf"{b}convdown4\.0\.{P}", r"backbone.convdown4.0.conv.\1"),
        Rule(rf"{b}convdown4\.1\.{BN}", r"backbone.convdown4.0.bn.\1"),
        # DAPPM: the same Sequential indices (pool, BN, ReLU, conv / BN, ReLU, conv); process1..4 → process.0..3.
        Rule(rf"{b}spp\.(scale[0-4]|compression|shortcut)\.(\d)\.{BN}", r"backbone.spp.\1.\2.\3"),
        *(Rule(rf"{b}spp\.process{i + 1}\.(\d)\.{BN}", rf"backbone.spp.process.{i}.\1.\2") for i in range(4)),
    ]


def _head(src: str, dst: str) -> list[Rule]:
    return [
        Rule(rf"{src}\.bn1\.{BN}", rf"{dst}.bn1.\1"),
        Rule(rf"{src}\.conv1\.{P}", rf"{dst}.conv.conv.\1"),
        Rule(rf"{src}\.bn2\.{BN}", rf"{dst}.conv.bn.\1"),
        Rule(rf"{src}\.conv_seg\.{P}", rf"{dst}.conv_seg.\1"),
    ]


def model_rules() -> list[Rule]:
    """A whole mmseg SCTNet segmentor checkpoint (the released Cityscapes / ADE20K / COCO-Stuff models)."""
    return [*backbone_rules(), *_head(r"decode_head", "head"), *_head(r"auxiliary_head\.0", "aux_head"),
            Rule(r"auxiliary_head\.1\..*", None, why="VitGuidanceHead: the SegFormer teacher and SIAM projections, "
                                                    "training-only"),
            Rule(r"(teacher_backbone|teacher_head)\..*", None, why="distillation teacher, training-only")]


def variant(state: dict[str, torch.Tensor], prefix: str = "backbone.") -> str:
    """sctnet-s (C = 32) or sctnet-b (C = 64), read from the stem's first conv."""
    w = state.get(f"{prefix}conv1.0.weight")
    if w is None:
        raise KeyError(f"{prefix}conv1.0.weight")
    return {32: "sctnet-s", 64: "sctnet-b"}.get(int(w.shape[0]), f"unknown SCTNet width C={int(w.shape[0])}")


def optional(key: str) -> bool:
    """segd tensors a released SCTNet checkpoint may lack: the training-only auxiliary head."""
    return key.startswith("aux_head.")
