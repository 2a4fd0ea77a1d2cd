"""Losses: segmentation CE, channel-wise distillation, SCTNet's SIAM alignment, STDC's detail loss."""
from .ce import seg_ce_loss
from .cwd import cwd_loss
from .detail import detail_loss, detail_target
from .siam import SIAM, SIAM_WEIGHTS

__all__ = ["SIAM", "SIAM_WEIGHTS", "cwd_loss", "detail_loss", "detail_target", "seg_ce_loss"]
