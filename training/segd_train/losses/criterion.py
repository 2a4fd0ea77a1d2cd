"""The training loss of one step, for any model of the interface (training/README.md "Model interface").

total = L(main logits) + aux_weight · Σ L(each out["aux"] logits) + detail_weight · (BCE + Dice of
out["detail_logits"], when present) + SIAM total (when distilling), where L is the recipe's `loss`:
- "ce": mmseg CE over all pixels (SCTNet, SegFormer; losses/ce.py);
- "ohem-ranked": STDC-Seg's loss-ranked OHEM with n_min = ohem_min_kept (losses/ohem.py);
- "ohem-prob": SFNet's probability OHEM with min_kept = ohem_min_kept.
Every logits map is resized to the label with the model's own align_corners.

Terms are returned under names that read well as train.csv columns: "ce" (main, whatever `loss` is),
"<aux name>_ce" (e.g. "aux_ce", "aux16_ce"), "detail_bce", "detail_dice", the four SIAM pairs, "siam", "total".
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .ce import seg_ce_loss
from .ohem import ohem_prob_ce, ohem_ranked_ce

LOSSES = ("ce", "ohem-ranked", "ohem-prob")
ModelOutput = dict[str, torch.Tensor | dict[str, torch.Tensor]]


@dataclass(frozen=True)
class Criterion:
    ignore_index: int
    aux_weight: float = 0.4
    loss: str = "ce"
    ohem_thresh: float = 0.7
    ohem_min_kept: int | None = None   # n_min (ohem-ranked) / min_kept (ohem-prob), pixels per forward batch
    detail_weight: float = 1.0
    align_corners: bool = False        # the model's (models.interface.align_corners_of)

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {list(LOSSES)}, got {self.loss!r}")
        if self.loss != "ce" and (self.ohem_min_kept is None or self.ohem_min_kept < 1):
            raise ValueError(f"loss {self.loss!r} needs ohem_min_kept >= 1, got {self.ohem_min_kept!r}")

    def seg_loss(self, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The recipe's segmentation loss of one logits map against the N×H×W labels."""
        if self.loss == "ce":
            return seg_ce_loss(logits, target, self.ignore_index, align_corners=self.align_corners)
        assert self.ohem_min_kept is not None   # __post_init__
        if self.loss == "ohem-ranked":
            return ohem_ranked_ce(logits, target, self.ignore_index, thresh=self.ohem_thresh,
                                  n_min=self.ohem_min_kept, align_corners=self.align_corners)
        return ohem_prob_ce(logits, target, self.ignore_index, thresh=self.ohem_thresh,
                            min_kept=self.ohem_min_kept, align_corners=self.align_corners)

    def __call__(self, out: ModelOutput, target: torch.Tensor,
                 siam_losses: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """Every term and "total" for a model's forward_train output `out`."""
        main = out["logits"]
        assert isinstance(main, torch.Tensor)
        losses = {"ce": self.seg_loss(main, target)}
        total = losses["ce"]
        aux = out.get("aux", {})
        if not isinstance(aux, dict):
            raise ValueError(f"forward_train()['aux'] must be a dict of name → logits, got {type(aux).__name__}")
        if self.aux_weight > 0:
            for name, logits in aux.items():
                losses[f"{name}_ce"] = self.seg_loss(logits, target)
                total = total + self.aux_weight * losses[f"{name}_ce"]
        detail = out.get("detail_logits")
        if isinstance(detail, torch.Tensor) and self.detail_weight > 0:
            from .detail import detail_loss   # STDC-Seg's Laplacian detail supervision (losses/detail.py)
            for name, value in detail_loss(detail, target).items():
                losses[name] = value
                total = total + self.detail_weight * value
        if siam_losses is not None:
            losses.update({k: v for k, v in siam_losses.items() if k != "total"})
            losses["siam"] = siam_losses["total"]
            total = total + siam_losses["total"]
        losses["total"] = total
        return losses
