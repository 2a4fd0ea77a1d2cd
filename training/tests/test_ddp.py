"""DDP on CPU (gloo), through torchrun and the real run loop: 2 processes × batch 2 against 1 process × batch 4.

Same global batch, so the same optimisation, provided every per-rank quantity is a mean over equally many
elements. That is arranged:
- the augmentation is deterministic (scale 1, crop = base size, no flip, no photometric), so rank r's two
  images are exactly images 2r, 2r+1 of the single process's batch of four;
- the labels have no ignored pixel (CamVid's void mapped to class 0), so each rank's CE mean is over the same
  pixel count and the mean of the two ranks' losses is the single process's loss; DDP's gradient average is
  then the single process's gradient (the detail Dice is per image, so it averages the same way);
- BatchNorm becomes SyncBN, so batch statistics are over all four images as in the single process;
- STDC1-Seg has no dropout / stochastic depth (their masks would come from per-rank RNG streams);
- SGD, not AdamW: Adam divides by √v, which turns a 1e-9 gradient difference on a near-zero gradient into a
  full lr-sized step; SGD moves weights by lr × the gradient difference.
What remains is summation order (gloo's all-reduce, SyncBN's split sums, convolutions over 2 images instead of 4):
~1e-7 relative. Measured: losses of steps 1–3 within 1.2e-7 relative, weights after two updates within 1.6e-7,
BN running statistics within 1.5e-6. Tolerances: losses 1e-5 relative, weights and running statistics 1e-5
absolute (weights are O(0.1–1); two updates move them by far more, checked).

Why two updates and not more: this tiny STDC1-Seg (48×64 crops, 2×2 maps at 1/32, BN over four pooled 1×1
vectors) has a gradient that jumps with the last bit of a weight. After two updates a one-ulp change of one stem
weight moves the step-3 gradient by ~1% (norm, per tensor), so any change of summation order separates the runs
from the third update on: a single process run with 2 threads instead of 1 drifts from itself the same way
(step-4 loss 7e-5 apart at lr 1e-3) as 2 processes drift from 1 (3e-4). At step 3 the 2-process gradient equals a
single process's gradient at the 2-process weights to 2e-5: DDP computes the right gradient, the trajectory is
what is chaotic. Resuming is compared over the later steps instead: it must reproduce the same DDP run exactly.

Every torchrun has a hard timeout, and the ranks' collectives time out first (SEGD_DIST_TIMEOUT_S), so a rank
that waits for a collective the others never reach fails the test in about a minute with its stack, not at
a CI job's limit.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
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
COLLECTIVE_TIMEOUT_S = 60      # a rank stuck in a collective raises after this
TORCHRUN_TIMEOUT_S = 240       # and the whole torchrun is killed after this (normally ~20 s, more under load)


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
    env["SEGD_DIST_TIMEOUT_S"] = str(COLLECTIVE_TIMEOUT_S)
    base.mkdir(parents=True, exist_ok=True)
    log = base / "torchrun.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT)
        try:
            proc.wait(timeout=TORCHRUN_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            # torchrun starts each rank in its own session: kill the whole tree, ranks first.
            for pid in [*descendants(proc.pid), proc.pid]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.wait()
            pytest.fail(f"torchrun did not finish within {TORCHRUN_TIMEOUT_S} s (a rank hung):\n"
                        f"{log.read_text()[-4000:]}")
    assert proc.returncode == 0, log.read_text()[-6000:]
    return [json.loads((base / f"observed-rank{r}.json").read_text()) for r in range(2)]


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (children before grandchildren), from /proc."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        with contextlib.suppress(OSError):
            for child in (task / "children").read_text().split():
                out += [int(child), *descendants(int(child))]
    return out


def weights(path: Path) -> dict[str, torch.Tensor]:
    return torch.load(path, map_location="cpu", weights_only=True)["model"]


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], buffers: bool = False) -> tuple[float, str]:
    assert a.keys() == b.keys()
    is_buffer = ("running_mean", "running_var")
    diffs = [((a[k].double() - b[k].double()).abs().max().item(), k) for k in a
             if a[k].is_floating_point() and k.endswith(is_buffer) == buffers]
    return max(diffs)


@pytest.fixture(scope="module")
def runs(void_free_camvid, tmp_path_factory) -> dict[str, object]:
    tmp = tmp_path_factory.mktemp("ddp")
    one = load_config(recipe(tmp / "single.yaml", void_free_camvid, 4))
    run_training(one, RunOptions(out_dir=tmp / "init", device=torch.device("cpu"), progress=False, stop_at_step=0))
    single = run_training(one, RunOptions(out_dir=tmp / "single", device=torch.device("cpu"), progress=False,
                                          stop_at_step=2))
    two = recipe(tmp / "two.yaml", void_free_camvid, 2)
    straight = torchrun(two, tmp / "straight")
    first_half = torchrun(two, tmp / "first-half", stop=2)
    resumed = torchrun(two, tmp / "resumed", resume=tmp / "first-half" / "rank0" / "last.pt")
    return {"tmp": tmp, "single": single, "straight": straight, "first_half": first_half, "resumed": resumed}


def test_two_processes_compute_the_same_losses_as_one(runs):
    """Steps 1–2: the forward passes (SyncBN statistics over both ranks included) on the initial weights and
    after the warm-up update; the stopped run saw the same losses as the straight one."""
    for step in (1, 2):
        ddp = np.mean([r["losses"][str(step)] for r in runs["straight"]])
        want = runs["single"].losses[step]
        assert abs(ddp - want) <= 1e-5 * abs(want), (step, ddp, want)
        for straight, stopped in zip(runs["straight"], runs["first_half"]):
            assert stopped["losses"][str(step)] == pytest.approx(straight["losses"][str(step)], rel=1e-6)


def test_two_processes_train_the_same_weights_as_one(runs):
    """After two updates (warm-up, then full lr with momentum and weight decay): the weights and the BN running
    statistics of 2 processes equal 1 process's."""
    tmp = runs["tmp"]
    one, two = weights(tmp / "single" / "last.pt"), weights(tmp / "first-half" / "rank0" / "last.pt")
    diff, key = max_diff(one, two)
    assert diff <= 1e-5, f"{key} differs by {diff:.2e}"
    diff, key = max_diff(one, two, buffers=True)
    assert diff <= 1e-5, f"{key} differs by {diff:.2e}"


def test_the_weights_moved(runs):
    """The comparison above is about a run that trains: two updates move weights and running statistics far
    beyond the tolerance."""
    tmp = runs["tmp"]
    init, trained = weights(tmp / "init" / "last.pt"), weights(tmp / "single" / "last.pt")
    assert max_diff(init, trained)[0] > 1e-3 and max_diff(init, trained, buffers=True)[0] > 1e-2


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
