"""DDP under torchrun, kept thin: init from the environment, SyncBN conversion, wrap, rank-0 checks.
Single-process runs never touch torch.distributed."""
from __future__ import annotations

import os
from collections.abc import Callable
from datetime import timedelta

import torch
from torch import nn

from .sync_bn import convert_cpu_sync_batchnorm


def world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main() -> bool:
    return int(os.environ.get("RANK", "0")) == 0


TIMEOUT_ENV = "SEGD_DIST_TIMEOUT_S"


def collective_timeout() -> timedelta:
    """How long a collective may wait for the other ranks before it raises (default PyTorch's 30 min). A rank
    that never arrives (crashed, or a collective only some ranks reach) then ends the run with an error naming the
    operation instead of a silent hang; the time must cover rank 0's validation, which the others wait out."""
    raw = os.environ.get(TIMEOUT_ENV, "1800")
    try:
        seconds = float(raw)
    except ValueError:
        raise ValueError(f"{TIMEOUT_ENV} must be a number of seconds, got {raw!r}") from None
    if seconds <= 0:
        raise ValueError(f"{TIMEOUT_ENV} must be positive, got {raw!r}")
    return timedelta(seconds=seconds)


def init_distributed(device: torch.device) -> torch.device:
    """Under torchrun (WORLD_SIZE > 1): join the process group and pick this rank's GPU."""
    if world_size() == 1:
        return device
    local = int(os.environ["LOCAL_RANK"])
    if device.type == "cuda":
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    torch.distributed.init_process_group("nccl" if device.type == "cuda" else "gloo", timeout=collective_timeout())
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


def shutdown(release: Callable[[], None], together: bool = True) -> None:
    """Leave the process group without gloo's teardown deadlock.

    The last reference to a ProcessGroupGloo (held by DDP's Reducer once destroy_process_group has dropped the
    registry's) runs its destructor on the main thread with the GIL held, and that destructor joins gloo's worker
    threads. A worker that is still releasing the last collective's work object (the final gather_object's, or a
    barrier that holds it) frees Python-owned tensors there, which needs the GIL: each waits for the other,
    forever. Rank 1 reached that point right after its last gather while rank 0 was still validating, so it hung
    now and then after rank 0 had finished. Here the ranks meet in a final barrier whose work object this thread
    keeps (it also keeps the works the barrier waited on), `release` drops the DDP wrapper, the group is destroyed
    — its workers hold nothing that needs the GIL — and only then is the barrier's work released.
    `together=False` (leaving on an error): no barrier, the other ranks may never come."""
    if world_size() == 1 or not torch.distributed.is_initialized():
        release()
        return
    last = torch.distributed.barrier(async_op=True) if together else None
    if last is not None:
        last.wait()
    release()
    torch.distributed.destroy_process_group()
    del last
