"""Resume continues at the same next step: the loss at step k+1 equals the uninterrupted run's."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from segd_train.engine import RunOptions, load_config, read_checkpoint, run_training

from conftest import write_recipe


def _opts(out: Path, **kw: object) -> RunOptions:
    return RunOptions(out_dir=out, device=torch.device("cpu"), progress=False, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("cutmix_p", [0.0, 1.0], ids=["plain", "cutmix"])
def test_resume_reproduces_the_uninterrupted_losses(camvid_root: Path, tmp_path: Path, cutmix_p: float) -> None:
    cfg = load_config(write_recipe(tmp_path / "r.yaml", iterations=4, train_limit=4, batch_size=2, cutmix_p=cutmix_p))
    full = run_training(cfg, _opts(tmp_path / "full"))
    assert full.reason == "finished" and sorted(full.losses) == [1, 2, 3, 4]

    first = run_training(cfg, _opts(tmp_path / "split", stop_at_step=2))
    assert first.reason == "stop_at_step" and first.step == 2
    ckpt = read_checkpoint(tmp_path / "split" / "last.pt")
    assert ckpt["step"] == 2 and {"python", "numpy", "torch", "cuda", "generator"} <= set(ckpt["rng"])
    assert ckpt["config"]["model"] == "sctnet-s" and ckpt["config"]["num_classes"] == 11

    second = run_training(cfg, _opts(tmp_path / "split", resume=tmp_path / "split" / "last.pt"))
    assert sorted(second.losses) == [3, 4]
    # Step 3 crosses an epoch boundary (4 images, batch 2), so the sampler, the augmentation generator,
    # DropPath's RNG, AdamW moments, BN statistics and the LR schedule all have to be restored.
    assert second.losses[3] == pytest.approx(full.losses[3], rel=1e-6, abs=1e-7)
    assert second.losses[4] == pytest.approx(full.losses[4], rel=1e-6, abs=1e-7)
    full_w = read_checkpoint(tmp_path / "full" / "last.pt")["model"]
    split_w = read_checkpoint(tmp_path / "split" / "last.pt")["model"]
    assert all(torch.allclose(full_w[k].float(), split_w[k].float(), atol=1e-6) for k in full_w)
    # The resumed run's train.csv continues the first one's rows instead of duplicating them.
    rows = (tmp_path / "split" / "train.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2", "3", "4"]


def test_resume_with_a_different_recipe_is_refused(camvid_root: Path, tmp_path: Path) -> None:
    cfg = load_config(write_recipe(tmp_path / "r.yaml", iterations=2))
    run_training(cfg, _opts(tmp_path / "run", stop_at_step=1))
    other = cfg.replace(lr=1e-3)
    with pytest.raises(ValueError, match=r"cannot resume with a different recipe \(lr: checkpoint 0.0004 vs config 0.001\)"):
        run_training(other, _opts(tmp_path / "run", resume=tmp_path / "run" / "last.pt"))


def test_unreadable_checkpoint_names_the_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match=r"bad\.pt: not a readable segd checkpoint"):
        read_checkpoint(bad)
    with pytest.raises(FileNotFoundError, match=r"missing\.pt: checkpoint not found"):
        read_checkpoint(tmp_path / "missing.pt")
