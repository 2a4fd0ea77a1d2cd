"""CutMix across the frames of a batch, for segmentation (French et al., BMVC 2020; as "function matching" inputs,
Beyer et al., CVPR 2022).

Each sample, with probability `p`, gets one box of another sample of the same batch pasted in, its labels with
it. The batch sampler draws frames from every training drive, so a box often carries another drive's street into
the frame: inputs no labelled frame looks like. A distilling student sees the mixed batch and so does its teacher
(`train_one_step` runs the teacher on the very tensor the student gets), so the teacher's targets describe the
mixed image the student is asked about — Beyer et al.'s "consistent teacher". Without a teacher it is plain CutMix.

The box covers `area` of the crop (uniform in [0.25, 0.5], French et al.'s CutMix for segmentation draws one box of
half the image) at a random aspect ratio; the donor is a random other sample of the batch. Every random number
comes from the caller's generator (checkpointed with the run), so a resumed run mixes exactly as the uninterrupted
one would.
"""
from __future__ import annotations

import math

import torch

AREA = (0.25, 0.5)
LOG_ASPECT = math.log(2.0)   # aspect ratio in [1/2, 2]


def cutmix(images: torch.Tensor, labels: torch.Tensor, p: float, generator: torch.Generator
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """images B×C×H×W, labels B×H×W (same device) → mixed copies; the inputs are not changed. p = 0 returns them."""
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"cutmix p must be in [0, 1], got {p}")
    b, _, h, w = images.shape
    if p == 0.0 or b < 2:
        return images, labels
    # Draw everything every call, whether or not a sample mixes, so the stream's position depends on the step only.
    mixes = torch.rand(b, generator=generator) < p
    donors = (torch.arange(b) + torch.randint(1, b, (b,), generator=generator)) % b   # never the sample itself
    area = torch.empty(b).uniform_(*AREA, generator=generator)
    aspect = torch.exp(torch.empty(b).uniform_(-LOG_ASPECT, LOG_ASPECT, generator=generator))
    corner = torch.rand(b, 2, generator=generator)
    box_h = (torch.sqrt(area * aspect) * h).round().clamp(1, h).long()
    box_w = (torch.sqrt(area / aspect) * w).round().clamp(1, w).long()
    top = (corner[:, 0] * (h - box_h + 1)).floor().long()
    left = (corner[:, 1] * (w - box_w + 1)).floor().long()
    out_images, out_labels = images.clone(), labels.clone()
    for i in torch.nonzero(mixes).flatten().tolist():
        j, y0, x0 = int(donors[i]), int(top[i]), int(left[i])
        y1, x1 = y0 + int(box_h[i]), x0 + int(box_w[i])
        out_images[i, :, y0:y1, x0:x1] = images[j, :, y0:y1, x0:x1]
        out_labels[i, y0:y1, x0:x1] = labels[j, y0:y1, x0:x1]
    return out_images, out_labels
