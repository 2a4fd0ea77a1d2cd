"""Explicit key tables: every tensor of an official checkpoint goes through one rule, or the import is refused.

A `Rule` matches a source key (a full regular expression) and says where its tensor goes in the segd model
(`dst`, a template over the match groups), how it is reshaped on the way (`transform`), and — for a tensor
that segd keeps as one piece but the source splits (HF's separate key/value projections) — which `part` of
the destination it is. A rule with `dst=None` names a part the source carries and segd deliberately leaves
out (auxiliary heads of other methods, the distillation teacher): it is reported as skipped, never silently
dropped. `apply_table` checks the result against the model's own state dict: any source key no rule claims,
any model tensor nothing fills, and any shape that differs are errors that name the keys.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

Transform = Callable[[torch.Tensor], torch.Tensor]


class ImportRefused(ValueError):
    """An official checkpoint that does not fit the table or the model; the message names the keys."""


@dataclass(frozen=True)
class Rule:
    src: str                              # regular expression, matched against the whole source key
    dst: str | None                       # template with \1-style group references; None: skipped on purpose
    transform: Transform | None = None
    part: tuple[int, int] | None = None   # (index, count): concatenated along dim 0 with its sibling parts
    split: tuple[tuple[str, Transform], ...] = ()   # one source tensor → several segd tensors (dst, transform)
    why: str = ""                         # for skipped rules: what the part is (printed in the report)

    def compiled(self) -> re.Pattern[str]:
        return re.compile(self.src)


def linear_to_conv1x1(t: torch.Tensor) -> torch.Tensor:
    """nn.Linear weight [out, in] → 1×1 conv weight [out, in, 1, 1] (segd runs token MLPs as 1×1 convs)."""
    return t.reshape(*t.shape, 1, 1) if t.dim() == 2 else t


def rows(start_frac: tuple[int, int], stop_frac: tuple[int, int]) -> Transform:
    """Rows [n·a/b, n·c/d) of a tensor whose dim 0 packs several projections (mmseg's in_proj_weight)."""
    def take(t: torch.Tensor) -> torch.Tensor:
        n = t.shape[0]
        return t[n * start_frac[0] // start_frac[1]: n * stop_frac[0] // stop_frac[1]]
    return take


@dataclass
class ImportReport:
    loaded: list[str] = field(default_factory=list)          # segd keys filled
    skipped: dict[str, list[str]] = field(default_factory=dict)   # reason → source keys left out on purpose
    kept_from_init: list[str] = field(default_factory=list)  # segd keys allowed to stay at their init value

    def summary(self) -> str:
        lines = [f"loaded {len(self.loaded)} tensors"]
        for why, keys in self.skipped.items():
            lines.append(f"skipped {len(keys)} tensors ({why}), e.g. {keys[0]}")
        if self.kept_from_init:
            lines.append(f"kept at initialisation: {_short(self.kept_from_init)}")
        return "\n".join(lines)


def _short(keys: Iterable[str], limit: int = 12) -> str:
    keys = sorted(keys)
    more = f" … (+{len(keys) - limit} more)" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def map_state(source: dict[str, torch.Tensor], rules: list[Rule]) -> tuple[dict[str, torch.Tensor],
                                                                           dict[str, list[str]], list[str]]:
    """Source tensors → segd-named tensors. Returns (mapped, skipped by reason, unclaimed source keys)."""
    compiled = [(r, r.compiled()) for r in rules]
    parts: dict[str, dict[int, torch.Tensor]] = {}
    counts: dict[str, int] = {}
    mapped: dict[str, torch.Tensor] = {}
    skipped: dict[str, list[str]] = {}
    unclaimed: list[str] = []
    for key, tensor in source.items():
        for rule, rx in compiled:
            m = rx.fullmatch(key)
            if m is None:
                continue
            if rule.dst is None:
                skipped.setdefault(rule.why or "not part of the segd model", []).append(key)
                break
            if rule.part is not None:
                idx, n = rule.part
                t = rule.transform(tensor) if rule.transform else tensor
                parts.setdefault(m.expand(rule.dst), {})[idx] = t
                counts[m.expand(rule.dst)] = n
                break
            for template, transform in [(rule.dst, rule.transform), *rule.split]:
                dst = m.expand(template)
                if dst in mapped:
                    raise ImportRefused(f"two source tensors map onto {dst} (the second is {key})")
                mapped[dst] = transform(tensor) if transform else tensor
            break
        else:
            unclaimed.append(key)
    for dst, pieces in parts.items():
        if len(pieces) != counts[dst]:
            raise ImportRefused(f"{dst} is assembled from {counts[dst]} source tensors but only parts "
                               f"{sorted(pieces)} are present")
        mapped[dst] = torch.cat([pieces[i] for i in range(counts[dst])], dim=0)
    return mapped, skipped, unclaimed


def apply_table(model: nn.Module, source: dict[str, torch.Tensor], rules: list[Rule], *, source_name: str,
                optional: Callable[[str], bool] = lambda k: False) -> ImportReport:
    """Load `source` into `model` through `rules`, all-or-nothing. `optional(segd_key)` says which model
    tensors may stay at their initial values when the source lacks them (training-only heads, BN counters).
    Raises ImportRefused naming unexpected, missing and shape-mismatched keys; the model is untouched then."""
    mapped, skipped, unclaimed = map_state(source, rules)
    target = model.state_dict()
    missing = [k for k in target if k not in mapped and not optional(k)]
    extra = [k for k in mapped if k not in target]
    shapes = [f"{k} (checkpoint {tuple(v.shape)}, model {tuple(target[k].shape)})"
              for k, v in mapped.items() if k in target and v.shape != target[k].shape]
    problems = []
    if unclaimed:
        problems.append(f"unexpected keys (no rule in the table): {_short(unclaimed)}")
    if extra:
        problems.append(f"keys the table produced that the model lacks: {_short(extra)}")
    if missing:
        problems.append(f"missing keys (the model needs them): {_short(missing)}")
    if shapes:
        problems.append(f"shape mismatches: {_short(shapes, 6)}")
    if problems:
        raise ImportRefused(f"{source_name}: " + "; ".join(problems))
    state = dict(target)
    for k, v in mapped.items():
        state[k] = v.to(dtype=target[k].dtype)
    model.load_state_dict(state, strict=True)
    return ImportReport(loaded=sorted(mapped), skipped=skipped,
                        kept_from_init=sorted(k for k in target if k not in mapped))
