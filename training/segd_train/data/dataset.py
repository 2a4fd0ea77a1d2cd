"""One dataset shape for every layout: a list of (image, label) file pairs plus the class table.

Layout-specific code (layouts.py) only finds the files; loading and validation live here so every
layout reports bad data the same way: an error naming the file and what was expected.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from .classes import ClassInfo, ClassTable, DatasetError


@dataclass(frozen=True)
class Sample:
    image: Path
    label: Path


class SegDatasetProtocol(Protocol):
    name: str
    split: str
    items: list[Sample]
    classes: tuple[ClassInfo, ...]
    ignore_index: int

    @property
    def palette(self) -> np.ndarray: ...
    @property
    def num_classes(self) -> int: ...
    def __len__(self) -> int: ...
    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]: ...


class SegDataset:
    """Image/label pairs with their class table. `load(i)` → (H×W×3 uint8 RGB, H×W uint8 label)."""

    def __init__(self, name: str, split: str, items: list[Sample], table: ClassTable) -> None:
        if not items:
            raise DatasetError(f"{name} split '{split}': no images found")
        self.name = name
        self.split = split
        self.items = items
        self.classes = table.classes
        self.ignore_index = table.ignore_index
        # Lookup table of label values that may appear: class ids and the ignore id.
        self._allowed = np.zeros(256, dtype=bool)
        self._allowed[: len(table.classes)] = True
        self._allowed[table.ignore_index] = True

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def palette(self) -> np.ndarray:
        """K×3 uint8 RGB colours in class-id order."""
        return np.array([c.color for c in self.classes], dtype=np.uint8)

    @property
    def class_names(self) -> list[str]:
        return [c.name for c in self.classes]

    def __len__(self) -> int:
        return len(self.items)

    def subset(self, limit: int | None) -> "SegDataset":
        """The first `limit` items (tests, quick runs); the same object when limit is None."""
        if limit is None or limit >= len(self.items):
            return self
        table = ClassTable(self.name, self.classes, self.ignore_index)
        return SegDataset(self.name, self.split, self.items[:limit], table)

    def load(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        s = self.items[index]
        image = _read(s.image, "RGB")
        label = _read(s.label, "L")
        if image.shape[:2] != label.shape:
            raise DatasetError(
                f"{s.label}: label is {label.shape[1]}×{label.shape[0]} (W×H) but its image {s.image} is "
                f"{image.shape[1]}×{image.shape[0]}; they must match")
        present = np.flatnonzero(np.bincount(label.ravel(), minlength=256))
        bad = [int(v) for v in present if not self._allowed[v]]
        if bad:
            raise DatasetError(
                f"{s.label}: unknown label id(s) {bad}; expected class ids 0–{self.num_classes - 1} "
                f"or ignore_index {self.ignore_index}")
        return image, label


def _read(path: Path, mode: str) -> np.ndarray:
    try:
        with Image.open(path) as im:
            if mode == "RGB":
                arr = np.asarray(im.convert("RGB"))
            elif im.mode in ("L", "P"):
                arr = np.asarray(im)  # palette images: the indices are the ids, not the colours
            elif im.mode in ("I", "I;16"):
                wide = np.asarray(im)
                if wide.size and int(wide.max()) > 255:
                    raise DatasetError(f"{path}: label id {int(wide.max())} does not fit 0–255")
                arr = wide.astype(np.uint8)
            else:
                # A colour label would silently turn into luminance ids.
                raise DatasetError(f"{path}: label must be a single-channel id image, got mode {im.mode}")
    except FileNotFoundError:
        raise DatasetError(f"{path}: file not found") from None
    except (OSError, SyntaxError) as e:
        raise DatasetError(f"{path}: cannot decode image ({e})") from None
    return np.ascontiguousarray(arr)
