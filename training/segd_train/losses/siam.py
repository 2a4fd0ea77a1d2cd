"""SIAM = BFA + SDHA: SCTNet's training-time alignment of the student to a frozen transformer teacher.

Four CWD pairs (facts sheet §1.7), weighted 3 / 15 / 15 / 15:
- sdha_logits:  teacher logits (K @1/4)          vs  teacher cls_seg(s1)
- sdha_feature: teacher decoder feature (@1/4)     vs s1 = teacher fusion_conv(p̃)
- bfa_stage4:   transformer stage-4 output (@1/32) vs  1×1 conv on x5
- bfa_stage3:   transformer stage-3 output (@1/16) vs  1×1 conv on x3
SDHA: p = 1×1 conv on the student's x_out (SCTNet: backbone output @1/8; any student: the decoder feature
that feeds its main classifier, @1/8 or @1/4), resized to the teacher's 1/4 when it is not there already,
re-standardised per channel with the teacher concat feature's statistics (unbiased std, eps 1e-6),
then run through the teacher's own fusion_conv and cls_seg. Those two are frozen with
requires_grad=False and kept in eval mode — never detached — so gradients reach the projection
while their weights never change.

Any student works: the projections are sized from `student.distill_channels` (models/interface.py), so
SCTNet (x_out 4C, x3 4C, x5 8C), STDC-Seg (FFM 256, feat16 512, feat32 1024) and SFNet (fused d @1/4, backbone
@1/16 and @1/32) all plug in; for SCTNet this is exactly the reference's 4C→1024 / 4C→320 / 8C→512 convs.

Any teacher works that follows the teacher protocol (`check_teacher`): `distill_widths` {"stage3", "stage4",
"concat"} sizes the projections, `forward_train` returns TEACHER_MAPS, and `head_tail(concat feature)` →
(decoder feature, logits) runs its own head tail — SegFormer (models/segformer.py) and the hybrid EfficientNet-Lite
+ MiT teacher (models/hybrid.py) both do.

The projections are named `*_head*` so the trainer's ×10 "head" learning-rate rule applies to them
(as in the reference, where they live in a decode head). The teacher is referenced, not registered:
it is not in SIAM's parameters()/state_dict() and `.to()` does not move it.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..models.interface import distill_channels_of
from .cwd import cwd_loss

SIAM_WEIGHTS = {"sdha_logits": 3.0, "sdha_feature": 15.0, "bfa_stage4": 15.0, "bfa_stage3": 15.0}
TEACHER_KEYS = {"sdha_logits": "logits", "sdha_feature": "decoder_feature", "bfa_stage4": "stage4",
                "bfa_stage3": "stage3"}
TEACHER_MAPS = ("logits", "decoder_feature", "concat_feature", "stage3", "stage4")   # forward_train's keys
WIDTH_KEYS = ("stage3", "stage4", "concat")


def check_teacher(teacher: nn.Module) -> dict[str, int]:
    """The teacher protocol's widths, or a ValueError naming what the teacher lacks."""
    widths = getattr(teacher, "distill_widths", None)
    if (not isinstance(widths, dict) or any(not isinstance(widths.get(k), int) for k in WIDTH_KEYS)
            or not callable(getattr(teacher, "head_tail", None))):
        raise ValueError(f"{type(teacher).__name__} cannot be a SIAM teacher: it needs distill_widths with integer "
                         f"{list(WIDTH_KEYS)} and head_tail(concat) → (decoder_feature, logits)")
    return {k: widths[k] for k in WIDTH_KEYS}


def restandardise(student: torch.Tensor, teacher: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Give each student channel the teacher channel's mean and (unbiased) std, stats over N, H, W."""
    dims = (0, 2, 3)
    s_mean, s_std = student.mean(dims, keepdim=True), student.std(dims, keepdim=True)
    t_mean, t_std = teacher.mean(dims, keepdim=True), teacher.std(dims, keepdim=True)
    return (student - s_mean) / (s_std + eps) * t_std + t_mean


def match_size(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """Resize the student map to the larger H and W of the two when sizes differ (bilinear, no corners)."""
    if student.shape[2:] == teacher.shape[2:]:
        return student
    size = (max(student.shape[2], teacher.shape[2]), max(student.shape[3], teacher.shape[3]))
    return F.interpolate(student, size=size, mode="bilinear", align_corners=False)


def teacher_targets(teacher: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Teacher targets for a normalised batch: eval mode, no autograd graph."""
    teacher.eval()
    with torch.no_grad():
        return teacher.forward_train(x)


class SIAM(nn.Module):
    def __init__(self, student: nn.Module, teacher: nn.Module) -> None:
        """`student`: the student network (only its distill_channels are read; it is not kept)."""
        super().__init__()
        widths = check_teacher(teacher)
        channels = distill_channels_of(student)
        self.sdha_head = nn.Conv2d(channels["x_out"], widths["concat"], 1)
        self.bfa_head_stage4 = nn.Conv2d(channels["x5"], widths["stage4"], 1)
        self.bfa_head_stage3 = nn.Conv2d(channels["x3"], widths["stage3"], 1)
        for conv in (self.sdha_head, self.bfa_head_stage4, self.bfa_head_stage3):
            nn.init.kaiming_normal_(conv.weight, mode="fan_out", nonlinearity="relu")
            nn.init.zeros_(conv.bias)
        teacher.requires_grad_(False)
        teacher.eval()
        object.__setattr__(self, "teacher", teacher)

    def run_teacher(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return teacher_targets(self.teacher, x)

    def student_maps(self, student_out: dict[str, torch.Tensor],
                     teacher_out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """The student side of each pair, keyed like SIAM_WEIGHTS (before any resize to the teacher size)."""
        self.teacher.eval()   # the reference forces eval on every call: running BN stats, no dropout
        concat_t = teacher_out["concat_feature"].detach()
        p = self.sdha_head(student_out["x_out"])
        if p.shape[2:] != concat_t.shape[2:]:
            p = F.interpolate(p, size=concat_t.shape[2:], mode="bilinear", align_corners=False)
        s1, s1_logits = self.teacher.head_tail(restandardise(p, concat_t))
        return {"sdha_logits": s1_logits, "sdha_feature": s1,
                "bfa_stage4": self.bfa_head_stage4(student_out["x5"]),
                "bfa_stage3": self.bfa_head_stage3(student_out["x3"])}

    def forward(self, student_out: dict[str, torch.Tensor],
                teacher_out: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Weighted CWD per pair plus "total" (their sum)."""
        maps = self.student_maps(student_out, teacher_out)
        losses = {}
        for name, s in maps.items():
            t = teacher_out[TEACHER_KEYS[name]].detach()
            losses[name] = SIAM_WEIGHTS[name] * cwd_loss(t, match_size(s, t))
        losses["total"] = torch.stack(list(losses.values())).sum()
        return losses
