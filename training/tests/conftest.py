"""Shared test setup: import root, CPU threads, and the real CamVid data from ../shared.

CamVid is required (CI clones the repo with ../shared beside it); a missing copy fails loudly instead of
silently skipping the tests that need it.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch

TRAINING = Path(__file__).resolve().parents[1]
if str(TRAINING) not in sys.path:
    sys.path.insert(0, str(TRAINING))

torch.set_num_threads(2)  # the machine's 2 cores are shared with other work


@pytest.fixture(scope="session")
def camvid_root() -> Path:
    from segd_train.data import shared_dir
    root = shared_dir() / "data" / "camvid"
    if not (root / "classes.json").is_file():
        pytest.fail(f"CamVid not found at {root}: set SEGD_SHARED or place the shared data at ../shared")
    return root


def write_recipe(path: Path, **values: object) -> Path:
    """A complete tiny baseline recipe on real CamVid (tests override what they exercise)."""
    import yaml
    doc: dict[str, object] = {
        "name": "tiny", "task": "baseline", "model": "sctnet-s", "dataset": "camvid", "data_root": "data/camvid",
        "train_limit": 4, "val_limit": 2, "crop": [64, 64], "batch_size": 2, "iterations": 4, "lr": 4e-4,
        "weight_decay": 0.0125, "warmup_iters": 1, "log_interval": 1, "val_interval": 100,
        "checkpoint_interval": 100, "num_threads": 2, "eval_batch_size": 2,
    }
    doc.update(values)
    path.write_text(yaml.safe_dump(doc))
    return path
