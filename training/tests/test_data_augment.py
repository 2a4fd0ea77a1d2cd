"""On-device augmentation: image and label stay aligned, labels stay valid, padding is right, the crop
retry works, and the generator makes it reproducible."""
from __future__ import annotations

from pathlib import Path

import torch

from segd_train.data import AugmentConfig, DeviceSplit, GpuAugment, TrainBatches, camvid_dataset

IGNORE = 11


def _pattern(b: int = 2, h: int = 12, w: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    """Label = column index mod 11 (so a flip is visible); the image encodes the label in every channel."""
    label = (torch.arange(w) % 11).to(torch.uint8).expand(b, h, w).clone()
    image = (label.float() * 20 + 5).to(torch.uint8)[..., None].expand(b, h, w, 3).contiguous()
    return image, label


def _plain(crop: tuple[int, int], **kw: object) -> GpuAugment:
    base = dict(scale_range=(1.0, 1.0), cat_max_ratio=1.0, flip_p=0.0, photometric=False)
    base.update(kw)
    return GpuAugment(AugmentConfig(crop=crop, **base), num_classes=11, ignore_index=IGNORE)  # type: ignore[arg-type]


def test_identity_when_scale_one_and_crop_is_the_image() -> None:
    image, label = _pattern()
    img, lab = _plain((12, 16))(image, label, torch.Generator().manual_seed(0))
    assert torch.equal(img, image.permute(0, 3, 1, 2).float())
    assert torch.equal(lab, label.long())


def test_flip_mirrors_image_and_label_together() -> None:
    image, label = _pattern()
    img, lab = _plain((12, 16), flip_p=1.0)(image, label, torch.Generator().manual_seed(0))
    assert torch.equal(lab, label.flip(-1).long())
    assert torch.equal(img, image.permute(0, 3, 1, 2).flip(-1).float())
    assert torch.equal(img[:, 0], lab.float() * 20 + 5)  # still aligned pixel by pixel


def test_padding_is_zero_image_and_ignore_label_and_flip_stays_inside_the_image() -> None:
    image, label = _pattern(h=12, w=16)
    img, lab = _plain((20, 24), flip_p=1.0)(image, label, torch.Generator().manual_seed(0))
    assert img.shape == (2, 3, 20, 24) and lab.shape == (2, 20, 24)
    assert torch.equal(lab[:, :12, :16], label.flip(-1).long())          # mirrored inside the real area
    assert (lab[:, 12:] == IGNORE).all() and (lab[:, :, 16:] == IGNORE).all()
    assert (img[:, :, 12:] == 0).all() and (img[:, :, :, 16:] == 0).all()


def test_scaled_crops_keep_alignment_and_valid_labels() -> None:
    # Wide stripes: wherever a label pixel is not at a stripe edge, the bilinear image must equal its code.
    w = 64
    label = ((torch.arange(w) // 8) % 11).to(torch.uint8).expand(4, 48, w).clone()
    image = (label.float() * 20 + 5).to(torch.uint8)[..., None].expand(4, 48, w, 3).contiguous()
    aug = GpuAugment(AugmentConfig(crop=(32, 32), scale_range=(0.75, 1.5), cat_max_ratio=0.75, flip_p=0.5,
                                   photometric=False), num_classes=11, ignore_index=IGNORE)
    img, lab = aug(image, label, torch.Generator().manual_seed(3))
    valid = lab != IGNORE
    assert set(lab.unique().tolist()) <= set(range(11)) | {IGNORE}
    interior = valid & (lab == torch.roll(lab, 1, -1)) & (lab == torch.roll(lab, -1, -1))
    assert interior.sum() > 1000
    assert torch.allclose(img[:, 0][interior], lab[interior].float() * 20 + 5, atol=1e-3)


def test_cat_max_ratio_prefers_crops_with_mixed_classes() -> None:
    # Class 1 is a 16-px band in a 64-px class-0 image; 16-wide crops mix the two (≤ 75 % each) for about
    # 29 % of offsets, and are pure class 0 for about 37 %.
    label = torch.zeros(16, 16, 64, dtype=torch.uint8)
    label[:, :, 24:40] = 1
    image = torch.zeros(16, 16, 64, 3, dtype=torch.uint8)
    strict = _plain((16, 16), cat_max_ratio=0.75, crop_tries=30)
    lab = strict(image, label, torch.Generator().manual_seed(0))[1]
    share = (lab == 0).float().mean((1, 2))
    assert ((share < 0.75) & (share > 0.25)).all()
    loose = _plain((16, 16))                 # no retry: some crops are pure class 0
    lab = loose(image, label, torch.Generator().manual_seed(0))[1]
    assert ((lab == 0).float().mean((1, 2)) == 1).any()


def test_photometric_stays_in_range_and_leaves_padding_black() -> None:
    image, label = _pattern(b=8)
    aug = GpuAugment(AugmentConfig(crop=(16, 20), scale_range=(1.0, 1.0), cat_max_ratio=1.0, flip_p=0.0),
                     num_classes=11, ignore_index=IGNORE)
    img, lab = aug(image, label, torch.Generator().manual_seed(1))
    assert img.min() >= 0 and img.max() <= 255
    assert (img[:, :, 12:] == 0).all() and (img[:, :, :, 16:] == 0).all()
    assert torch.equal(lab[:, :12, :16], label.long())   # colour changes never touch labels
    assert not torch.equal(img[:, :, :12, :16], image.permute(0, 3, 1, 2).float())


def test_same_generator_state_same_batch(camvid_root: Path) -> None:
    split = DeviceSplit.load(camvid_dataset(camvid_root, "train").subset(4), torch.device("cpu"))
    aug = GpuAugment(AugmentConfig(crop=(64, 64)), num_classes=11, ignore_index=IGNORE)
    a, b = TrainBatches(split, 2, aug, seed=5), TrainBatches(split, 2, aug, seed=5)
    xa, ya = a.batch(0)
    xb, yb = b.batch(0)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)
    state = a.generator.get_state()
    x1, _ = a.batch(1)
    a.generator.set_state(state)
    x1_again, _ = a.batch(1)
    assert torch.equal(x1, x1_again)
    assert not torch.equal(a.batch(2)[0], x1)
    # Each epoch visits every image once (drop-last), in a seed-dependent order.
    assert sorted(torch.cat([a.indices(0), a.indices(1)]).tolist()) == [0, 1, 2, 3]
