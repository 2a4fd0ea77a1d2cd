"""Segmentation CE, CWD and SIAM (BFA + SDHA) on tiny tensors."""
import math

import pytest
import torch
import torch.nn.functional as F

from segd_train.losses import SIAM, SIAM_WEIGHTS, cwd_loss, seg_ce_loss
from segd_train.losses.siam import TEACHER_KEYS, restandardise
from segd_train.models import build_model


def test_ce_averages_over_all_pixels_including_ignored():
    torch.manual_seed(0)
    logits = torch.randn(2, 4, 8, 8)
    target = torch.randint(0, 4, (2, 8, 8))
    target[:, :4] = 11                                   # half the pixels ignored
    valid = F.cross_entropy(logits, target, ignore_index=11)   # torch: mean over valid pixels only
    assert torch.allclose(seg_ce_loss(logits, target, 11), valid * 0.5, atol=1e-6)
    assert torch.allclose(seg_ce_loss(logits, target, 11, avg_non_ignore=True), valid, atol=1e-6)
    assert seg_ce_loss(logits, torch.full_like(target, 11), 11).item() == 0.0


def test_ce_resizes_logits_to_the_label_size():
    logits = torch.randn(1, 3, 4, 5)
    target = torch.randint(0, 3, (1, 16, 20))
    up = F.interpolate(logits, size=(16, 20), mode="bilinear", align_corners=False)
    assert torch.allclose(seg_ce_loss(logits, target, 255), F.cross_entropy(up, target))
    with pytest.raises(ValueError, match="N×H×W"):
        seg_ce_loss(logits, target[0], 255)


def test_cwd_is_zero_for_identical_maps_and_matches_kl():
    torch.manual_seed(0)
    t, s = torch.randn(2, 3, 5, 6), torch.randn(2, 3, 5, 6)
    assert abs(cwd_loss(t, t).item()) < 1e-6
    kl = F.kl_div(F.log_softmax(s.reshape(6, 30) / 4, 1), F.softmax(t.reshape(6, 30) / 4, 1), reduction="sum")
    assert torch.allclose(cwd_loss(t, s), kl * 16 / 6, rtol=1e-5)
    assert cwd_loss(t, s).item() > 0
    with pytest.raises(ValueError, match="equal shapes"):
        cwd_loss(t, s[:, :2])


def test_restandardise_takes_teacher_statistics():
    s, t = torch.randn(2, 4, 6, 6) * 3 + 1, torch.randn(2, 4, 6, 6) * 0.5 - 2
    r = restandardise(s, t)
    assert torch.allclose(r.mean((0, 2, 3)), t.mean((0, 2, 3)), atol=1e-4)
    assert torch.allclose(r.std((0, 2, 3)), t.std((0, 2, 3)), atol=1e-4)


@pytest.fixture(params=["segformer-b0", "hybrid-lite0-mit"])
def siam_setup(request):
    torch.manual_seed(0)
    teacher = build_model(request.param, num_classes=5)
    student = build_model("sctnet-s", num_classes=5).train()
    siam = SIAM(student, teacher)
    return student, teacher, siam, torch.randn(2, 3, 64, 64)


def test_siam_losses_are_finite_weighted_and_named(siam_setup):
    student, _, siam, x = siam_setup
    losses = siam(student.forward_train(x), siam.run_teacher(x))
    assert set(losses) == set(SIAM_WEIGHTS) | {"total"}
    assert all(math.isfinite(v.item()) and v.item() > 0 for v in losses.values())
    assert torch.allclose(losses["total"], sum(losses[k] for k in SIAM_WEIGHTS))
    assert all("head" in name for name, _ in siam.named_parameters())
    w = siam.teacher.distill_widths        # SCTNet-S taps: x_out 128, x5 256, x3 128 channels
    assert sum(p.numel() for p in siam.parameters()) == (128 * w["concat"] + w["concat"] + 256 * w["stage4"] + w["stage4"]
                                                         + 128 * w["stage3"] + w["stage3"])
    if type(siam.teacher).__name__ == "SegFormer":   # MiT-B0: exactly the reference's projection sizes
        assert (w["concat"], w["stage4"], w["stage3"]) == (1024, 256, 160)


def test_siam_is_zero_when_teacher_maps_equal_the_student_maps(siam_setup):
    student, _, siam, x = siam_setup
    s_out, t_out = student.forward_train(x), siam.run_teacher(x)
    with torch.no_grad():
        maps = siam.student_maps(s_out, t_out)
    t_same = dict(t_out, **{TEACHER_KEYS[k]: v for k, v in maps.items()})
    losses = siam(s_out, t_same)
    assert all(abs(v.item()) < 1e-4 for v in losses.values())


def test_siam_gradients_reach_projections_through_a_frozen_teacher_head(siam_setup):
    student, teacher, siam, x = siam_setup
    before = {k: v.clone() for k, v in teacher.state_dict().items()}
    opt = torch.optim.SGD(list(student.parameters()) + list(siam.parameters()), lr=0.1)
    teacher.train()   # SIAM must put it back in eval itself
    losses = siam(student.forward_train(x), siam.run_teacher(x))
    losses["total"].backward()
    assert not teacher.training
    assert siam.sdha_head.weight.grad is not None and siam.sdha_head.weight.grad.abs().sum() > 0
    assert siam.bfa_head_stage4.weight.grad.abs().sum() > 0
    assert student.backbone.stem[0].conv.weight.grad.abs().sum() > 0
    assert all(p.grad is None and not p.requires_grad for p in teacher.parameters())
    opt.step()
    after = teacher.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "teacher weights or BN statistics changed"
    assert "teacher" not in dict(siam.named_modules()) and not any(k.startswith("teacher") for k in siam.state_dict())


def test_siam_rejects_a_teacher_without_the_teacher_protocol():
    with pytest.raises(ValueError, match="SCTNet cannot be a SIAM teacher: it needs distill_widths"):
        SIAM(build_model("sctnet-s", num_classes=3), build_model("sctnet-s", num_classes=3))


def test_siam_rejects_a_student_without_distill_channels():
    with pytest.raises(ValueError, match="distill_channels"):
        SIAM(build_model("segformer-b0", num_classes=3), build_model("segformer-b0", num_classes=3))
