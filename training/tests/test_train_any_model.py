"""A non-SCTNet student (STDC1-Seg) trains with the same commands: OHEM + aux + detail terms, SGD, and SIAM."""
from __future__ import annotations

import csv
import math
from pathlib import Path

import torch

from segd_train.cli import main
from segd_train.data import AugmentConfig, DeviceSplit, GpuAugment, TrainBatches, camvid_dataset
from segd_train.engine import TrainForward, build_optimizer, build_scheduler, config_from_dict, train_one_step
from segd_train.losses import SIAM, Criterion
from segd_train.models import build_model

from conftest import write_recipe


def test_cli_baseline_with_ohem_detail_and_sgd_logs_every_term(camvid_root: Path, tmp_path: Path) -> None:
    cfg = write_recipe(tmp_path / "stdc.yaml", name="stdc", model="stdc1-seg", iterations=2, val_limit=1,
                       loss="ohem-ranked", ohem_min_kept=2 * 64 * 64 // 16, aux_weight=1.0, optimizer="sgd",
                       lr=0.01, momentum=0.9)
    assert main(["train-baseline", "--config", str(cfg), "--out", str(tmp_path / "run"), "--device", "cpu",
                 "--no-progress"]) == 0
    with (tmp_path / "run" / "train.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2
    for key in ("ce", "aux16_ce", "aux32_ce", "detail_bce", "detail_dice", "total"):
        assert all(math.isfinite(float(r[key])) for r in rows), key


def test_stdc_student_distils_from_a_segformer_teacher(camvid_root: Path) -> None:
    torch.manual_seed(0)
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(2), torch.device("cpu"))
    x, y = TrainBatches(split, 2, GpuAugment(AugmentConfig(crop=(64, 64)), 11, 11), seed=0).batch(0)
    teacher = build_model("segformer-b0", num_classes=11).eval().requires_grad_(False)
    student = build_model("stdc1-seg", num_classes=11)
    siam = SIAM(student, teacher)
    cfg = config_from_dict({"name": "d", "task": "student", "teacher": "segformer-b0", "model": "stdc1-seg",
                            "dataset": "camvid", "data_root": "data/camvid", "crop": [64, 64], "batch_size": 2,
                            "iterations": 10, "lr": 1e-3, "weight_decay": 0.01, "warmup_iters": 0}, "test")
    opt = build_optimizer({"model": student, "siam": siam}, cfg)
    criterion = Criterion(11, aux_weight=1.0, loss="ohem-ranked", ohem_min_kept=512, align_corners=True)
    before = siam.bfa_head_stage4.weight.detach().clone()
    out = train_one_step(TrainForward(student, siam), x, y, opt, build_scheduler(opt, cfg), criterion,
                         teacher=teacher)
    assert out["siam"] > 0 and all(math.isfinite(v) for v in out.values())
    assert {"aux16_ce", "detail_dice", "bfa_stage3"} <= set(out)
    assert not torch.equal(siam.bfa_head_stage4.weight, before)
