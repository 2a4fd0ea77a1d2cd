"""SegFormer in mmseg 0.x's own layout (mmseg's `MixVisionTransformer` + `SegformerHead`: the mmseg model zoo, and
SCTNet's SegFormer teachers `Teacher_SegFormer_B*.pth`) → segd's `segformer-b*` (models/segformer.py).

Source modules (mmseg/models/backbones/mit.py, decode_heads/segformer_head.py, mmseg 0.26):
`backbone.layers.{i}.0` PatchEmbed (projection, norm), `backbone.layers.{i}.1.{j}` TransformerEncoderLayer
(norm1, attn.attn = nn.MultiheadAttention with packed `in_proj_weight` [q; k; v], attn.attn.out_proj, attn.sr,
attn.norm, norm2, ffn.layers.{0,1,4} = 1×1, depthwise 3×3, 1×1 convs), `backbone.layers.{i}.2` the stage norm;
`decode_head.convs.{i}.{conv,bn}`, `decode_head.fusion_conv.{conv,bn}`, `decode_head.conv_seg`.
"""
from __future__ import annotations

import torch

from .keytable import Rule, rows

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
P = r"(weight|bias)"


def backbone_rules(prefix: str = r"(?:backbone\.)?") -> list[Rule]:
    s = rf"{prefix}layers\.(\d)\."
    blk = rf"{s}1\.(\d+)\."
    dst = r"backbone.stages.\1.blocks.\2."
    return [
        Rule(rf"{s}0\.projection\.{P}", r"backbone.stages.\1.patch_embed.proj.\2"),
        Rule(rf"{s}0\.norm\.{P}", r"backbone.stages.\1.patch_embed.norm.\2"),
        Rule(rf"{blk}(norm[12])\.{P}", dst + r"\3.\4"),
        # nn.MultiheadAttention packs [q; k; v] along dim 0; segd keeps q and [k; v].
        Rule(rf"{blk}attn\.attn\.in_proj_(weight|bias)", dst + r"attn.q.\3", transform=rows((0, 3), (1, 3)),
             split=((dst + r"attn.kv.\3", rows((1, 3), (3, 3))),)),
        Rule(rf"{blk}attn\.attn\.out_proj\.{P}", dst + r"attn.proj.\3"),
        Rule(rf"{blk}attn\.(sr|norm)\.{P}", dst + r"attn.\3.\4"),
        Rule(rf"{blk}ffn\.layers\.0\.{P}", dst + r"ffn.fc1.\3"),
        Rule(rf"{blk}ffn\.layers\.1\.{P}", dst + r"ffn.dwconv.\3"),
        Rule(rf"{blk}ffn\.layers\.4\.{P}", dst + r"ffn.fc2.\3"),
        Rule(rf"{s}2\.{P}", r"backbone.stages.\1.norm.\2"),
    ]


def model_rules() -> list[Rule]:
    return [
        *backbone_rules(r"backbone\."),
        Rule(r"decode_head\.convs\.(\d)\.conv\.weight", r"head.convs.\1.0.conv.weight"),
        Rule(rf"decode_head\.convs\.(\d)\.bn\.{BN}", r"head.convs.\1.0.bn.\2"),
        Rule(r"decode_head\.fusion_conv\.conv\.weight", "head.fusion_conv.0.conv.weight"),
        Rule(rf"decode_head\.fusion_conv\.bn\.{BN}", r"head.fusion_conv.0.bn.\1"),
        Rule(rf"decode_head\.conv_seg\.{P}", r"head.cls_seg.1.\1"),
        Rule(r"auxiliary_head\..*", None, why="auxiliary head, training-only"),
    ]


def variant(state: dict[str, torch.Tensor], prefix: str = "backbone.") -> str:
    """segformer-b0…b5 from the first stage's width and the number of blocks per stage."""
    from ..models.segformer_mlp import MIT_SPECS_ALL
    w = state.get(f"{prefix}layers.0.0.projection.weight")
    if w is None:
        raise KeyError(f"{prefix}layers.0.0.projection.weight")
    depths = tuple(len({k.split(".")[len(prefix.split(".")) + 2] for k in state
                        if k.startswith(f"{prefix}layers.{i}.1.")}) for i in range(4))
    for name, spec in MIT_SPECS_ALL.items():
        if spec.widths[0] == int(w.shape[0]) and spec.depths == depths:
            return f"segformer-{name}"
    return f"no MiT variant with width {int(w.shape[0])} and depths {depths}"


def optional(key: str) -> bool:
    return False
