"""Distillation: a student step with a SegFormer-B0 teacher and SIAM, directly and through the CLI."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from segd_train.cli import main
from segd_train.data import AugmentConfig, DeviceSplit, GpuAugment, TrainBatches, camvid_dataset
from segd_train.engine import (TrainForward, build_optimizer, build_scheduler, config_from_dict,
                               read_checkpoint, train_one_step)
from segd_train.losses import SIAM, Criterion
from segd_train.models import build_model

from conftest import write_recipe


def test_distillation_step_trains_siam_and_leaves_the_teacher_alone(camvid_root: Path) -> None:
    torch.manual_seed(0)
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(2), torch.device("cpu"))
    x, y = TrainBatches(split, 2, GpuAugment(AugmentConfig(crop=(64, 64)), 11, 11), seed=0).batch(0)
    teacher = build_model("segformer-b0", num_classes=11).eval().requires_grad_(False)
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    student = build_model("sctnet-s", num_classes=11)
    siam = SIAM(student, teacher)
    proj_before = siam.sdha_head.weight.detach().clone()
    cfg = config_from_dict({"name": "d", "task": "student", "teacher": "segformer-b0", "model": "sctnet-s",
                            "dataset": "camvid", "data_root": "data/camvid", "crop": [64, 64], "batch_size": 2,
                            "iterations": 10, "lr": 1e-3, "weight_decay": 0.01, "warmup_iters": 0}, "test")
    opt = build_optimizer({"model": student, "siam": siam}, cfg)
    assert any("siam.sdha_head" in n for g in opt.param_groups if g["lr_mult"] == 10.0 for n in g["names"])
    out = train_one_step(TrainForward(student, siam), x, y, opt, build_scheduler(opt, cfg), Criterion(11),
                         teacher=teacher)
    for key in ("sdha_logits", "sdha_feature", "bfa_stage4", "bfa_stage3", "siam", "ce", "aux_ce", "total"):
        assert math.isfinite(out[key]), key
    assert out["siam"] > 0
    assert not torch.equal(siam.sdha_head.weight, proj_before)
    assert all(torch.equal(before[k], v) for k, v in teacher.state_dict().items())


def test_cli_teacher_then_distilled_student(camvid_root: Path, tmp_path: Path) -> None:
    t_cfg = write_recipe(tmp_path / "teacher.yaml", name="t", task="teacher", model="segformer-b0", iterations=2,
                         val_limit=1)
    assert main(["train-teacher", "--config", str(t_cfg), "--out", str(tmp_path / "teacher"), "--device", "cpu",
                 "--no-progress"]) == 0
    teacher_ckpt = tmp_path / "teacher" / "last.pt"
    assert read_checkpoint(teacher_ckpt)["config"]["model"] == "segformer-b0"

    s_cfg = write_recipe(tmp_path / "student.yaml", name="s", task="student", teacher="segformer-b0", iterations=2,
                         val_limit=1)
    assert main(["train-student", "--config", str(s_cfg), "--teacher", str(teacher_ckpt),
                 "--out", str(tmp_path / "student"), "--device", "cpu", "--no-progress"]) == 0
    with (tmp_path / "student" / "train.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and all(math.isfinite(float(r["siam"])) and float(r["siam"]) > 0 for r in rows)
    ckpt = read_checkpoint(tmp_path / "student" / "last.pt")
    assert any(k.startswith("sdha_head") for k in ckpt["siam"]) and not any("teacher" in k for k in ckpt["siam"])
    assert ckpt["teacher_checkpoint"] == str(teacher_ckpt)

    # A teacher of another architecture than the recipe names is refused, naming the checkpoint.
    wrong = write_recipe(tmp_path / "wrong.yaml", name="w", task="student", teacher="segformer-b2", iterations=2)
    assert main(["train-student", "--config", str(wrong), "--teacher", str(teacher_ckpt),
                 "--out", str(tmp_path / "wrong"), "--device", "cpu", "--no-progress"]) == 2
