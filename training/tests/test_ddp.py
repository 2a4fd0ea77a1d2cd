"""DDP on CPU (gloo), through torchrun and the real run loop: 2 processes × batch 2 against 1 process × batch 4.

Same global batch, so the same optimisation, provided every per-rank quantity is a mean over equally many
elements. That is arranged, and it is what makes the comparison exact up to float32 rounding:
- the augmentation is deterministic (scale 1, crop = base size, no flip, no photometric), so rank r's two
  images are exactly images 2r, 2r+1 of the single process's batch of four;
- the labels have no ignored pixel (CamVid's void mapped to class 0), so each rank's CE mean is over the same
  pixel count and the mean of the two ranks' losses is the single process's loss; DDP's gradient average is
  then the single process's gradient;
- BatchNorm becomes SyncBN, so batch statistics are over all four images as in the single process;
- STDC1-Seg has no dropout / stochastic depth (their masks would come from per-rank RNG streams);
- SGD, not AdamW: Adam divides by √v, which turns a 1e-9 gradient difference on a near-zero gradient into a
  full lr-sized step; SGD moves weights by lr × the gradient difference.
What remains is summation order (gloo's all-reduce, SyncBN's split sums): ~1e-7 relative. Tolerances: losses
1e-5 relative, weights and BN running statistics 1e-5 absolute (weights are O(0.1–1)). Measured: the losses of
steps 1–3 agree to 1e-6 relative; from step 4 they drift (see the xfail below), which is not explained yet.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import write_recipe
from segd_train.engine.config import load_config
from segd_train.engine.runner import RunOptions, run_training

HERE = Path(__file__).resolve().parent
STEPS = 4


@pytest.fixture(scope="module")
def void_free_camvid(camvid_root, tmp_path_factory) -> Path:
    """8 train + 2 val real CamVid frames whose void pixels are relabelled as class 0."""
    root = tmp_path_factory.mktemp("camvid-novoid")
    shutil.copy(camvid_root / "classes.json", root / "classes.json")
    void = json.loads((camvid_root / "classes.json").read_text())["ignore_index"]
    for split, n in (("train", 8), ("val", 2)):
        (root / split / "images").mkdir(parents=True)
        (root / split / "labels").mkdir(parents=True)
        for img in sorted((camvid_root / split / "images").glob("*.jpg"))[:n]:
            shutil.copy(img, root / split / "images" / img.name)
            label = np.array(Image.open(camvid_root / split / "labels" / f"{img.stem}.png"))
            label[label == void] = 0
            Image.fromarray(label).save(root / split / "labels" / f"{img.stem}.png")
    return root


def recipe(path: Path, data_root: Path, batch_size: int) -> Path:
    return write_recipe(path, name="ddp", model="stdc1-seg", data_root=str(data_root), train_limit=8, val_limit=2,
                        crop=[48, 64], base_size=[48, 64], scale_range=[1.0, 1.0], flip_p=0.0, photometric=False,
                        batch_size=batch_size, iterations=STEPS, optimizer="sgd", lr=0.001, momentum=0.9,
                        weight_decay=1e-4, warmup_iters=1, checkpoint_interval=2, val_interval=100, num_threads=1)


def torchrun(recipe_path: Path, base: Path, resume: Path | None = None, stop: int | None = None) -> list[dict]:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           str(HERE / "ddp_worker.py"), str(recipe_path), str(base), str(resume) if resume else "-"]
    if stop is not None:
        cmd.append(str(stop))
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR",
                                                            "MASTER_PORT")}
    env["OMP_NUM_THREADS"] = "1"
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return [json.loads((base / f"observed-rank{r}.json").read_text()) for r in range(2)]


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> tuple[float, str]:
    assert a.keys() == b.keys()
    diffs = [((a[k].double() - b[k].double()).abs().max().item(), k) for k in a if a[k].is_floating_point()]
    return max(diffs)


@pytest.fixture(scope="module")
def runs(void_free_camvid, tmp_path_factory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("ddp")
    single = run_training(load_config(recipe(tmp / "single.yaml", void_free_camvid, 4)),
                          RunOptions(out_dir=tmp / "single", device=torch.device("cpu"), progress=False))
    two = recipe(tmp / "two.yaml", void_free_camvid, 2)
    straight = torchrun(two, tmp / "straight")
    torchrun(two, tmp / "first-half", stop=2)
    resumed = torchrun(two, tmp / "resumed", resume=tmp / "first-half" / "rank0" / "last.pt")
    return {"tmp": tmp, "single": single, "straight": straight, "resumed": resumed}


def test_two_processes_compute_the_same_losses_as_one(runs):
    """Steps 1–2: the forward pass (SyncBN statistics over both ranks included) and the first update (lr 1e-8
    at warm-up step 1) agree with the single process to float32 rounding."""
    single = runs["single"]
    for step in (1, 2):
        ddp = np.mean([r["losses"][str(step)] for r in runs["straight"]])
        assert abs(ddp - single.losses[step]) <= 1e-5 * abs(single.losses[step]), (step, ddp, single.losses[step])


@pytest.mark.xfail(strict=True, reason="open: after the first full-lr update the 2-process run drifts from the "
                   "1-process run (48×64, SGD lr 1e-3: loss 1e-6 relative at step 3, 3e-4 at step 4; BN running "
                   "variances 1e-3 apart after 4 steps); the cause is not found yet")
def test_two_processes_train_the_same_weights_as_one(runs):
    tmp, single = runs["tmp"], runs["single"]
    for step in range(1, STEPS + 1):
        ddp = np.mean([r["losses"][str(step)] for r in runs["straight"]])
        assert abs(ddp - single.losses[step]) <= 1e-5 * abs(single.losses[step]), (step, ddp, single.losses[step])
    diff, key = max_diff(weights(tmp / "single" / "last.pt"), weights(tmp / "straight" / "rank0" / "last.pt"))
    assert diff <= 1e-5, f"{key} differs by {diff:.2e}"


def test_the_weights_moved(runs):
    """The comparisons above are about a run that trains: 4 steps move weights far beyond the tolerances."""
    tmp = runs["tmp"]
    moved, _ = max_diff(weights(tmp / "single" / "last.pt"), weights(tmp / "first-half" / "rank0" / "last.pt"))
    assert moved > 1e-3


def test_batchnorm_becomes_syncbn_under_ddp(runs):
    for rank in runs["straight"]:
        assert rank["ddp"] and rank["world_size"] == 2
        assert rank["plain_bn"] == 0 and rank["sync_bn"] == rank["model_bn"] > 0


def test_only_rank_zero_writes_checkpoints_and_logs(runs):
    tmp = runs["tmp"]
    assert {p.name for p in (tmp / "straight" / "rank0").glob("*.pt")} == {"last.pt", "best.pt"}
    written = [p for p in (tmp / "straight" / "rank1").rglob("*") if p.is_file() and p.stat().st_size > 0]
    assert written == [], written


def test_resume_under_ddp_continues_the_same_run(runs):
    tmp = runs["tmp"]
    for straight, resumed in zip(runs["straight"], runs["resumed"]):
        for step in (3, 4):
            assert resumed["losses"][str(step)] == pytest.approx(straight["losses"][str(step)], rel=1e-6)
        assert "1" not in resumed["losses"]
    diff, key = max_diff(weights(tmp / "straight" / "rank0" / "last.pt"), weights(tmp / "resumed" / "rank0" / "last.pt"))
    assert diff <= 1e-6, f"{key} differs by {diff:.2e}"
    ck = torch.load(tmp / "resumed" / "rank0" / "last.pt", map_location="cpu", weights_only=True)
    assert ck["world_size"] == 2 and len(ck["rank_rng"]) == 2
