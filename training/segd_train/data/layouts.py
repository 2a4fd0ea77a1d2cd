"""Directory layouts → SegDataset. Each function only finds files; a missing label is reported here,
size and id checks happen when an item is loaded (dataset.py)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from .classes import CITYSCAPES_CLASSES, DatasetError, load_classes_json
from .dataset import Sample, SegDataset
from .paths import resolve_data_root

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


def _pairs(images_dir: Path, labels_dir: Path, label_name: Callable[[Path], str]) -> list[Sample]:
    if not images_dir.is_dir():
        raise DatasetError(f"{images_dir}: image directory not found")
    if not labels_dir.is_dir():
        raise DatasetError(f"{labels_dir}: label directory not found")
    items = []
    for img in sorted(p for p in images_dir.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES):
        label = labels_dir / img.parent.relative_to(images_dir) / label_name(img)
        if not label.is_file():
            raise DatasetError(f"{img}: no label file; expected {label}")
        items.append(Sample(img, label))
    return items


def camvid_dataset(root: str | Path, split: str) -> SegDataset:
    """`<root>/<split>/images/*.jpg`, `<root>/<split>/labels/<stem>.png`, `<root>/classes.json`."""
    r = resolve_data_root(root)
    table = load_classes_json(r / "classes.json")
    items = _pairs(r / split / "images", r / split / "labels", lambda p: p.stem + ".png")
    return SegDataset(table.name, split, items, table)


def cityscapes_dataset(root: str | Path, split: str) -> SegDataset:
    """`<root>/leftImg8bit/<split>/<city>/*_leftImg8bit.png` with `gtFine/.../*_gtFine_labelTrainIds.png`."""
    r = resolve_data_root(root)

    def label_name(p: Path) -> str:
        return p.name.replace("_leftImg8bit.png", "_gtFine_labelTrainIds.png")

    items = _pairs(r / "leftImg8bit" / split, r / "gtFine" / split, label_name)
    return SegDataset(CITYSCAPES_CLASSES.name, split, items, CITYSCAPES_CLASSES)


def folder_dataset(root: str | Path, split: str) -> SegDataset:
    """`<root>/<split>/images/*` with `<root>/<split>/masks/<stem>.png`; classes in `<root>/classes.json`
    (or `<root>/<split>/classes.json`). Without a `<split>` folder, `<root>/images` + `<root>/masks`."""
    r = resolve_data_root(root)
    base = r / split if (r / split).is_dir() else r
    classes = base / "classes.json" if (base / "classes.json").is_file() else r / "classes.json"
    table = load_classes_json(classes)
    items = _pairs(base / "images", base / "masks", lambda p: p.stem + ".png")
    return SegDataset(table.name, split, items, table)


DATASET_LAYOUTS: dict[str, Callable[[str | Path, str], SegDataset]] = {
    "camvid": camvid_dataset,
    "cityscapes": cityscapes_dataset,
    "folder": folder_dataset,
}


def build_dataset(layout: str, root: str | Path, split: str) -> SegDataset:
    try:
        builder = DATASET_LAYOUTS[layout]
    except KeyError:
        raise ValueError(f"unknown dataset layout '{layout}'; choose one of {sorted(DATASET_LAYOUTS)}") from None
    return builder(root, split)
