"""DDP under torchrun, kept thin: init from the environment, SyncBN conversion, wrap, rank-0 checks.
Single-process runs never touch torch.distributed."""
from __future__ import annotations

import os

import torch
from torch import nn

from .sync_bn import convert_cpu_sync_batchnorm


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


def init_distributed(device: torch.device) -> torch.device:
    """Under torchrun (WORLD_SIZE > 1): join the process group and pick this rank's GPU."""
    if world_size() == 1:
        return device
    local = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def wrap_ddp(module: nn.Module, device: torch.device) -> nn.Module:
    """Plain BN becomes SyncBN only here (pitfall 1: the model itself always uses nn.BatchNorm2d): PyTorch's
    nn.SyncBatchNorm on GPUs, CpuSyncBatchNorm (engine/sync_bn.py) on CPU, where nn.SyncBatchNorm cannot run."""
    if world_size() == 1:
        return module
    if device.type == "cpu":
        module = convert_cpu_sync_batchnorm(module)
    else:
        module = nn.SyncBatchNorm.convert_sync_batchnorm(module)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(module, device_ids=ids)


def rank() -> int:
    return int(os.environ.get("RANK", "0"))


def agree(flag: bool, device: torch.device) -> bool:
    """Rank 0's decision for every rank (time-based decisions differ between processes; a collective that
    only some ranks enter would hang the others)."""
    if world_size() == 1:
        return flag
    t = torch.tensor([int(flag)], device=device)
    torch.distributed.broadcast(t, src=0)
    return bool(t.item())


def gather_to_main(obj: object) -> list[object] | None:
    """Every rank's `obj`, in rank order, on rank 0 (None elsewhere); every rank must call it."""
    if world_size() == 1:
        return [obj]
    out: list[object] | None = [None] * world_size() if is_main() else None
    torch.distributed.gather_object(obj, out, dst=0)
    return out


def barrier() -> None:
    if world_size() > 1:
        torch.distributed.barrier()


def shutdown() -> None:
    if world_size() > 1 and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()
