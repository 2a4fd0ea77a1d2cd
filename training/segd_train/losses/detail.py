"""STDC-Seg's detail guidance: Laplacian detail ground truth and BCE + Dice loss (facts sheet §2.4).

Target, from the integer label map L (N×H×W) as float at full label resolution:
1. Convolve L with the Laplacian [[-1,-1,-1],[-1,8,-1],[-1,-1,-1]] (zero padding 1) at strides 1, 2, 4;
   clamp at ≥ 0; resize the stride-2/4 maps nearest-neighbour to H×W; threshold each at > 0.1.
2. Fuse the three binary maps with the 1×1 weights [0.6, 0.3, 0.1] and threshold at > 0.1 again. A pixel
   flagged only at stride 4 scores exactly 0.1, which is not > 0.1, so the effective target is s1 OR s2.
   (The reference also computes a stride-8 map and never uses it; it is not computed here.)

Deliberate choices, as the reference does them:
- The ignore label is NOT masked: it is a class value like any other in L, so the borders of ignored
  regions count as detail (reference: 255; CamVid's void 11 here). Likewise the zero padding makes the
  image frame a "detail" wherever its class id is not 0 (8c minus fewer than 8 neighbours of c).
- The fuse weights are constants, not an `nn.Parameter`. In the reference they are a Parameter whose
  gradient is always zero (the target is re-binarised in place), yet SGD weight decay with momentum still
  shrinks them ≈5× over 60k iterations, so the 0.3 falls below the 0.1 threshold near iteration 29k and
  stride-2 edges silently stop counting. Constants keep the target the method describes.

Loss: the 1/8 detail logits are resized bilinear (align_corners=True) to H×W; BCE-with-logits (mean over
all pixels) + Dice(sigmoid(logits), target) computed per sample as 1 − (2Σpt + 1)/(Σp + Σt + 1) and
averaged over the batch. Both returned separately; the reference weighs each by 1.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

LAPLACIAN = ((-1.0, -1.0, -1.0), (-1.0, 8.0, -1.0), (-1.0, -1.0, -1.0))
FUSE_WEIGHTS = (0.6, 0.3, 0.1)        # strides 1, 2, 4
THRESHOLD = 0.1
STRIDES = (1, 2, 4)
DICE_SMOOTH = 1.0


def edge_maps(labels: torch.Tensor) -> torch.Tensor:
    """N×H×W integer labels → N×3×H×W float {0,1}: the thresholded Laplacian maps at strides 1, 2, 4,
    each resized nearest-neighbour to H×W."""
    if labels.ndim != 3:
        raise ValueError(f"expected labels N×H×W, got shape {tuple(labels.shape)}")
    x = labels.to(torch.float32).unsqueeze(1)
    kernel = torch.tensor(LAPLACIAN, dtype=torch.float32, device=labels.device).reshape(1, 1, 3, 3)
    maps = []
    for stride in STRIDES:
        lap = F.conv2d(x, kernel, stride=stride, padding=1).clamp_min(0)
        if stride != 1:
            lap = F.interpolate(lap, size=x.shape[2:], mode="nearest")
        maps.append((lap > THRESHOLD).to(torch.float32))
    return torch.cat(maps, dim=1)


def detail_target(labels: torch.Tensor) -> torch.Tensor:
    """N×H×W integer labels → N×1×H×W float {0,1} detail ground truth (effectively s1 OR s2)."""
    maps = edge_maps(labels)
    weights = torch.tensor(FUSE_WEIGHTS, dtype=torch.float32, device=labels.device).reshape(1, 3, 1, 1)
    fused = (maps * weights).sum(dim=1, keepdim=True)
    return (fused > THRESHOLD).to(torch.float32)


def detail_loss(detail_logits: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
    """{"detail_bce", "detail_dice"} for N×1×h×w detail logits against N×H×W labels."""
    if detail_logits.ndim != 4 or detail_logits.shape[1] != 1:
        raise ValueError(f"expected detail logits N×1×h×w, got shape {tuple(detail_logits.shape)}")
    if labels.ndim != 3 or labels.shape[0] != detail_logits.shape[0]:
        raise ValueError(f"expected labels N×H×W with N={detail_logits.shape[0]}, got shape {tuple(labels.shape)}")
    with torch.no_grad():
        target = detail_target(labels)
    logits = detail_logits.float()
    if logits.shape[2:] != target.shape[2:]:
        logits = F.interpolate(logits, size=target.shape[2:], mode="bilinear", align_corners=True)
    bce = F.binary_cross_entropy_with_logits(logits, target)
    prob = torch.sigmoid(logits).flatten(1)
    flat = target.flatten(1)
    dice = 1 - (2 * (prob * flat).sum(1) + DICE_SMOOTH) / (prob.sum(1) + flat.sum(1) + DICE_SMOOTH)
    return {"detail_bce": bce, "detail_dice": dice.mean()}
