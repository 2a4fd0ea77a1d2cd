"""Online hard example mining cross-entropy, the two flavours the seed recipes use.

Both resize the logits to the label size first (bilinear, the model's align_corners) and pool the whole
batch into one list of pixels, as the references do per GPU: under DDP the counts below are per process.

- `ohem_ranked_ce` — STDC-Seg (facts sheet §2.5, pitfall 4): per-pixel CE where ignored pixels give 0 but
  stay in the list; sorted descending; if the loss at 0-based index n_min (the reference's `loss[n_min]`)
  exceeds −log(thresh), the mean of every loss > −log(thresh), else the mean of the top n_min.
- `ohem_prob_ce` — SFNet / SFNet-Lite (§3.7): p = softmax probability of the label class, ignored pixels
  masked out; with at least min_kept valid pixels, keep those with p ≤ max(thresh, min_kept-th smallest p),
  otherwise keep every valid pixel; CE averaged over the kept pixels.

Both are written without a data-dependent branch (the two outcomes are computed and selected with
torch.where), so a CUDA step never waits on a host synchronisation here.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .ce import resize_to_target


def ohem_ranked_ce(logits: torch.Tensor, target: torch.Tensor, ignore_index: int, *, thresh: float = 0.7,
                   n_min: int, align_corners: bool = False) -> torch.Tensor:
    """STDC's loss-ranked OHEM CE over N×K×h×w `logits` and N×H×W `target`; see the module docstring."""
    if not 0.0 < thresh <= 1.0:
        raise ValueError(f"ohem thresh must be a probability in (0, 1], got {thresh}")
    if n_min < 1:
        raise ValueError(f"ohem n_min must be at least 1, got {n_min}")
    logits = resize_to_target(logits, target, align_corners)
    loss = F.cross_entropy(logits, target.long(), ignore_index=ignore_index, reduction="none").flatten()
    loss_thresh = -math.log(thresh)
    hard = loss > loss_thresh
    # sorted[n_min] > t  ⇔  more than n_min losses exceed t (sorted descending).
    use_hard = hard.sum() > n_min
    hard_mean = (loss * hard).sum() / hard.sum().clamp_min(1)
    top_mean = loss.topk(min(n_min, loss.numel())).values.mean()
    return torch.where(use_hard, hard_mean, top_mean)


def ohem_prob_ce(logits: torch.Tensor, target: torch.Tensor, ignore_index: int, *, thresh: float = 0.7,
                 min_kept: int, align_corners: bool = False) -> torch.Tensor:
    """SFNet's probability-based OHEM CE over N×K×h×w `logits` and N×H×W `target`; see the module docstring.
    A batch with no valid pixel gives 0 (the reference's mean over nothing would be NaN)."""
    if not 0.0 < thresh <= 1.0:
        raise ValueError(f"ohem thresh must be a probability in (0, 1], got {thresh}")
    if min_kept < 1:
        raise ValueError(f"ohem min_kept must be at least 1, got {min_kept}")
    logits = resize_to_target(logits, target, align_corners)
    target = target.long()
    valid = target != ignore_index
    safe = torch.where(valid, target, torch.zeros_like(target))
    loss = F.cross_entropy(logits, target, ignore_index=ignore_index, reduction="none")
    with torch.no_grad():
        # Ignored pixels get p = 1, as in the reference, so they sort last and never fall under a threshold < 1.
        p = logits.float().softmax(1).gather(1, safe[:, None])[:, 0].masked_fill(~valid, 1.0)
        kth = p.flatten().kthvalue(min(min_kept, p.numel())).values
        threshold = torch.clamp(kth, min=thresh)
        mined = valid & (p <= threshold)
        kept = torch.where(valid.sum() >= min_kept, mined, valid)
    return (loss * kept).sum() / kept.sum().clamp_min(1)
