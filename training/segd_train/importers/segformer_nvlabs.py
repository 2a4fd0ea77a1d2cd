"""SegFormer in NVlabs/SegFormer's own layout (its mmseg 0.11 fork: `mix_transformer.py` + `SegFormerHead`; the
released `segformer.b*.*.city.160k.pth` / `*.ade.160k.pth` files and the ImageNet `mit_b*.pth`) → segd's
`segformer-nv-b*` (models/segformer_mlp.py, flavour "nvlabs": LayerNorm eps 1e-6 in the blocks and stage norms).

Source modules: `backbone.patch_embed{1..4}.{proj,norm}`, `backbone.block{1..4}.{j}.{norm1, attn.{q,kv,proj,sr,norm},
norm2, mlp.{fc1, dwconv.dwconv, fc2}}`, `backbone.norm{1..4}`; `decode_head.linear_c{1..4}.proj` (nn.Linear),
`decode_head.linear_fuse.{conv,bn}` (ConvModule), `decode_head.linear_pred` (the classifier) and
`decode_head.conv_seg` (built by BaseDecodeHead, never run by SegFormerHead). The ImageNet files hold the backbone
names without `backbone.` plus the classifier `head.{weight,bias}`.
"""
from __future__ import annotations

import re

import torch

from .keytable import Rule, linear_to_conv1x1

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
P = r"(weight|bias)"
_BLOCK = re.compile(r"(?:backbone\.)?block(\d)\.(\d+)\..*")


def backbone_rules(prefix: str = r"(?:backbone\.)?") -> list[Rule]:
    rules: list[Rule] = []
    for i in range(4):   # NVlabs counts stages 1…4, segd 0…3
        s, d = f"{prefix}", f"backbone.stages.{i}."
        blk = rf"{s}block{i + 1}\.(\d+)\."
        b = d + r"blocks.\1."
        rules += [
            Rule(rf"{s}patch_embed{i + 1}\.proj\.{P}", d + r"patch_embed.proj.\1"),
            Rule(rf"{s}patch_embed{i + 1}\.norm\.{P}", d + r"patch_embed.norm.\1"),
            Rule(rf"{blk}(norm[12])\.{P}", b + r"\2.\3"),
            Rule(rf"{blk}attn\.(q|kv|proj|sr|norm)\.{P}", b + r"attn.\2.\3"),
            Rule(rf"{blk}mlp\.fc([12])\.{P}", b + r"ffn.fc\2.\3", transform=linear_to_conv1x1),
            Rule(rf"{blk}mlp\.dwconv\.dwconv\.{P}", b + r"ffn.dwconv.\2"),
            Rule(rf"{s}norm{i + 1}\.{P}", d + r"norm.\1"),
        ]
    return rules


def model_rules() -> list[Rule]:
    return [
        *backbone_rules(r"backbone\."),
        *(Rule(rf"decode_head\.linear_c{k + 1}\.proj\.{P}", rf"head.linear_c.{k}.\1", transform=linear_to_conv1x1)
          for k in range(4)),
        Rule(r"decode_head\.linear_fuse\.conv\.weight", "head.fusion_conv.0.conv.weight"),
        Rule(rf"decode_head\.linear_fuse\.bn\.{BN}", r"head.fusion_conv.0.bn.\1"),
        Rule(rf"decode_head\.linear_pred\.{P}", r"head.cls_seg.1.\1"),
        Rule(r"decode_head\.conv_seg\..*", None, why="BaseDecodeHead's conv_seg, never run by SegFormerHead"),
        Rule(r"auxiliary_head\..*", None, why="auxiliary head, training-only"),
    ]


def variant(state: dict[str, torch.Tensor]) -> str:
    """segformer-nv-b0…b5 from the first stage's width and the blocks per stage."""
    from ..models.segformer_mlp import MIT_SPECS_ALL
    prefix = "backbone." if "backbone.patch_embed1.proj.weight" in state else ""
    w = state.get(f"{prefix}patch_embed1.proj.weight")
    if w is None:
        return "no backbone.patch_embed1.proj.weight (nor patch_embed1.proj.weight), the MiT patch embedding"
    blocks: dict[int, set[int]] = {}
    for k in state:
        if (m := _BLOCK.fullmatch(k)) and k.startswith(prefix):
            blocks.setdefault(int(m.group(1)), set()).add(int(m.group(2)))
    depths = tuple(len(blocks.get(i, ())) for i in range(1, 5))
    for name, spec in MIT_SPECS_ALL.items():
        if spec.widths[0] == int(w.shape[0]) and spec.depths == depths:
            return f"segformer-nv-{name}"
    return f"no MiT variant with width {int(w.shape[0])} and depths {depths}"


def optional(key: str) -> bool:
    return False
