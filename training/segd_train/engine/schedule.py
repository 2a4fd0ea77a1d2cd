"""AdamW (or SGD with momentum) with mmseg's parameter rules and the poly + linear-warmup LR schedule (§1.9).

LR rules (mmcv custom_keys are substring matches, pitfall 6): a parameter whose name contains "head" gets
lr × head_lr_mult — decode head, aux head and the SIAM projections alike; "teacher" parameters are frozen
and never reach the optimizer (lr × 0); names containing "norm" get weight decay × norm_decay_mult.

A model whose head is not named "head" declares `head_prefixes` (models/interface.py): then exactly its
parameters whose names start with one of those prefixes are "head" (STDC-Seg: FFM and every output head,
as its ×10 group; SFNet: the decoder). Other modules (SIAM) keep the substring rule.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable

import torch
from torch import nn
from torch.optim.lr_scheduler import LambdaLR

from ..models.interface import head_prefixes_of
from .config import TrainConfig


def _has_head(name: str) -> bool:
    return "head" in name


def param_groups(named: Iterable[tuple[str, nn.Parameter]], lr: float, weight_decay: float,
                 head_lr_mult: float, norm_decay_mult: float,
                 is_head: Callable[[str], bool] = _has_head) -> list[dict]:
    buckets: dict[tuple[float, float], list[nn.Parameter]] = {}
    names: dict[tuple[float, float], list[str]] = {}
    for name, p in named:
        if not p.requires_grad or "teacher" in name:
            continue
        key = (head_lr_mult if is_head(name) else 1.0, norm_decay_mult if "norm" in name else 1.0)
        buckets.setdefault(key, []).append(p)
        names.setdefault(key, []).append(name)
    return [{"params": ps, "lr": lr * lm, "weight_decay": weight_decay * dm, "lr_mult": lm, "names": names[(lm, dm)]}
            for (lm, dm), ps in sorted(buckets.items())]


def head_names(modules: dict[str, nn.Module]) -> set[str]:
    """Labelled names ("<prefix>.<param>") of the parameters that get head_lr_mult (module docstring)."""
    heads = set()
    for prefix, m in modules.items():
        prefixes = head_prefixes_of(m)
        for n, _ in m.named_parameters():
            if (n.startswith(prefixes) if prefixes is not None else _has_head(n)):
                heads.add(f"{prefix}.{n}")
    return heads


def build_optimizer(modules: dict[str, nn.Module], cfg: TrainConfig) -> torch.optim.Optimizer:
    """`modules`: prefix → module (e.g. {"model": student, "siam": siam}); prefixes only label parameters.
    cfg.optimizer "adamw" (betas) or "sgd" (momentum, no nesterov), both with cfg.weight_decay."""
    named = [(f"{prefix}.{n}", p) for prefix, m in modules.items() for n, p in m.named_parameters()]
    heads = head_names(modules)
    groups = param_groups(named, cfg.lr, cfg.weight_decay, cfg.head_lr_mult, cfg.norm_decay_mult,
                          is_head=heads.__contains__)
    if not groups:
        raise ValueError("no trainable parameters")
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)


def poly_warmup_factor(step: int, *, iterations: int, warmup_iters: int, warmup_ratio: float,
                       power: float, min_ratio: float) -> float:
    """LR multiplier for 0-based `step` (mmcv PolyLrUpdater + linear warmup):
    regular = (1 − min_ratio)·(1 − step/iterations)^power + min_ratio; during warmup
    regular·(1 − (1 − step/warmup_iters)·(1 − warmup_ratio))."""
    progress = min(step, iterations) / iterations
    regular = (1.0 - min_ratio) * (1.0 - progress) ** power + min_ratio
    if step < warmup_iters:
        k = (1.0 - step / warmup_iters) * (1.0 - warmup_ratio)
        return regular * (1.0 - k)
    return regular


class PolyWarmup:
    """Picklable LR lambda (LambdaLR stores its __dict__ in state_dict, keeping checkpoints weights-only)."""

    def __init__(self, cfg: TrainConfig) -> None:
        self.iterations = cfg.iterations
        self.warmup_iters = cfg.warmup_iters
        self.warmup_ratio = cfg.warmup_ratio
        self.power = cfg.poly_power
        self.min_ratio = cfg.min_lr / cfg.lr if cfg.lr > 0 else 0.0

    def __call__(self, step: int) -> float:
        return poly_warmup_factor(step, iterations=self.iterations, warmup_iters=self.warmup_iters,
                                  warmup_ratio=self.warmup_ratio, power=self.power, min_ratio=self.min_ratio)


def build_scheduler(optimizer: torch.optim.Optimizer, cfg: TrainConfig) -> LambdaLR:
    """Call `.step()` once after every optimizer step; the lr of step s is base·factor(s)."""
    return LambdaLR(optimizer, PolyWarmup(cfg))
