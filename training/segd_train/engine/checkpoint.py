"""Checkpoints: everything needed to continue at the same next step with the same loss.

Format: {"model", "optimizer", "scheduler", "step", "rng", "config", "siam"?, "scaler"?, "best_miou"?}.
Only tensors and plain Python values are stored, so `torch.load(weights_only=True)` reads it (the
exporter does). `step` counts completed optimizer steps.
"""
from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..models.registry import Role, build_model, model_entry


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel (or the module itself)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def capture_rng(generator: torch.Generator | None) -> dict[str, Any]:
    kind, keys, pos, has_gauss, gauss = np.random.get_state(legacy=True)
    state: dict[str, Any] = {
        "python": random.getstate(),
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "gauss": float(gauss)},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    if generator is not None:
        state["generator"] = generator.get_state()
    return state


def restore_rng(state: dict[str, Any], generator: torch.Generator | None) -> None:
    random.setstate(_tuplify(state["python"]))
    n = state["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    if generator is not None and "generator" in state:
        generator.set_state(state["generator"])


def _tuplify(v: Any) -> Any:
    # random.setstate needs tuples; weights-only unpickling may hand back lists.
    return tuple(_tuplify(x) for x in v) if isinstance(v, (list, tuple)) else v


def save(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer | None,
         scheduler: Any | None, step: int, config: dict[str, Any], generator: torch.Generator | None,
         siam: nn.Module | None = None, scaler: torch.amp.GradScaler | None = None,
         extra: dict[str, Any] | None = None) -> Path:
    """Writes atomically (temp file + rename) so a kill mid-save never leaves a truncated checkpoint."""
    path = Path(path)
    ckpt: dict[str, Any] = {
        "model": unwrap(model).state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "scheduler": scheduler.state_dict() if scheduler is not None else None,
        "step": step,
        "rng": capture_rng(generator),
        "config": config,
    }
    if siam is not None:
        ckpt["siam"] = trainable_state(unwrap(siam))
    if scaler is not None and scaler.is_enabled():
        ckpt["scaler"] = scaler.state_dict()
    ckpt.update(extra or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    torch.save(ckpt, tmp)
    os.replace(tmp, path)
    return path


def trainable_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """State of a module minus anything under a "teacher" name (the frozen teacher has its own checkpoint)."""
    return {k: v for k, v in module.state_dict().items() if "teacher" not in k}


def read(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{p}: checkpoint not found")
    try:
        ckpt = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # torch raises several unrelated types for a corrupt or foreign file
        raise ValueError(f"{p}: not a readable segd checkpoint ({e})") from None
    if not isinstance(ckpt, dict) or "model" not in ckpt or "config" not in ckpt:
        raise ValueError(f"{p}: not a segd checkpoint (expected keys 'model' and 'config')")
    return ckpt


def load(path: str | Path, *, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
         scheduler: Any | None = None, generator: torch.Generator | None = None,
         siam: nn.Module | None = None, scaler: torch.amp.GradScaler | None = None,
         restore_random: bool = True) -> dict[str, Any]:
    """Restores into the given objects; returns the raw checkpoint (for `step`, `config`, extras)."""
    ckpt = read(path)
    unwrap(model).load_state_dict(ckpt["model"])
    if optimizer is not None and ckpt.get("optimizer") is not None:
        optimizer.load_state_dict(ckpt["optimizer"])
    if scheduler is not None and ckpt.get("scheduler") is not None:
        scheduler.load_state_dict(ckpt["scheduler"])
    if siam is not None:
        if "siam" not in ckpt:
            raise ValueError(f"{path}: has no SIAM state but this run distils; resume the matching run")
        res = unwrap(siam).load_state_dict(ckpt["siam"], strict=False)
        bad = [k for k in res.missing_keys if "teacher" not in k] + list(res.unexpected_keys)
        if bad:
            raise ValueError(f"{path}: SIAM state does not match this run's SIAM (keys {bad[:5]})")
    if scaler is not None and "scaler" in ckpt:
        scaler.load_state_dict(ckpt["scaler"])
    if restore_random:
        restore_rng(ckpt["rng"], generator)
    return ckpt


def rebuild_model(ckpt: dict[str, Any], source: str | Path, *, role: Role | None = None,
                  num_classes: int | None = None) -> tuple[nn.Module, str]:
    """The one way a trained model comes back from a checkpoint (eval, export, the distillation teacher): rebuild
    the architecture named by config.model, check its registry role and class count when asked, load the weights
    strictly. Returns (model in eval mode, architecture name); errors name `source` and what did not fit."""
    config = ckpt["config"]
    arch = config.get("model")
    if not isinstance(arch, str):
        raise ValueError(f"{source}: config.model must name the architecture, got {arch!r}")
    entry = model_entry(arch)
    if role is not None and entry.role != role:
        raise ValueError(f"{source}: holds {arch!r}, a {entry.role}; a {role} is needed here")
    state = {k.removeprefix("module."): v for k, v in ckpt["model"].items()}
    k = config.get("num_classes")
    if k is None:
        weight = state.get("head.conv_seg.weight", state.get("head.cls_seg.1.weight"))
        if weight is None:
            raise ValueError(f"{source}: config.num_classes missing and no classifier weight to infer it from")
        k = int(weight.shape[0])
    if num_classes is not None and k != num_classes:
        raise ValueError(f"{source}: {arch} was trained for {k} classes, the dataset has {num_classes}")
    model = build_model(arch, int(k))
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as err:
        raise ValueError(f"{source}: weights do not match architecture {arch!r}: {err}") from err
    return model.eval(), arch
