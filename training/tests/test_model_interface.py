"""The model interface read generically: align_corners in export/eval/fps, SIAM and head LR for any student."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segd_train.engine import InferenceGraph, build_optimizer, config_from_dict
from segd_train.export import SegmentationExport, export_onnx
from segd_train.losses import SIAM
from segd_train.models import build_model
from segd_train.models.interface import align_corners_of, distill_channels_of


class StubNet(nn.Module):
    """A tiny non-SCTNet student: logits and x_out @1/4 (like SFNet), x3 @1/16, x5 @1/32, its own head naming."""

    output_stride = 4
    head_prefixes = ("decoder.",)

    def __init__(self, num_classes: int = 5, align_corners: bool = True) -> None:
        super().__init__()
        self.num_classes = num_classes
        self.align_corners = align_corners
        self.stem = nn.Conv2d(3, 8, 4, stride=4)
        self.down16 = nn.Conv2d(8, 12, 4, stride=4)
        self.down32 = nn.Conv2d(12, 20, 2, stride=2)
        self.decoder = nn.Conv2d(8, 6, 3, padding=1)
        self.classifier_head = nn.Conv2d(6, num_classes, 1)   # "head" in the name, yet not in head_prefixes
        self.distill_channels = {"x_out": 6, "x3": 12, "x5": 20}

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_train(x)["logits"]

    def forward_train(self, x: torch.Tensor) -> dict:
        s4 = torch.relu(self.stem(x))
        x3 = self.down16(s4)
        feat = torch.relu(self.decoder(s4))
        return {"logits": self.classifier_head(feat), "aux": {}, "x_out": feat, "x3": x3, "x5": self.down32(x3)}


def test_defaults_for_models_without_the_optional_attributes():
    plain = nn.Conv2d(3, 2, 1)
    assert align_corners_of(plain) is False
    with pytest.raises(ValueError, match="distill_channels"):
        distill_channels_of(plain)
    assert build_model("sctnet-s", 3).align_corners is False and build_model("segformer-b0", 3).align_corners is False


class CoarseNet(nn.Module):
    """Logits at 1/16, so the two resize conventions disagree on many pixels."""

    align_corners = True

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 5, 16, stride=16)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


def test_export_and_fps_graph_resize_with_the_model_align_corners(tmp_path: Path):
    torch.manual_seed(0)
    net = CoarseNet().eval()
    h, w = 64, 96
    frames = np.random.default_rng(0).integers(0, 256, (2, h, w, 3), dtype=np.uint8)
    x = ((torch.from_numpy(frames).float() - torch.tensor([123.675, 116.28, 103.53]))
         / torch.tensor([58.395, 57.12, 57.375])).permute(0, 3, 1, 2)
    with torch.no_grad():
        logits = net(x)
        want = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=True).argmax(1)
        half_pixel = F.interpolate(logits, size=(h, w), mode="bilinear", align_corners=False).argmax(1)
        differ = want != half_pixel
        assert differ.float().mean() > 0.05, "the stub must tell the two resizes apart"
        assert torch.equal(SegmentationExport(net, h, w)(torch.from_numpy(frames)).long(), want)
        assert torch.equal(InferenceGraph(net)(x).argmax(1), want)
    path = export_onnx(net, tmp_path / "stub.onnx", h, w)
    got = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"frames": frames})[0]
    assert (got == want.numpy()).mean() >= 0.999
    assert (got[differ.numpy()] == want.numpy()[differ.numpy()]).mean() >= 0.99


def test_siam_on_a_non_sctnet_student_with_its_own_channels_and_strides():
    torch.manual_seed(0)
    teacher = build_model("segformer-b0", num_classes=5)
    student = StubNet().train()
    siam = SIAM(student, teacher)
    concat = teacher.head.fusion_conv[0].conv.in_channels
    assert siam.sdha_head.weight.shape[:2] == (concat, 6)
    assert siam.bfa_head_stage3.weight.shape[:2] == (teacher.spec.widths[2], 12)
    assert siam.bfa_head_stage4.weight.shape[:2] == (teacher.spec.widths[3], 20)
    x = torch.randn(2, 3, 64, 64)
    losses = siam(student.forward_train(x), siam.run_teacher(x))
    assert all(math.isfinite(v.item()) and v.item() > 0 for v in losses.values())
    losses["total"].backward()
    assert student.decoder.weight.grad.abs().sum() > 0 and student.down32.weight.grad.abs().sum() > 0
    assert siam.sdha_head.weight.grad.abs().sum() > 0


def _cfg(**kw: object):
    doc = {"name": "t", "task": "baseline", "model": "sctnet-s", "dataset": "camvid", "data_root": "data/camvid",
           "crop": [64, 64], "batch_size": 2, "iterations": 10, "lr": 1e-3, "weight_decay": 0.01, "warmup_iters": 0}
    doc.update(kw)
    return config_from_dict(doc, "test")


def test_head_prefixes_decide_the_head_lr_and_sgd_is_built_on_request():
    student = StubNet()
    siam = SIAM(student, build_model("segformer-b0", num_classes=5))
    opt = build_optimizer({"model": student, "siam": siam}, _cfg(optimizer="sgd", momentum=0.8))
    assert isinstance(opt, torch.optim.SGD)
    head = {n for g in opt.param_groups if g["lr_mult"] == 10.0 for n in g["names"]}
    assert {"model.decoder.weight", "model.decoder.bias"} <= head
    assert not any(n.startswith("model.classifier_head") for n in head)   # prefixes replace the substring rule
    assert any(n.startswith("siam.") for n in head)                       # SIAM keeps it
    assert all(g["momentum"] == 0.8 and g["weight_decay"] == pytest.approx(0.01) for g in opt.param_groups)
    assert isinstance(build_optimizer({"model": student}, _cfg()), torch.optim.AdamW)


def test_evaluate_resizes_with_the_model_align_corners(camvid_root: Path):
    from segd_train.data import DeviceSplit, camvid_dataset, normalize
    from segd_train.engine import confusion_matrix, evaluate
    torch.manual_seed(0)
    net = CoarseNet().eval()
    split = DeviceSplit.load(camvid_dataset(camvid_root, "val").subset(1), torch.device("cpu"))
    images, labels = split.gather(torch.arange(1))
    with torch.no_grad():
        logits = net(normalize(images.permute(0, 3, 1, 2)))
    conf = {ac: confusion_matrix(F.interpolate(logits, size=labels.shape[-2:], mode="bilinear", align_corners=ac)
                                 .argmax(1), labels, 11).numpy() for ac in (True, False)}
    assert not np.array_equal(conf[True], conf[False])
    assert np.array_equal(evaluate(net, split, 11).confusion, conf[True])
