"""One training step (torchvision-references style): forward, losses, backward, optimizer + LR step."""
from __future__ import annotations

import math
from contextlib import nullcontext

import torch
from torch import nn

from ..losses.criterion import Criterion
from ..losses.siam import teacher_targets


class TrainForward(nn.Module):
    """The trainable graph of one step — the model's `forward_train` plus, when distilling, SIAM — as ONE
    module, so a DistributedDataParallel wrapper around it synchronises every trainable gradient."""

    def __init__(self, model: nn.Module, siam: nn.Module | None = None) -> None:
        super().__init__()
        self.model = model
        self.siam = siam

    def forward(self, x: torch.Tensor, teacher_out: dict[str, torch.Tensor] | None = None
                ) -> tuple[dict, dict[str, torch.Tensor] | None]:
        out = self.model.forward_train(x)
        if self.siam is None or teacher_out is None:
            return out, None
        return out, self.siam(out, teacher_out)


def autocast_for(device: torch.device, amp: str):
    """Mixed precision on CUDA only (bf16 or fp16); CPU always runs fp32."""
    if device.type != "cuda" or amp == "none":
        return nullcontext()
    return torch.autocast("cuda", dtype=torch.bfloat16 if amp == "bf16" else torch.float16)


def train_one_step(step_module: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                   optimizer: torch.optim.Optimizer, scheduler: torch.optim.lr_scheduler.LRScheduler,
                   criterion: Criterion, *, teacher: nn.Module | None = None, amp: str = "none",
                   scaler: torch.amp.GradScaler | None = None) -> dict[str, float]:
    """`step_module` is a TrainForward (possibly DDP-wrapped). The teacher, if any, runs in eval mode under
    no_grad on the same normalised crop. Returns the loss terms as floats plus the lr used."""
    step_module.train()
    teacher_out = None
    with autocast_for(images.device, amp):
        if teacher is not None:
            teacher_out = teacher_targets(teacher, images)
        out, siam_losses = step_module(images, teacher_out)
        losses = criterion(out, labels, siam_losses)
    total = losses["total"]
    # One device→host copy for every term (not one sync per term), before any weight changes.
    values = dict(zip(losses, torch.stack([v.detach().float() for v in losses.values()]).tolist()))
    if not all(map(math.isfinite, values.values())):
        raise FloatingPointError(f"non-finite loss at this step: {values}")
    optimizer.zero_grad(set_to_none=True)
    lr = optimizer.param_groups[0]["lr"] / optimizer.param_groups[0].get("lr_mult", 1.0)
    if scaler is not None and scaler.is_enabled():
        scaler.scale(total).backward()
        scaler.step(optimizer)
        scaler.update()
    else:
        total.backward()
        optimizer.step()
    scheduler.step()
    values["lr"] = lr
    return values
