"""Synchronised BatchNorm for CPU processes (gloo): batch statistics over every rank's samples.

PyTorch's nn.SyncBatchNorm runs on GPUs only (its forward refuses CPU tensors and DDP refuses to wrap it on
CPU), so a CPU multi-process run — the DDP test, a multi-node CPU cluster — would otherwise train with per-rank
statistics, i.e. a different network function than the single-process run with the same global batch.
This is the same computation with differentiable collectives: per-channel sum and count, then the sum of
squared deviations from the global mean, are all-reduced (autograd all-reduces their gradients back); the global
mean and biased variance normalise, and the
running statistics take the unbiased variance over the global count, as BatchNorm does.
"""
from __future__ import annotations

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_fn
from torch import nn


class CpuSyncBatchNorm(nn.BatchNorm2d):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return super().forward(x)
        c = x.shape[1]
        count = torch.full((1,), x.numel() // c, dtype=x.dtype, device=x.device)
        packed = dist_fn.all_reduce(torch.cat([x.sum(dim=(0, 2, 3)), count]))
        n = packed[c]
        mean = packed[:c] / n
        # Two passes, not E[x²] − mean²: after a global pool a channel's few values can share a large mean,
        # and the one-pass difference then loses most of the variance to float32 cancellation.
        centred = x - mean[None, :, None, None]
        var = dist_fn.all_reduce((centred * centred).sum(dim=(0, 2, 3))) / n
        if self.track_running_stats and self.running_mean is not None and self.running_var is not None:
            with torch.no_grad():
                self.num_batches_tracked.add_(1)
                m = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.mul_(1 - m).add_(mean.detach(), alpha=m)
                self.running_var.mul_(1 - m).add_(var.detach() * n / (n - 1), alpha=m)
        y = centred * torch.rsqrt(var[None, :, None, None] + self.eps)
        if self.affine:
            y = y * self.weight[None, :, None, None] + self.bias[None, :, None, None]
        return y


def convert_cpu_sync_batchnorm(module: nn.Module) -> nn.Module:
    """Every nn.BatchNorm2d → CpuSyncBatchNorm sharing its parameters and buffers (as nn.SyncBatchNorm's
    converter does), so checkpoints of the plain model see the trained values."""
    if type(module) is nn.BatchNorm2d:
        out = CpuSyncBatchNorm(module.num_features, module.eps, module.momentum, module.affine,
                               module.track_running_stats)
        if module.affine:
            out.weight, out.bias = module.weight, module.bias
        out.running_mean, out.running_var = module.running_mean, module.running_var
        out.num_batches_tracked = module.num_batches_tracked
        out.train(module.training)
        return out
    for name, child in module.named_children():
        module.add_module(name, convert_cpu_sync_batchnorm(child))
    return module
