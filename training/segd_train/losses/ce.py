"""Segmentation cross-entropy, mmseg-0.26 style.

Decision (facts sheet pitfall 4): by default the mean runs over *all* pixels — ignored pixels
contribute zero loss but count in the denominator (mmseg's avg_non_ignore=False, which the SCTNet
recipe uses). Kept for fidelity to the recipe, and because it stays finite (0) on a crop that is
entirely ignore label, where the valid-pixel mean would be 0/0. With CamVid's small void share the
two differ by a near-constant factor that AdamW is insensitive to. `avg_non_ignore=True` gives
the valid-pixel mean.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F


def resize_to_target(logits: torch.Tensor, target: torch.Tensor, align_corners: bool) -> torch.Tensor:
    """N×K×h×w logits resized bilinear to the N×H×W target's H×W (the model's own align_corners)."""
    if target.ndim != 3 or logits.ndim != 4 or logits.shape[0] != target.shape[0]:
        raise ValueError(f"expected logits N×K×h×w and target N×H×W, got {tuple(logits.shape)} and {tuple(target.shape)}")
    if logits.shape[2:] == target.shape[1:]:
        return logits
    return F.interpolate(logits, size=target.shape[1:], mode="bilinear", align_corners=align_corners)


def seg_ce_loss(logits: torch.Tensor, target: torch.Tensor, ignore_index: int, *,
                avg_non_ignore: bool = False, align_corners: bool = False) -> torch.Tensor:
    """CE of N×K×h×w `logits` against N×H×W integer `target`, logits resized bilinear to H×W first
    (`align_corners` as the model resizes its logits; SCTNet False)."""
    logits = resize_to_target(logits, target, align_corners)
    per_pixel = F.cross_entropy(logits, target.long(), ignore_index=ignore_index, reduction="none")
    if avg_non_ignore:
        valid = (target != ignore_index).sum().clamp_min(1)
        return per_pixel.sum() / valid
    return per_pixel.mean()
