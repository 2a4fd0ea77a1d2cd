"""Channel-wise distillation (CWD) loss with temperature 4, as SCTNet's alignment loss.

Per channel, a spatial KL(teacher ‖ student) between softmax(map / T) over H·W, summed over pixels,
averaged over N·C and multiplied by T².
"""
from __future__ import annotations

import torch

TEMPERATURE = 4.0


def cwd_loss(teacher: torch.Tensor, student: torch.Tensor, tau: float = TEMPERATURE) -> torch.Tensor:
    """CWD between same-shaped N×C×H×W maps; gradients flow into `student` only."""
    if teacher.shape != student.shape:
        raise ValueError(f"CWD needs equal shapes, got teacher {tuple(teacher.shape)} and student {tuple(student.shape)}")
    n, c, h, w = student.shape
    t = teacher.detach().reshape(n * c, h * w) / tau
    s = student.reshape(n * c, h * w) / tau
    p_t = t.softmax(dim=1)
    kl = (p_t * (t.log_softmax(dim=1) - s.log_softmax(dim=1))).sum()
    return kl * tau ** 2 / (n * c)
