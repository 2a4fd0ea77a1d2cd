"""One rank of the DDP test (tests/test_ddp.py), started by torchrun: trains through the real run loop with this
rank's own run directory (so the test can see which ranks write), and records what it observed.

  python -m torch.distributed.run --standalone --nproc_per_node 2 tests/ddp_worker.py RECIPE OUT_BASE [RESUME] [STOP]
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from segd_train.engine import runner  # noqa: E402
from segd_train.engine.config import load_config  # noqa: E402
from segd_train.engine.runner import RunOptions, run_training  # noqa: E402
from segd_train.engine.sync_bn import CpuSyncBatchNorm  # noqa: E402

seen: dict[str, object] = {}
_wrap = runner.wrap_ddp


def observed_wrap(module: nn.Module, device: torch.device) -> nn.Module:
    """The real wrap_ddp; records what it made of the model."""
    wrapped = _wrap(module, device)
    seen["ddp"] = isinstance(wrapped, nn.parallel.DistributedDataParallel)
    seen["sync_bn"] = sum(isinstance(m, (nn.SyncBatchNorm, CpuSyncBatchNorm)) for m in wrapped.modules())
    seen["plain_bn"] = sum(type(m) is nn.BatchNorm2d for m in wrapped.modules())
    seen["model_bn"] = sum(isinstance(m, nn.BatchNorm2d) for m in module.modules())
    return wrapped


runner.wrap_ddp = observed_wrap


def main() -> None:
    recipe, base = Path(sys.argv[1]), Path(sys.argv[2])
    resume = Path(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3] != "-" else None
    stop = int(sys.argv[4]) if len(sys.argv) > 4 else None
    rank = int(os.environ["RANK"])
    out = base / f"rank{rank}"
    result = run_training(load_config(recipe), RunOptions(out_dir=out, device=torch.device("cpu"), resume=resume,
                                                          stop_at_step=stop, progress=False))
    (base / f"observed-rank{rank}.json").write_text(json.dumps(
        {**seen, "world_size": int(os.environ["WORLD_SIZE"]), "losses": result.losses, "step": result.step}))


if __name__ == "__main__":
    main()
