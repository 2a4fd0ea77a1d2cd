"""STDC-Seg (MichaelFan01/STDC-Seg, its own layout) → segd's `stdc1-seg` / `stdc2-seg`; STDCNet813/1446 ImageNet
files → their backbones.

Source modules (nets/stdcnet.py, models/model_stages.py of the official repository). A segmentor (`BiSeNet`,
saved as `model_maxmIOU50.pth` / `model_maxmIOU75.pth`) holds:
- `cp.backbone.features.{i}`: ConvX stems (i = 0, 1: conv, bn) then CatBottlenecks (`conv_list.{0..3}.{conv,bn}`,
  stride-2 ones add `avd_layer.{0,1}`, the depthwise conv + BN); stage sizes 2/2/2 (STDC1) or 4/5/3 (STDC2);
- `cp.backbone.x2 … x32`: the same modules registered a second time (`nn.Sequential(self.features[a:b])`), so
  every backbone tensor is saved twice; the copy must equal `features.{i}` (checked) and is skipped;
- `cp.backbone.{conv_last,fc,bn,linear}`: the ImageNet classifier, built but not run (`use_conv_last=False`);
- `cp.{arm16,arm32}.{conv.{conv,bn},conv_atten,bn_atten}`, `cp.conv_head{32,16}`, `cp.conv_avg` (context path);
  `ffm.{convblk,conv1,conv2}`; `conv_out` (main head), `conv_out16`, `conv_out32` (aux heads), `conv_out_sp{2,4,8,16}`
  (detail heads; the released recipe trains `sp8` only). Heads use InPlaceABNSync: weight, bias, running_mean,
  running_var and no `num_batches_tracked`.
An ImageNet file (`STDCNet813M_73.91.tar`, `STDCNet1446_76.47.tar`, read by the official `init_weight` as
`torch.load(f)["state_dict"]`) holds the backbone's own names (`features.*`, possibly the `x*` copies and the
classifier) without the `cp.backbone.` prefix.
"""
from __future__ import annotations

import re

import torch

from .keytable import ImportRefused, Rule

BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"
STAGES = {"stdc1-seg": (2, 2, 2), "stdc2-seg": (4, 5, 3)}
_FEATURES = re.compile(r"(?:cp\.backbone\.)?features\.(\d+)\..*")


def _layout(arch: str) -> list[tuple[str, str]]:
    """features index i → (segd backbone module, official alias module). A slice of an nn.Sequential keeps
    the original indices, so STDC2's features.6 is stage4.0 and x16.0.6."""
    out = [("stem1", "x2.0.0"), ("stem2", "x4.0.1")]
    for stage, alias, n in zip(("stage3", "stage4", "stage5"), ("x8", "x16", "x32"), STAGES[arch]):
        out += [(f"{stage}.{j}", f"{alias}.0.{len(out) + j}") for j in range(n)]
    return out


def backbone_rules(arch: str, prefix: str = r"(?:cp\.backbone\.)?", dst_prefix: str = "backbone.") -> list[Rule]:
    """STDCNet813/1446 (`stdc1-seg`/`stdc2-seg` name the stage layout) → segd's STDCNet at `dst_prefix`."""
    p = prefix
    rules: list[Rule] = []
    for i, (dst, _) in enumerate(_layout(arch)):
        d = f"{dst_prefix}{dst}"
        if i < 2:
            rules += [Rule(rf"{p}features\.{i}\.conv\.weight", f"{d}.conv.conv.weight"),
                      Rule(rf"{p}features\.{i}\.bn\.{BN}", rf"{d}.conv.bn.\1")]
            continue
        for n in range(4):
            rules += [Rule(rf"{p}features\.{i}\.conv_list\.{n}\.conv\.weight", f"{d}.b{n + 1}.conv.conv.weight"),
                      Rule(rf"{p}features\.{i}\.conv_list\.{n}\.bn\.{BN}", rf"{d}.b{n + 1}.conv.bn.\1")]
        rules += [Rule(rf"{p}features\.{i}\.avd_layer\.0\.weight", f"{d}.down.conv.weight"),
                  Rule(rf"{p}features\.{i}\.avd_layer\.1\.{BN}", rf"{d}.down.bn.\1")]
    return [*rules,
            Rule(rf"{p}x(2|4|8|16|32)\..*", None,
                 why="STDCNet's x2…x32: the features.N tensors registered a second time (checked equal)"),
            Rule(rf"{p}(conv_last|fc|bn|linear)\..*", None,
                 why="STDCNet's ImageNet classifier (conv_last, fc, bn, linear), not run for segmentation")]


def _cbr(src: str, dst: str) -> list[Rule]:
    """ConvBNReLU: (conv, bn) → segd CBR (conv: ConvBN)."""
    return [Rule(rf"{src}\.conv\.weight", f"{dst}.conv.conv.weight"), Rule(rf"{src}\.bn\.{BN}", rf"{dst}.conv.bn.\1")]


def _output(src: str, dst: str) -> list[Rule]:
    """BiSeNetOutput: ConvBNReLU `conv` + 1×1 `conv_out` → segd OutputHead (conv, cls)."""
    return [*_cbr(rf"{src}\.conv", f"{dst}.conv"), Rule(rf"{src}\.conv_out\.weight", f"{dst}.cls.weight")]


def model_rules(arch: str) -> list[Rule]:
    return [
        *backbone_rules(arch, r"cp\.backbone\."),
        *_cbr(r"cp\.conv_avg", "context.global_context"),
        *(r for a in ("16", "32") for r in (
            *_cbr(rf"cp\.arm{a}\.conv", f"context.arm{a}.conv"),
            Rule(rf"cp\.arm{a}\.conv_atten\.weight", f"context.arm{a}.atten.conv.weight"),
            Rule(rf"cp\.arm{a}\.bn_atten\.{BN}", rf"context.arm{a}.atten.bn.\1"))),
        *_cbr(r"cp\.conv_head32", "context.head32"),
        *_cbr(r"cp\.conv_head16", "context.head16"),
        *_cbr(r"ffm\.convblk", "ffm.conv"),
        Rule(r"ffm\.conv1\.weight", "ffm.squeeze.weight"),
        Rule(r"ffm\.conv2\.weight", "ffm.excite.weight"),
        *_output(r"conv_out", "head"),
        *_output(r"conv_out16", "aux16"),
        *_output(r"conv_out32", "aux32"),
        *_output(r"conv_out_sp8", "detail"),
        Rule(r"conv_out_sp(2|4|16)\..*", None,
             why="detail heads on feat2/feat4/feat16, training-only and unused by the released recipe"),
    ]


def variant(state: dict[str, torch.Tensor]) -> str:
    """stdc1-seg (8 `features` modules) or stdc2-seg (14), from the backbone's module count."""
    idx = {int(m.group(1)) for k in state if (m := _FEATURES.fullmatch(k))}
    n = max(idx) + 1 if idx else 0
    for arch, stages in STAGES.items():
        if n == 2 + sum(stages) and idx == set(range(n)):
            return arch
    return f"no STDCNet with {n} features modules (STDC1 has 8, STDC2 has 14)"


def check_aliases(state: dict[str, torch.Tensor], arch: str, prefix: str | None = None) -> None:
    """The `x2`…`x32` copies are the modules the official forward runs; a file where one differs from its
    `features.N` twin would run other weights than the ones imported, so it is refused."""
    if prefix is None:
        prefix = "cp.backbone." if any(k.startswith("cp.backbone.") for k in state) else ""
    bad = []
    for i, (_, alias) in enumerate(_layout(arch)):
        head = f"{prefix}{alias}."
        for k, v in state.items():
            if k.startswith(head):
                twin = f"{prefix}features.{i}.{k[len(head):]}"
                if twin in state and not torch.equal(state[twin], v):
                    bad.append(f"{k} ≠ {twin}")
    if bad:
        raise ImportRefused(f"STDCNet copies that differ from features.N (the official model would run them): "
                            f"{', '.join(bad[:6])}")


def optional(key: str) -> bool:
    """InPlaceABN keeps no `num_batches_tracked`; segd's BatchNorm2d does (unused in eval)."""
    return key.endswith(".num_batches_tracked")
