"""CutMix across a batch (data/mix.py): boxes move image and label together, from another sample, reproducibly;
and a distilling step's teacher sees the mixed batch its student sees."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

from segd_train.data import AugmentConfig, DeviceSplit, GpuAugment, TrainBatches, camvid_dataset
from segd_train.data.mix import AREA, cutmix
from segd_train.engine import config_from_dict
from segd_train.engine.config import ConfigError

B, H, W = 6, 40, 60


def constant_batch() -> tuple[torch.Tensor, torch.Tensor]:
    """Sample i is all value i in every channel and in its label, so each pixel says where it came from."""
    ids = torch.arange(B)
    images = ids.view(B, 1, 1, 1).expand(B, 3, H, W).float().clone()
    labels = ids.view(B, 1, 1).expand(B, H, W).clone()
    return images, labels


def test_every_sample_gets_one_box_of_another_sample_with_its_labels() -> None:
    images, labels = constant_batch()
    before = images.clone(), labels.clone()
    x, y = cutmix(images, labels, 1.0, torch.Generator().manual_seed(0))
    assert torch.equal(images, before[0]) and torch.equal(labels, before[1]), "the inputs must not change"
    assert torch.equal(x[:, 0].long(), y), "image and label moved together"
    for i in range(B):
        pasted = y[i] != i
        donors = y[i][pasted].unique().tolist()
        assert len(donors) == 1 and donors[0] != i
        rows, cols = pasted.any(1).nonzero().flatten(), pasted.any(0).nonzero().flatten()
        box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert int(pasted.sum()) == int(box), "one rectangle"
        assert AREA[0] - 0.05 <= float(pasted.float().mean()) <= AREA[1] + 0.05


def test_p_zero_changes_nothing_and_draws_nothing() -> None:
    images, labels = constant_batch()
    g = torch.Generator().manual_seed(3)
    state = g.get_state()
    x, y = cutmix(images, labels, 0.0, g)
    assert x is images and y is labels
    assert torch.equal(g.get_state(), state), "recipes without cutmix must keep their augmentation stream"


def test_same_generator_same_boxes_and_p_between_mixes_some() -> None:
    images, labels = constant_batch()
    a = cutmix(images, labels, 0.5, torch.Generator().manual_seed(7))
    b = cutmix(images, labels, 0.5, torch.Generator().manual_seed(7))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    mixed = [bool((a[1][i] != i).any()) for i in range(B)]
    assert any(mixed) and not all(mixed)


def test_out_of_range_p_is_refused() -> None:
    images, labels = constant_batch()
    with pytest.raises(ValueError, match=r"cutmix p must be in \[0, 1\], got 1.5"):
        cutmix(images, labels, 1.5, torch.Generator())
    doc = {"name": "m", "task": "baseline", "model": "sctnet-s", "dataset": "camvid", "data_root": "data/camvid",
           "crop": [64, 64], "batch_size": 2, "iterations": 10, "lr": 1e-3, "weight_decay": 0.01, "warmup_iters": 0,
           "cutmix_p": 1.5}
    with pytest.raises(ConfigError, match=r"test: 'cutmix_p' must be a probability in \[0, 1\], got 1.5"):
        config_from_dict(doc, "test")


def test_training_batches_mix_real_frames_with_their_labels(camvid_root: Path) -> None:
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(4), torch.device("cpu"))
    aug = GpuAugment(AugmentConfig(crop=(64, 64), photometric=False, flip_p=0.0, scale_range=(1.0, 1.0)), 11, 11)
    plain_x, plain_y = TrainBatches(split, 4, aug, seed=1).batch(0)
    mixed_x, mixed_y = TrainBatches(split, 4, aug, seed=1, cutmix_p=1.0).batch(0)
    # The crops are the same (cutmix draws after the augmentation); each sample's changed pixels now hold another
    # sample's image and label at the same place.
    for i in range(4):
        changed = (mixed_y[i] != plain_y[i]) | (mixed_x[i] != plain_x[i]).any(0)
        assert changed.any()
        donors = [j for j in range(4) if j != i and torch.equal(mixed_x[i][:, changed], plain_x[j][:, changed])
                  and torch.equal(mixed_y[i][changed], plain_y[j][changed])]
        assert donors, f"sample {i}: the pasted box matches no other sample"


def test_a_distilling_step_gives_its_teacher_the_mixed_batch(camvid_root: Path) -> None:
    from segd_train.engine import TrainForward, build_optimizer, build_scheduler, train_one_step
    from segd_train.losses import SIAM, Criterion
    from segd_train.models import build_model

    torch.manual_seed(0)
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(2), torch.device("cpu"))
    x, y = TrainBatches(split, 2, GpuAugment(AugmentConfig(crop=(64, 64)), 11, 11), seed=0, cutmix_p=1.0).batch(0)
    teacher = build_model("segformer-b0", num_classes=11).eval()
    seen: list[torch.Tensor] = []
    forward_train = teacher.forward_train
    teacher.forward_train = lambda inp: seen.append(inp) or forward_train(inp)   # type: ignore[method-assign]
    student = build_model("sctnet-s", num_classes=11)
    siam = SIAM(student, teacher)
    cfg = config_from_dict({"name": "d", "task": "student", "teacher": "segformer-b0", "model": "sctnet-s",
                            "dataset": "camvid", "data_root": "data/camvid", "crop": [64, 64], "batch_size": 2,
                            "iterations": 10, "lr": 1e-3, "weight_decay": 0.01, "warmup_iters": 0, "cutmix_p": 1.0},
                           "test")
    opt = build_optimizer({"model": student, "siam": siam}, cfg)
    train_one_step(TrainForward(student, siam), x, y, opt, build_scheduler(opt, cfg), Criterion(11), teacher=teacher)
    assert len(seen) == 1 and seen[0] is x
