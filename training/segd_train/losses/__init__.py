"""Losses: segmentation CE and OHEM CE, the per-step criterion, channel-wise distillation, SIAM alignment."""
from .ce import seg_ce_loss
from .criterion import LOSSES, Criterion
from .cwd import cwd_loss
from .ohem import ohem_prob_ce, ohem_ranked_ce
from .siam import SIAM, SIAM_WEIGHTS

__all__ = ["LOSSES", "SIAM", "SIAM_WEIGHTS", "Criterion", "cwd_loss", "ohem_prob_ce", "ohem_ranked_ce",
           "seg_ce_loss"]
