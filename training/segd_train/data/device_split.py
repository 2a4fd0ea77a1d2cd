"""A whole split decoded once into two uint8 tensors, plus the step → batch sampler used for training.

Why resident: CamVid train is 367×360×480×3 ≈ 190 MB, so after one decode pass each batch is an index
gather plus GpuAugment on the device — the loader can never be the bottleneck and needs no workers.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm import tqdm

from .classes import DatasetError
from .dataset import SegDataset
from .gpu_augment import GpuAugment
from .mix import cutmix
from .normalize import normalize


@dataclass
class DeviceSplit:
    images: torch.Tensor   # N×H×W×3 uint8 RGB
    labels: torch.Tensor   # N×H×W uint8
    device: torch.device   # where batches are used; images/labels may stay on the CPU if they do not fit

    @classmethod
    def load(cls, dataset: SegDataset, device: torch.device, progress: bool = False) -> "DeviceSplit":
        first_img, first_lab = dataset.load(0)
        h, w = first_lab.shape
        images = np.empty((len(dataset), h, w, 3), dtype=np.uint8)
        labels = np.empty((len(dataset), h, w), dtype=np.uint8)
        images[0], labels[0] = first_img, first_lab
        it = range(1, len(dataset))
        for i in tqdm(it, desc=f"load {dataset.split}", disable=not progress, leave=False):
            img, lab = dataset.load(i)
            if lab.shape != (h, w):
                raise DatasetError(
                    f"{dataset.items[i].image}: size {lab.shape[1]}×{lab.shape[0]} differs from the split's "
                    f"{w}×{h} ({dataset.items[0].image}); the resident loader needs one size per split")
            images[i], labels[i] = img, lab
        img_t, lab_t = torch.from_numpy(images), torch.from_numpy(labels)
        if device.type == "cuda" and _fits_on_gpu(img_t.nbytes + lab_t.nbytes, device):
            img_t, lab_t = img_t.to(device), lab_t.to(device)
        elif device.type == "cuda":
            img_t, lab_t = img_t.pin_memory(), lab_t.pin_memory()
        return cls(img_t, lab_t, device)

    def __len__(self) -> int:
        return self.images.shape[0]

    def gather(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw uint8 images and labels for `index`, on the training device."""
        index = index.to(self.images.device)
        return (self.images.index_select(0, index).to(self.device, non_blocking=True),
                self.labels.index_select(0, index).to(self.device, non_blocking=True))


def _fits_on_gpu(nbytes: int, device: torch.device) -> bool:
    free, _ = torch.cuda.mem_get_info(device)
    return nbytes < free // 4   # leave room for the model, activations and the augmentation buffers


class TrainBatches:
    """Step → augmented, normalised batch. Sample order is a pure function of (seed, step): each epoch is a
    fresh permutation seeded by (seed, epoch), the last partial batch dropped, so resuming at step k needs
    no sampler state. Augmentation randomness comes from `generator`, which checkpoints save and restore.
    Under DDP each rank takes its own slice of the global batch and seeds its generator with its rank."""

    def __init__(self, split: DeviceSplit, batch_size: int, augment: GpuAugment, seed: int,
                 rank: int = 0, world: int = 1, cutmix_p: float = 0.0) -> None:
        if batch_size * world > len(split):
            raise ValueError(f"batch_size {batch_size} × {world} process(es) exceeds the {len(split)} training images")
        self.split = split
        self.batch_size = batch_size
        self.augment = augment
        self.cutmix_p = cutmix_p   # data/mix.py; 0 draws nothing, so recipes without it keep their streams
        self.seed = seed
        self.rank = rank
        self.world = world
        self.batches_per_epoch = len(split) // (batch_size * world)
        self.generator = torch.Generator().manual_seed(seed * 1_000 + rank)
        self._epoch = -1
        self._perm = torch.empty(0, dtype=torch.long)

    def epoch(self, step: int) -> int:
        return step // self.batches_per_epoch

    def indices(self, step: int) -> torch.Tensor:
        epoch, k = divmod(step, self.batches_per_epoch)
        if epoch != self._epoch:
            g = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(len(self.split), generator=g)
            self._epoch = epoch
        start = (k * self.world + self.rank) * self.batch_size
        return self._perm[start:start + self.batch_size]

    def batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        images, labels = self.split.gather(self.indices(step))
        x, y = self.augment(images, labels, self.generator)
        x, y = cutmix(x, y, self.cutmix_p, self.generator)
        return normalize(x), y
