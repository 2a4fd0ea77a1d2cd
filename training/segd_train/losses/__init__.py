"""Losses: segmentation CE, channel-wise distillation, and SCTNet's SIAM alignment."""
from .ce import seg_ce_loss
from .cwd import cwd_loss
from .siam import SIAM, SIAM_WEIGHTS

__all__ = ["SIAM", "SIAM_WEIGHTS", "cwd_loss", "seg_ce_loss"]
