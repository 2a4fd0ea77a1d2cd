"""Training step, LR schedule and parameter groups on real CamVid crops."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from segd_train.data import AugmentConfig, DeviceSplit, GpuAugment, TrainBatches, camvid_dataset
from segd_train.engine import (TrainForward, build_optimizer, build_scheduler, config_from_dict,
                               param_groups, poly_warmup_factor, train_one_step)
from segd_train.losses import Criterion
from segd_train.models import build_model


def _cfg(**kw: object):
    doc = {"name": "t", "task": "baseline", "model": "sctnet-s", "dataset": "camvid", "data_root": "data/camvid",
           "crop": [64, 64], "batch_size": 4, "iterations": 100, "lr": 1e-3, "weight_decay": 0.0125,
           "warmup_iters": 0}
    doc.update(kw)
    return config_from_dict(doc, "test")


def test_a_few_steps_lower_the_loss_on_real_camvid_crops(camvid_root: Path) -> None:
    torch.manual_seed(0)
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(4), torch.device("cpu"))
    aug = GpuAugment(AugmentConfig(crop=(64, 64), scale_range=(0.5, 0.5)), num_classes=11, ignore_index=11)
    x, y = TrainBatches(split, 4, aug, seed=0).batch(0)   # 4 fixed real crops: the model must fit them
    cfg = _cfg()
    model = build_model("sctnet-s", num_classes=11)
    opt = build_optimizer({"model": model}, cfg)
    sched = build_scheduler(opt, cfg)
    step = TrainForward(model)
    losses = [train_one_step(step, x, y, opt, sched, Criterion(ignore_index=11))["total"] for _ in range(12)]
    assert all(torch.isfinite(torch.tensor(losses)))
    first, last = sum(losses[:2]) / 2, sum(losses[-2:]) / 2
    assert last < 0.8 * first, losses


def test_step_reports_each_term_and_the_aux_weight() -> None:
    torch.manual_seed(0)
    model = build_model("sctnet-s", num_classes=11)
    cfg = _cfg(aux_weight=0.4)
    opt = build_optimizer({"model": model}, cfg)
    x, y = torch.randn(2, 3, 64, 64), torch.randint(0, 12, (2, 64, 64))
    out = train_one_step(TrainForward(model), x, y, opt, build_scheduler(opt, cfg), Criterion(11, 0.4))
    assert set(out) == {"ce", "aux_ce", "total", "lr"}
    assert out["total"] == pytest.approx(out["ce"] + 0.4 * out["aux_ce"], rel=1e-5)


def test_poly_warmup_matches_mmcv() -> None:
    f = lambda s: poly_warmup_factor(s, iterations=1000, warmup_iters=100, warmup_ratio=1e-6, power=1.0,  # noqa: E731
                                     min_ratio=0.0)
    assert f(0) == pytest.approx(1e-6)
    assert f(50) == pytest.approx((1 - 0.05) * (1 - 0.5 * (1 - 1e-6)))
    assert f(100) == pytest.approx(0.9)
    assert f(1000) == 0.0
    assert poly_warmup_factor(1000, iterations=1000, warmup_iters=0, warmup_ratio=1e-6, power=1.0,
                              min_ratio=0.01) == pytest.approx(0.01)


def test_scheduler_steps_the_lr_per_iteration() -> None:
    model = build_model("sctnet-s", num_classes=11)
    cfg = _cfg(lr=4e-4, warmup_iters=10, iterations=100)
    opt = build_optimizer({"model": model}, cfg)
    sched = build_scheduler(opt, cfg)
    base = next(g for g in opt.param_groups if g["lr_mult"] == 1.0)
    assert base["lr"] == pytest.approx(4e-4 * 1e-6)
    for _ in range(10):
        opt.step()
        sched.step()
    assert base["lr"] == pytest.approx(4e-4 * 0.9)


def test_head_parameters_get_ten_times_the_lr_and_teacher_none() -> None:
    named = [("model.backbone.conv.weight", torch.nn.Parameter(torch.zeros(1))),
             ("model.head.conv_seg.weight", torch.nn.Parameter(torch.zeros(1))),
             ("model.aux_head.conv.weight", torch.nn.Parameter(torch.zeros(1))),
             ("siam.sdha_head.weight", torch.nn.Parameter(torch.zeros(1))),
             ("teacher_head.fusion_conv.weight", torch.nn.Parameter(torch.zeros(1))),
             ("model.layer3.norm.weight", torch.nn.Parameter(torch.zeros(1)))]
    groups = param_groups(named, lr=1e-3, weight_decay=0.01, head_lr_mult=10.0, norm_decay_mult=0.0)
    by_name = {n: g for g in groups for n in g["names"]}
    assert "teacher_head.fusion_conv.weight" not in by_name
    assert by_name["model.backbone.conv.weight"]["lr"] == pytest.approx(1e-3)
    for n in ("model.head.conv_seg.weight", "model.aux_head.conv.weight", "siam.sdha_head.weight"):
        assert by_name[n]["lr"] == pytest.approx(1e-2)
    assert by_name["model.layer3.norm.weight"]["weight_decay"] == 0.0
    assert by_name["model.backbone.conv.weight"]["weight_decay"] == pytest.approx(0.01)


def test_real_model_head_names_follow_the_rule() -> None:
    model = build_model("sctnet-s", num_classes=11)
    opt = build_optimizer({"model": model}, _cfg())
    head = [n for g in opt.param_groups if g["lr_mult"] == 10.0 for n in g["names"]]
    assert head and all("head" in n for n in head)
    assert any("aux" in n for n in head)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
