"""Losses: segmentation CE and OHEM CE, the per-step criterion, channel-wise distillation, SCTNet's SIAM
alignment, STDC's detail loss."""
from .ce import seg_ce_loss
from .criterion import LOSSES, Criterion
from .cwd import cwd_loss
from .detail import detail_loss, detail_target
from .ohem import ohem_prob_ce, ohem_ranked_ce
from .siam import SIAM, SIAM_WEIGHTS

__all__ = ["LOSSES", "SIAM", "SIAM_WEIGHTS", "Criterion", "cwd_loss", "detail_loss", "detail_target",
           "ohem_prob_ce", "ohem_ranked_ce", "seg_ce_loss"]
