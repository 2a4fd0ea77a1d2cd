"""Flat YAML training recipes (training/configs/*.yaml): every file complete, no inheritance.

Loading checks every key: an unknown key, a missing required key or a wrongly typed value is an error
naming the file, the key and what was expected — a typo must not silently fall back to a default.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..losses.criterion import LOSSES
from ..models.registry import REGISTRY, STUDENTS, TEACHERS

TASKS = ("teacher", "student", "baseline")
AMP_MODES = ("none", "bf16", "fp16")
OPTIMIZERS = ("adamw", "sgd")


class ConfigError(ValueError):
    pass


@dataclass(frozen=True)
class TrainConfig:
    name: str
    task: str                        # teacher | student (distillation) | baseline (student, no teacher)
    model: str
    dataset: str                     # layout: camvid | cityscapes | folder
    data_root: str                   # relative paths resolve against the shared data directory
    crop: tuple[int, int]            # H, W
    batch_size: int
    iterations: int
    lr: float
    weight_decay: float
    teacher: str | None = None       # expected teacher architecture (student task)
    train_split: str = "train"
    val_split: str = "val"
    train_limit: int | None = None   # use only the first N images (tests, smoke runs)
    val_limit: int | None = None
    base_size: tuple[int, int] | None = None
    scale_range: tuple[float, float] = (0.5, 2.0)
    cat_max_ratio: float = 0.75
    flip_p: float = 0.5
    photometric: bool = True
    cutmix_p: float = 0.0            # share of each batch given a box of another frame (data/mix.py); 0 = off
    betas: tuple[float, float] = (0.9, 0.999)
    warmup_iters: int = 1500
    warmup_ratio: float = 1e-6
    poly_power: float = 1.0
    min_lr: float = 0.0
    head_lr_mult: float = 10.0
    norm_decay_mult: float = 1.0
    aux_weight: float = 0.4          # each of forward_train()["aux"]
    loss: str = "ce"                 # ce | ohem-ranked (STDC-Seg) | ohem-prob (SFNet); main and every aux map
    ohem_thresh: float = 0.7         # probability: ohem-ranked keeps CE > −log(thresh), ohem-prob keeps p ≤ thresh
    ohem_min_kept: int | None = None # ohem-*: n_min / min_kept, pixels per process per step (required for ohem-*)
    detail_weight: float = 1.0       # BCE + Dice on forward_train()["detail_logits"] when the model has it
    optimizer: str = "adamw"         # adamw (betas) | sgd (momentum); both with weight_decay
    momentum: float = 0.9            # sgd only
    amp: str = "bf16"                # GPU only; CPU always runs fp32
    seed: int = 0
    log_interval: int = 10
    val_interval: int = 1000
    checkpoint_interval: int = 1000
    checkpoint_minutes: float | None = None
    eval_batch_size: int = 4
    num_threads: int | None = None
    init_from: str | None = None     # official checkpoint to start from (docs/official-weights.md); fresh runs only
    init_part: str = "backbone"      # backbone: its backbone only | model: everything, a new classifier if K differs
    init_family: str | None = None   # importer family (default: recognised from the file's keys)
    extra: dict[str, Any] = field(default_factory=dict)   # free-form notes copied into the checkpoint

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    def replace(self, **changes: Any) -> "TrainConfig":
        return dataclasses.replace(self, **changes)

    @staticmethod
    def defaults() -> dict[str, Any]:
        """Every optional key's default, as to_dict() writes it."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(TrainConfig):
            if f.default is not dataclasses.MISSING:
                out[f.name] = list(f.default) if isinstance(f.default, tuple) else f.default
        return out


_FIELDS = {f.name: f for f in dataclasses.fields(TrainConfig)}
_REQUIRED = [f.name for f in dataclasses.fields(TrainConfig)
             if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
def _kinds() -> dict[str, str]:
    """Each key's value kind, read off TrainConfig's annotations (the one place field types are declared)."""
    kinds = {}
    for name, hint in typing.get_type_hints(TrainConfig).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if typing.get_origin(hint) in (typing.Union, types.UnionType) and len(args) == 1 else hint
        if typing.get_origin(base) is tuple:
            kinds[name] = "pair_int" if typing.get_args(base) == (int, int) else "pair_float"
        else:
            kinds[name] = {int: "int", float: "float", str: "str", bool: "bool"}.get(base, "mapping")
    return kinds


_KINDS = _kinds()
_PAIRS_INT = {k for k, v in _KINDS.items() if v == "pair_int"}
_PAIRS_FLOAT = {k for k, v in _KINDS.items() if v == "pair_float"}
_INTS = {k for k, v in _KINDS.items() if v == "int"}
_FLOATS = {k for k, v in _KINDS.items() if v == "float"}
_STRS = {k for k, v in _KINDS.items() if v == "str"}


def _check(where: str, key: str, value: Any) -> Any:
    optional = _FIELDS[key].default is None
    if value is None:
        if optional:
            return None
        raise ConfigError(f"{where}: '{key}' must not be null")
    if key in _PAIRS_INT or key in _PAIRS_FLOAT:
        kind = int if key in _PAIRS_INT else (int, float)
        if (not isinstance(value, list) or len(value) != 2 or isinstance(value[0], bool)
                or not all(isinstance(v, kind) and not isinstance(v, bool) for v in value)):
            raise ConfigError(f"{where}: '{key}' must be a list of two {'integers' if kind is int else 'numbers'}, "
                              f"got {value!r}")
        return (value[0], value[1]) if kind is int else (float(value[0]), float(value[1]))
    if key in _INTS and (not isinstance(value, int) or isinstance(value, bool) or value < 0):
        raise ConfigError(f"{where}: '{key}' must be a non-negative integer, got {value!r}")
    if key in _FLOATS:
        if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
            raise ConfigError(f"{where}: '{key}' must be a non-negative number, got {value!r}")
        return float(value)
    if key in _STRS and not isinstance(value, str):
        raise ConfigError(f"{where}: '{key}' must be a string, got {value!r}")
    if _KINDS[key] == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{where}: '{key}' must be true or false, got {value!r}")
    if _KINDS[key] == "mapping" and not isinstance(value, dict):
        raise ConfigError(f"{where}: '{key}' must be a mapping, got {value!r}")
    return value


def config_from_dict(doc: Any, where: str) -> TrainConfig:
    if not isinstance(doc, dict):
        raise ConfigError(f"{where}: expected a mapping of keys to values")
    unknown = sorted(set(doc) - set(_FIELDS))
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {unknown}; known keys: {sorted(_FIELDS)}")
    missing = [k for k in _REQUIRED if k not in doc]
    if missing:
        raise ConfigError(f"{where}: missing required key(s) {missing}")
    values = {k: _check(where, k, v) for k, v in doc.items()}
    cfg = TrainConfig(**values)
    if cfg.task not in TASKS:
        raise ConfigError(f"{where}: 'task' must be one of {list(TASKS)}, got {cfg.task!r}")
    if cfg.amp not in AMP_MODES:
        raise ConfigError(f"{where}: 'amp' must be one of {list(AMP_MODES)}, got {cfg.amp!r}")
    if cfg.loss not in LOSSES:
        raise ConfigError(f"{where}: 'loss' must be one of {list(LOSSES)}, got {cfg.loss!r}")
    if cfg.optimizer not in OPTIMIZERS:
        raise ConfigError(f"{where}: 'optimizer' must be one of {list(OPTIMIZERS)}, got {cfg.optimizer!r}")
    if not 0.0 < cfg.ohem_thresh <= 1.0:
        raise ConfigError(f"{where}: 'ohem_thresh' must be a probability in (0, 1], got {cfg.ohem_thresh}")
    if cfg.loss != "ce" and (cfg.ohem_min_kept is None or cfg.ohem_min_kept < 1):
        raise ConfigError(f"{where}: loss '{cfg.loss}' needs 'ohem_min_kept' (pixels per step, at least 1), "
                          f"got {cfg.ohem_min_kept!r}")
    if cfg.init_part not in ("backbone", "model"):
        raise ConfigError(f"{where}: 'init_part' must be 'backbone' or 'model', got {cfg.init_part!r}")
    if cfg.cutmix_p > 1.0:
        raise ConfigError(f"{where}: 'cutmix_p' must be a probability in [0, 1], got {cfg.cutmix_p}")
    if cfg.momentum >= 1.0:
        raise ConfigError(f"{where}: 'momentum' must be in [0, 1), got {cfg.momentum}")
    if cfg.task == "student" and cfg.teacher is None:
        raise ConfigError(f"{where}: task 'student' needs 'teacher' (the teacher architecture, e.g. segformer-b2)")
    want_role = "teacher" if cfg.task == "teacher" else "student"
    for key, role in (("model", want_role), ("teacher", "teacher")):
        name = getattr(cfg, key)
        if name is None:
            continue
        if name not in REGISTRY:
            raise ConfigError(f"{where}: '{key}' {name!r} is not a registered model; expected one of "
                              f"{list(TEACHERS if role == 'teacher' else STUDENTS)}")
        if REGISTRY[name].role != role:
            raise ConfigError(f"{where}: '{key}' {name!r} is a {REGISTRY[name].role}, but task '{cfg.task}' needs a "
                              f"{role} here; expected one of {list(TEACHERS if role == 'teacher' else STUDENTS)}")
    for key in ("batch_size", "iterations", "log_interval", "val_interval", "checkpoint_interval"):
        if getattr(cfg, key) < 1:
            raise ConfigError(f"{where}: '{key}' must be at least 1, got {getattr(cfg, key)}")
    if min(cfg.crop) < 1:
        raise ConfigError(f"{where}: 'crop' must be positive [H, W], got {list(cfg.crop)}")
    if not 0 < cfg.scale_range[0] <= cfg.scale_range[1]:
        raise ConfigError(f"{where}: 'scale_range' must be [lo, hi] with 0 < lo <= hi, got {list(cfg.scale_range)}")
    if cfg.warmup_iters >= cfg.iterations:
        raise ConfigError(f"{where}: 'warmup_iters' ({cfg.warmup_iters}) must be below 'iterations' ({cfg.iterations})")
    return cfg


def load_config(path: str | Path) -> TrainConfig:
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{p}: config file not found") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{p}: not valid YAML ({e})") from None
    return config_from_dict(doc, str(p))
