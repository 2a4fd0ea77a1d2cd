"""Hugging Face `transformers` SegformerForSemanticSegmentation (e.g. nvidia/segformer-b0-finetuned-cityscapes-1024-1024)
→ segd's `segformer-mlp-b*` (models/segformer_mlp.py, flavour "hf").

Source modules (transformers/models/segformer/modeling_segformer.py): `segformer.encoder.patch_embeddings.{i}`
(proj, layer_norm), `segformer.encoder.block.{i}.{j}` (layer_norm_1, attention.self.{query,key,value,sr,layer_norm},
attention.output.dense, layer_norm_2, mlp.{dense1,dwconv.dwconv,dense2}), `segformer.encoder.layer_norm.{i}`,
`decode_head.linear_c.{i}.proj`, `decode_head.linear_fuse`, `decode_head.batch_norm`, `decode_head.classifier`.
A backbone-only model (SegformerModel / the ImageNet `nvidia/mit-b*` files) has the encoder keys without the
`segformer.` prefix or with it.
"""
from __future__ import annotations

from typing import Any

from .keytable import Rule, linear_to_conv1x1

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
P = r"(weight|bias)"


def backbone_rules(prefix: str = r"(?:segformer\.)?") -> list[Rule]:
    e = rf"{prefix}encoder\."
    blk = rf"{e}block\.(\d)\.(\d+)\."
    dst = r"backbone.stages.\1.blocks.\2."
    return [
        Rule(rf"{e}patch_embeddings\.(\d)\.proj\.{P}", r"backbone.stages.\1.patch_embed.proj.\2"),
        Rule(rf"{e}patch_embeddings\.(\d)\.layer_norm\.{P}", r"backbone.stages.\1.patch_embed.norm.\2"),
        Rule(rf"{blk}layer_norm_1\.{P}", dst + r"norm1.\3"),
        Rule(rf"{blk}layer_norm_2\.{P}", dst + r"norm2.\3"),
        Rule(rf"{blk}attention\.self\.query\.{P}", dst + r"attn.q.\3"),
        Rule(rf"{blk}attention\.self\.key\.{P}", dst + r"attn.kv.\3", part=(0, 2)),
        Rule(rf"{blk}attention\.self\.value\.{P}", dst + r"attn.kv.\3", part=(1, 2)),
        Rule(rf"{blk}attention\.self\.sr\.{P}", dst + r"attn.sr.\3"),
        Rule(rf"{blk}attention\.self\.layer_norm\.{P}", dst + r"attn.norm.\3"),
        Rule(rf"{blk}attention\.output\.dense\.{P}", dst + r"attn.proj.\3"),
        Rule(rf"{blk}mlp\.dense1\.{P}", dst + r"ffn.fc1.\3", transform=linear_to_conv1x1),
        Rule(rf"{blk}mlp\.dwconv\.dwconv\.{P}", dst + r"ffn.dwconv.\3"),
        Rule(rf"{blk}mlp\.dense2\.{P}", dst + r"ffn.fc2.\3", transform=linear_to_conv1x1),
        Rule(rf"{e}layer_norm\.(\d)\.{P}", r"backbone.stages.\1.norm.\2"),
    ]


def model_rules() -> list[Rule]:
    return [
        *backbone_rules(r"segformer\."),
        Rule(rf"decode_head\.linear_c\.(\d)\.proj\.{P}", r"head.linear_c.\1.\2", transform=linear_to_conv1x1),
        Rule(r"decode_head\.linear_fuse\.weight", "head.fusion_conv.0.conv.weight"),
        Rule(rf"decode_head\.batch_norm\.{BN}", r"head.fusion_conv.0.bn.\1"),
        Rule(rf"decode_head\.classifier\.{P}", r"head.cls_seg.1.\1"),
    ]


def variant(config: dict[str, Any]) -> tuple[str, int]:
    """(registry name, decoder channels) from config.json: MiT-B0…B5 by widths and depths."""
    from ..models.segformer_mlp import DECODER_CHANNELS, MIT_SPECS_ALL
    widths, depths = tuple(config.get("hidden_sizes", ())), tuple(config.get("depths", ()))
    for name, spec in MIT_SPECS_ALL.items():
        if spec.widths == widths and spec.depths == depths:
            channels = int(config.get("decoder_hidden_size", DECODER_CHANNELS[name]))
            if channels != DECODER_CHANNELS[name]:
                raise ValueError(f"config.json: decoder_hidden_size {channels} differs from the released "
                                 f"MiT-{name.upper()} models' {DECODER_CHANNELS[name]}")
            return f"segformer-mlp-{name}", channels
    raise ValueError(f"config.json: hidden_sizes {list(widths)} / depths {list(depths)} match no MiT-B0…B5")


def optional(key: str) -> bool:
    return False
