"""The training loop that ties data, model, losses, schedule, checkpoints, validation and logs together.

Run directory: config.yaml, train.csv, val.csv, curves.png, confusion_val.png, confusion_best.png,
last.pt (every checkpoint_interval steps / checkpoint_minutes and on exit), best.pt (best val mIoU),
metrics.json (final validation).
"""
from __future__ import annotations

import json
import os
import random
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import yaml
from torch import nn
from tqdm import tqdm

from ..data import AugmentConfig, DeviceSplit, GpuAugment, SegDataset, TrainBatches, build_dataset
from ..losses import SIAM, Criterion
from ..models import build_model
from ..models.interface import align_corners_of
from . import checkpoint
from .config import TrainConfig
from .distributed import barrier, init_distributed, is_main, shutdown, world_size, wrap_ddp
from .evaluate import EvalResult, evaluate, save_confusion_png
from .logs import CsvLog, plot_curves
from .schedule import build_optimizer, build_scheduler
from .teacher import load_teacher
from .train import TrainForward, train_one_step

# Keys that change the optimisation itself: a resumed run must use the checkpoint's values.
_MATH_KEYS = ("task", "model", "teacher", "dataset", "data_root", "train_split", "train_limit", "crop", "batch_size",
              "iterations", "lr", "weight_decay", "base_size", "scale_range", "cat_max_ratio", "flip_p",
              "photometric", "betas", "warmup_iters", "warmup_ratio", "poly_power", "min_lr", "head_lr_mult",
              "norm_decay_mult", "aux_weight", "amp", "seed", "loss", "ohem_thresh", "ohem_min_kept", "detail_weight",
              "optimizer", "momentum")


@dataclass
class RunOptions:
    out_dir: Path
    device: torch.device
    resume: Path | None = None              # checkpoint to continue from
    teacher_checkpoint: Path | None = None  # task "student"
    max_minutes: float | None = None        # stop cleanly (with last.pt) before this wall time
    stop_at_step: int | None = None         # stop cleanly after this many completed steps
    progress: bool = True


@dataclass
class RunResult:
    step: int
    reason: str                                          # finished | time limit | stop_at_step
    losses: dict[int, float] = field(default_factory=dict)  # completed step → total loss (this process)
    best_miou: float | None = None
    last_checkpoint: Path | None = None
    final: EvalResult | None = None


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def check_resume_config(cfg: TrainConfig, saved: dict, path: Path) -> None:
    current = cfg.to_dict()
    # A key the checkpoint's recipe predates ran at that key's default (defaults keep older recipes unchanged).
    defaults = TrainConfig.defaults()
    diff = [k for k in _MATH_KEYS if current.get(k) != saved.get(k, defaults.get(k))]
    if diff:
        detail = ", ".join(f"{k}: checkpoint {saved.get(k)!r} vs config {current.get(k)!r}" for k in diff)
        raise ValueError(f"{path}: cannot resume with a different recipe ({detail})")


class _Run:
    """State of one training process; `run_training` is the entry point."""

    def __init__(self, cfg: TrainConfig, opts: RunOptions) -> None:
        self.cfg, self.opts = cfg, opts
        self.t0 = time.monotonic()
        self.device = init_distributed(opts.device)
        self.main = is_main()
        if cfg.num_threads and self.device.type == "cpu":
            torch.set_num_threads(cfg.num_threads)
        rank = int(os.environ.get("RANK", "0"))
        seed_everything(cfg.seed + rank)
        self.out = opts.out_dir
        self.out.mkdir(parents=True, exist_ok=True)

        train_ds = build_dataset(cfg.dataset, cfg.data_root, cfg.train_split).subset(cfg.train_limit)
        self.val_ds: SegDataset = build_dataset(cfg.dataset, cfg.data_root, cfg.val_split).subset(cfg.val_limit)
        self.num_classes = train_ds.num_classes
        self.class_names = train_ds.class_names
        self.model = build_model(cfg.model, num_classes=self.num_classes).to(self.device)
        self.teacher, self.siam, self.teacher_ckpt = None, None, opts.teacher_checkpoint
        resume_ckpt = checkpoint.read(opts.resume) if opts.resume else None
        if resume_ckpt is not None:
            check_resume_config(cfg, resume_ckpt["config"], opts.resume)
            if self.teacher_ckpt is None and resume_ckpt.get("teacher_checkpoint"):
                self.teacher_ckpt = Path(resume_ckpt["teacher_checkpoint"])
        if cfg.task == "student":
            if self.teacher_ckpt is None:
                raise ValueError(f"config {cfg.name}: task 'student' distils and needs --teacher CKPT")
            self.teacher = load_teacher(self.teacher_ckpt, cfg.teacher, self.num_classes, self.device)
            self.siam = SIAM(self.model, self.teacher).to(self.device)
        self.step_module = wrap_ddp(TrainForward(self.model, self.siam), self.device)
        modules: dict[str, nn.Module] = {"model": self.model}
        if self.siam is not None:
            modules["siam"] = self.siam
        self.optimizer = build_optimizer(modules, cfg)
        self.scheduler = build_scheduler(self.optimizer, cfg)
        self.scaler = torch.amp.GradScaler("cuda", enabled=self.device.type == "cuda" and cfg.amp == "fp16")
        self.criterion = Criterion(ignore_index=train_ds.ignore_index, aux_weight=cfg.aux_weight, loss=cfg.loss,
                                   ohem_thresh=cfg.ohem_thresh, ohem_min_kept=cfg.ohem_min_kept,
                                   detail_weight=cfg.detail_weight, align_corners=align_corners_of(self.model))
        self.amp = cfg.amp if self.device.type == "cuda" else "none"

        aug = GpuAugment(AugmentConfig(crop=cfg.crop, scale_range=cfg.scale_range, base_size=cfg.base_size,
                                       cat_max_ratio=cfg.cat_max_ratio, flip_p=cfg.flip_p,
                                       photometric=cfg.photometric), self.num_classes, train_ds.ignore_index)
        self.batches = TrainBatches(DeviceSplit.load(train_ds, self.device, progress=opts.progress),
                                    cfg.batch_size, aug, cfg.seed, rank, world_size())
        self.val_split = DeviceSplit.load(self.val_ds, self.device, progress=opts.progress) if self.main else None

        self.step, self.best = 0, None
        if resume_ckpt is not None:
            ck = checkpoint.load(opts.resume, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                                 generator=self.batches.generator, siam=self.siam, scaler=self.scaler)
            self.step, self.best = int(ck["step"]), ck.get("best_miou")
        self.train_log, self.val_log = CsvLog(self.out / "train.csv"), CsvLog(self.out / "val.csv")
        if self.main:
            self.train_log.truncate_after(self.step)
            self.val_log.truncate_after(self.step)
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
        self.last_save = time.monotonic()
        self.val_seconds = 0.0
        self.last_eval: tuple[int, EvalResult] | None = None

    def save(self, name: str, **extra: object) -> Path:
        meta = {"best_miou": self.best, "class_names": self.class_names, "num_classes": self.num_classes}
        if self.teacher_ckpt is not None:
            meta["teacher_checkpoint"] = str(self.teacher_ckpt)
        meta.update(extra)
        config = self.cfg.to_dict() | {"num_classes": self.num_classes}
        return checkpoint.save(self.out / name, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                               step=self.step, config=config, generator=self.batches.generator, siam=self.siam,
                               scaler=self.scaler, extra=meta)

    def validate(self) -> EvalResult:
        t = time.monotonic()
        assert self.val_split is not None
        res = evaluate(self.model, self.val_split, self.num_classes, batch_size=self.cfg.eval_batch_size, amp=self.amp)
        row: dict[str, float | int | str] = {"step": self.step, "miou": res.miou, "pixel_accuracy": res.pixel_accuracy}
        row.update({f"iou_{n}": v for n, v in zip(self.class_names, res.per_class_iou)})
        self.val_log.append(row)
        save_confusion_png(res.confusion, self.class_names, self.out / "confusion_val.png",
                           f"{self.cfg.name} step {self.step} mIoU {res.miou:.4f}")
        if self.best is None or res.miou > self.best:
            self.best = res.miou
            self.save("best.pt", val_metrics=res.as_dict(self.class_names))
            save_confusion_png(res.confusion, self.class_names, self.out / "confusion_best.png",
                               f"{self.cfg.name} best, step {self.step} mIoU {res.miou:.4f}")
        plot_curves(self.out)
        self.val_seconds = time.monotonic() - t
        self.last_eval = (self.step, res)
        print(f"[{self.cfg.name}] step {self.step}: val mIoU {res.miou:.4f} (best {self.best:.4f}) "
              f"in {self.val_seconds:.1f}s", flush=True)
        return res

    def out_of_time(self, step_seconds: float) -> bool:
        if self.opts.max_minutes is None:
            return False
        # Leave room for one more step, a checkpoint write and a final validation (≥ one step's time for the
        # first validation, whose length is not known yet).
        need = step_seconds + 5.0 + max(self.val_seconds * 1.2, step_seconds)
        return time.monotonic() - self.t0 + need > self.opts.max_minutes * 60.0


def run_training(cfg: TrainConfig, opts: RunOptions) -> RunResult:
    r = _Run(cfg, opts)
    result = RunResult(step=r.step, reason="finished", best_miou=r.best)
    cfg = r.cfg
    end = cfg.iterations if opts.stop_at_step is None else min(cfg.iterations, opts.stop_at_step)
    bar = tqdm(total=cfg.iterations, initial=r.step, desc=cfg.name, disable=not (opts.progress and r.main),
               mininterval=1.0 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)
    window: dict[str, float] = {}
    window_steps, window_t = 0, time.monotonic()
    step_seconds = 0.0
    try:
        while r.step < end:
            if r.out_of_time(step_seconds):
                result.reason = "time limit"
                break
            t = time.monotonic()
            x, y = r.batches.batch(r.step)
            losses = train_one_step(r.step_module, x, y, r.optimizer, r.scheduler, r.criterion,
                                    teacher=r.teacher, amp=r.amp, scaler=r.scaler)
            r.step += 1
            step_seconds = time.monotonic() - t
            result.losses[r.step] = losses["total"]
            for k, v in losses.items():
                window[k] = window.get(k, 0.0) + v
            window_steps += 1
            bar.update(1)
            if r.step % cfg.log_interval == 0 or r.step == end:
                elapsed = time.monotonic() - window_t
                row: dict[str, float | int | str] = {
                    "step": r.step, "epoch": r.batches.epoch(r.step - 1), "time_s": round(time.monotonic() - r.t0, 2),
                    "images_per_s": round(window_steps * cfg.batch_size * world_size() / max(elapsed, 1e-9), 3)}
                row.update({k: v / window_steps for k, v in window.items()})
                if r.main:
                    r.train_log.append(row)
                bar.set_postfix(loss=f"{row['total']:.4f}", lr=f"{row['lr']:.2e}", ips=row["images_per_s"])
                window, window_steps, window_t = {}, 0, time.monotonic()
            due_time = cfg.checkpoint_minutes is not None and time.monotonic() - r.last_save >= cfg.checkpoint_minutes * 60
            if r.main and (r.step % cfg.checkpoint_interval == 0 or due_time):
                r.save("last.pt")
                r.last_save = time.monotonic()
            if r.main and r.step % cfg.val_interval == 0:
                r.validate()
                window_t += r.val_seconds  # validation time is not training throughput
            barrier()
        else:
            result.reason = "finished" if r.step >= cfg.iterations else "stop_at_step"
        if r.main:
            if result.reason != "stop_at_step" and (r.last_eval is None or r.last_eval[0] != r.step):
                r.validate()
            result.last_checkpoint = r.save("last.pt")
            if result.reason != "stop_at_step":
                assert r.last_eval is not None
                result.final = r.last_eval[1]
                best = checkpoint.read(r.out / "best.pt")
                (r.out / "metrics.json").write_text(json.dumps(
                    {"step": r.step, "reason": result.reason, "final": result.final.as_dict(r.class_names),
                     "best_miou": r.best, "best_step": best["step"], "best": best.get("val_metrics")}, indent=2))
            plot_curves(r.out)
    finally:
        bar.close()
        shutdown()
    result.step, result.best_miou = r.step, r.best
    print(f"[{cfg.name}] stopped at step {r.step}/{cfg.iterations}: {result.reason}; best val mIoU "
          f"{'n/a' if r.best is None else f'{r.best:.4f}'}; run dir {r.out}", flush=True)
    return result
