"""The training loop that ties data, model, losses, schedule, checkpoints, validation and logs together.

Run directory: config.yaml, splits.json (how many val frames the train split also holds), train.csv, val.csv, curves.png, confusion_val.png, confusion_best.png,
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
from ..data.overlap import scored_on_label, shared_frames
from ..losses import SIAM, Criterion
from ..models import build_model
from ..models.interface import align_corners_of
from . import checkpoint
from .config import TrainConfig
from .distributed import agree, barrier, gather_to_main, init_distributed, is_main, shutdown, world_size, wrap_ddp
from .evaluate import EvalResult, evaluate, save_confusion_png
from .logs import CsvLog, plot_curves
from .schedule import build_optimizer, build_scheduler
from .teacher import load_teacher
from .train import TrainForward, train_one_step

# Keys that change the optimisation itself: a resumed run must use the checkpoint's values.
_MATH_KEYS = ("task", "model", "teacher", "dataset", "data_root", "train_split", "train_limit", "crop", "batch_size",
              "iterations", "lr", "weight_decay", "base_size", "scale_range", "cat_max_ratio", "flip_p",
              "photometric", "cutmix_p", "betas", "warmup_iters", "warmup_ratio", "poly_power", "min_lr", "head_lr_mult",
              "norm_decay_mult", "aux_weight", "amp", "seed", "loss", "ohem_thresh", "ohem_min_kept", "detail_weight",
              "optimizer", "momentum", "init_from", "init_part", "init_family")


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


@dataclass
class RunData:
    train_ds: SegDataset
    val_ds: SegDataset
    batches: TrainBatches
    val_split: DeviceSplit | None          # main process only


def build_data(cfg: TrainConfig, device: torch.device, rank: int, progress: bool, main: bool) -> RunData:
    """Datasets, the resident train split with its augmentation stream, and (main process) the val split."""
    train_ds = build_dataset(cfg.dataset, cfg.data_root, cfg.train_split).subset(cfg.train_limit)
    val_ds = build_dataset(cfg.dataset, cfg.data_root, cfg.val_split).subset(cfg.val_limit)
    aug = GpuAugment(AugmentConfig(crop=cfg.crop, scale_range=cfg.scale_range, base_size=cfg.base_size,
                                   cat_max_ratio=cfg.cat_max_ratio, flip_p=cfg.flip_p, photometric=cfg.photometric),
                     train_ds.num_classes, train_ds.ignore_index)
    batches = TrainBatches(DeviceSplit.load(train_ds, device, progress=progress), cfg.batch_size, aug, cfg.seed,
                           rank, world_size(), cutmix_p=cfg.cutmix_p)
    val_split = DeviceSplit.load(val_ds, device, progress=progress) if main else None
    return RunData(train_ds, val_ds, batches, val_split)


def build_teacher(cfg: TrainConfig, model: nn.Module, teacher_ckpt: Path | None, num_classes: int,
                  device: torch.device) -> tuple[nn.Module | None, SIAM | None]:
    """The frozen teacher and SIAM (sized from both) for a distillation run; (None, None) otherwise."""
    if cfg.task != "student":
        return None, None
    if teacher_ckpt is None:
        raise ValueError(f"config {cfg.name}: task 'student' distils and needs --teacher CKPT")
    teacher = load_teacher(teacher_ckpt, cfg.teacher, num_classes, device)
    return teacher, SIAM(model, teacher).to(device)


def build_optimisation(cfg: TrainConfig, modules: dict[str, nn.Module], device: torch.device
                       ) -> tuple[torch.optim.Optimizer, torch.optim.lr_scheduler.LRScheduler, torch.amp.GradScaler]:
    optimizer = build_optimizer(modules, cfg)
    scheduler = build_scheduler(optimizer, cfg)
    scaler = torch.amp.GradScaler("cuda", enabled=device.type == "cuda" and cfg.amp == "fp16")
    return optimizer, scheduler, scaler


class LogWindow:
    """Loss terms averaged over the steps since the last train.csv row, with the window's throughput."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.steps, self.t0 = 0, time.monotonic()

    def add(self, losses: dict[str, float]) -> None:
        for k, v in losses.items():
            self.sums[k] = self.sums.get(k, 0.0) + v
        self.steps += 1

    def pause(self, seconds: float) -> None:
        self.t0 += seconds          # time spent validating is not training throughput

    def row(self, step: int, epoch: int, run_seconds: float, images_per_step: int) -> dict[str, float | int | str]:
        elapsed = time.monotonic() - self.t0
        row: dict[str, float | int | str] = {
            "step": step, "epoch": epoch, "time_s": round(run_seconds, 2),
            "images_per_s": round(self.steps * images_per_step / max(elapsed, 1e-9), 3)}
        row.update({k: v / self.steps for k, v in self.sums.items()})
        self.sums, self.steps, self.t0 = {}, 0, time.monotonic()
        return row


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

        # The data path draws only from its own generator; the model, then SIAM, draw their init from the global
        # RNG seeded above — keep that order, or a fresh run's initial weights change.
        data = build_data(cfg, self.device, rank, opts.progress, self.main)
        self.batches, self.val_ds, self.val_split = data.batches, data.val_ds, data.val_split
        self.num_classes, self.class_names = data.train_ds.num_classes, data.train_ds.class_names
        shared = shared_frames(data.train_ds, data.val_ds)
        if shared and self.main:
            # A trainval run is legitimate (the final model), but its val figures are not generalisation.
            print(f"[{cfg.name}] note: val split {scored_on_label(cfg.val_split, shared, len(data.val_ds))}; its "
                  f"mIoU measures fitting, not frames the model never saw", flush=True)
        self.model = build_model(cfg.model, num_classes=self.num_classes)
        resume_ckpt = checkpoint.read(opts.resume) if opts.resume else None
        if cfg.init_from and resume_ckpt is None:   # a resumed run has its weights in the checkpoint
            from ..importers import init_model
            report = init_model(self.model, cfg.model, resolve_init_path(cfg.init_from), part=cfg.init_part,
                                family=cfg.init_family)
            if self.main:
                print(f"[{cfg.name}] init_from {cfg.init_from} ({cfg.init_part}):\n{report.summary()}", flush=True)
        self.model.to(self.device)
        self.teacher_ckpt = opts.teacher_checkpoint
        if resume_ckpt is not None:
            check_resume_config(cfg, resume_ckpt["config"], opts.resume)
            if self.teacher_ckpt is None and resume_ckpt.get("teacher_checkpoint"):
                self.teacher_ckpt = Path(resume_ckpt["teacher_checkpoint"])
        self.teacher, self.siam = build_teacher(cfg, self.model, self.teacher_ckpt, self.num_classes, self.device)
        self.step_module = wrap_ddp(TrainForward(self.model, self.siam), self.device)
        modules: dict[str, nn.Module] = {"model": self.model}
        if self.siam is not None:
            modules["siam"] = self.siam
        self.optimizer, self.scheduler, self.scaler = build_optimisation(cfg, modules, self.device)
        self.criterion = Criterion(ignore_index=data.train_ds.ignore_index, aux_weight=cfg.aux_weight, loss=cfg.loss,
                                   ohem_thresh=cfg.ohem_thresh, ohem_min_kept=cfg.ohem_min_kept,
                                   detail_weight=cfg.detail_weight, align_corners=align_corners_of(self.model))
        self.amp = cfg.amp if self.device.type == "cuda" else "none"

        self.step, self.best = 0, None
        if resume_ckpt is not None:
            ck = checkpoint.load(opts.resume, model=self.model, optimizer=self.optimizer, scheduler=self.scheduler,
                                 generator=self.batches.generator, siam=self.siam, scaler=self.scaler)
            restore_rank_rng(ck, opts.resume, rank, self.batches.generator)
            self.step, self.best = int(ck["step"]), ck.get("best_miou")
        self.train_log, self.val_log = CsvLog(self.out / "train.csv"), CsvLog(self.out / "val.csv")
        if self.main:
            self.train_log.truncate_after(self.step)
            self.val_log.truncate_after(self.step)
            (self.out / "config.yaml").write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))
            (self.out / "splits.json").write_text(json.dumps({
                "train_split": cfg.train_split, "val_split": cfg.val_split, "val_frames": len(data.val_ds),
                "val_frames_in_training": shared}) + "\n")
        self.last_save = time.monotonic()
        self.val_seconds = 0.0
        self.last_eval: tuple[int, EvalResult] | None = None

    def release_ddp(self) -> None:
        """Drop the DDP wrapper (its Reducer holds the process group); the plain model stays for the caller."""
        self.step_module = TrainForward(self.model, self.siam)

    def rank_rng(self) -> list[object] | None:
        """Every rank's RNG states (global RNGs + its augmentation generator), gathered on rank 0 for last.pt so
        that a resumed DDP run continues each rank's own streams. Every rank must call it."""
        return gather_to_main(checkpoint.capture_rng(self.batches.generator)) if world_size() > 1 else None

    def save(self, name: str, **extra: object) -> Path:
        meta = {"best_miou": self.best, "class_names": self.class_names, "num_classes": self.num_classes,
                "world_size": world_size()}
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


def resolve_init_path(path: str) -> Path:
    """Relative init_from paths resolve against the shared data directory, like data_root."""
    from ..data import shared_dir
    p = Path(path).expanduser()
    return p if p.is_absolute() else shared_dir() / p


def restore_rank_rng(ck: dict, path: Path, rank: int, generator: torch.Generator) -> None:
    """Under DDP each rank resumes its own RNG streams (checkpoint.load restored rank 0's). A checkpoint written
    by another number of processes would slice every global batch differently: refused."""
    saved = ck.get("world_size", 1)
    if saved != world_size():
        raise ValueError(f"{path}: written by a run of {saved} process(es), resumed with {world_size()}; resume with "
                         f"the same number of processes (torchrun --nproc_per_node × --nnodes)")
    if world_size() > 1:
        states = ck.get("rank_rng")
        if not isinstance(states, list) or len(states) != world_size():
            raise ValueError(f"{path}: has no per-rank RNG states for {world_size()} processes (only last.pt has them)")
        checkpoint.restore_rng(states[rank], generator)


def finalise(r: _Run, result: RunResult, rank_rng: list[object] | None) -> None:
    """Last validation (unless it just ran), last.pt, metrics.json and curves: what every ended run leaves."""
    if result.reason != "stop_at_step" and (r.last_eval is None or r.last_eval[0] != r.step):
        r.validate()
    result.last_checkpoint = r.save("last.pt", rank_rng=rank_rng)
    if result.reason != "stop_at_step":
        assert r.last_eval is not None
        result.final = r.last_eval[1]
        best = checkpoint.read(r.out / "best.pt")
        (r.out / "metrics.json").write_text(json.dumps(
            {"step": r.step, "reason": result.reason, "final": result.final.as_dict(r.class_names),
             "best_miou": r.best, "best_step": best["step"], "best": best.get("val_metrics")}, indent=2))
    plot_curves(r.out)


def run_training(cfg: TrainConfig, opts: RunOptions) -> RunResult:
    r = _Run(cfg, opts)
    result = RunResult(step=r.step, reason="finished", best_miou=r.best)
    cfg = r.cfg
    end = cfg.iterations if opts.stop_at_step is None else min(cfg.iterations, opts.stop_at_step)
    bar = tqdm(total=cfg.iterations, initial=r.step, desc=cfg.name, disable=not (opts.progress and r.main),
               mininterval=1.0 if sys.stderr.isatty() else 30.0, dynamic_ncols=True)
    window = LogWindow()
    step_seconds = 0.0
    ended_cleanly = False
    try:
        while r.step < end:
            if agree(r.out_of_time(step_seconds), r.device):
                result.reason = "time limit"
                break
            t = time.monotonic()
            x, y = r.batches.batch(r.step)
            losses = train_one_step(r.step_module, x, y, r.optimizer, r.scheduler, r.criterion,
                                    teacher=r.teacher, amp=r.amp, scaler=r.scaler)
            r.step += 1
            step_seconds = time.monotonic() - t
            result.losses[r.step] = losses["total"]
            window.add(losses)
            bar.update(1)
            if r.step % cfg.log_interval == 0 or r.step == end:
                row = window.row(r.step, r.batches.epoch(r.step - 1), time.monotonic() - r.t0,
                                 cfg.batch_size * world_size())
                if r.main:
                    r.train_log.append(row)
                bar.set_postfix(loss=f"{row['total']:.4f}", lr=f"{row['lr']:.2e}", ips=row["images_per_s"])
            due_time = cfg.checkpoint_minutes is not None and time.monotonic() - r.last_save >= cfg.checkpoint_minutes * 60
            if agree(r.step % cfg.checkpoint_interval == 0 or due_time, r.device):
                states = r.rank_rng()          # collective: every rank, then one writer
                if r.main:
                    r.save("last.pt", rank_rng=states)
                r.last_save = time.monotonic()
            if r.main and r.step % cfg.val_interval == 0:
                r.validate()
                window.pause(r.val_seconds)
            barrier()
        else:
            result.reason = "finished" if r.step >= cfg.iterations else "stop_at_step"
        states = r.rank_rng()
        if r.main:
            finalise(r, result, states)
        ended_cleanly = True
    finally:
        bar.close()
        shutdown(release=r.release_ddp, together=ended_cleanly)
    result.step, result.best_miou = r.step, r.best
    print(f"[{cfg.name}] stopped at step {r.step}/{cfg.iterations}: {result.reason}; best val mIoU "
          f"{'n/a' if r.best is None else f'{r.best:.4f}'}; run dir {r.out}", flush=True)
    return result
