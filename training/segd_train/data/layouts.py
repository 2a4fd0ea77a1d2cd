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


def split_list_path(root: Path, split: str) -> Path | None:
    """The list file a split names, or None for a folder split: `<split>` ending in .txt (relative to the root), or
    `<root>/splits/<split>.txt` when `<root>/<split>/` is not a folder."""
    if split.endswith(".txt"):
        p = Path(split).expanduser()
        return p if p.is_absolute() else root / p
    if not (root / split).is_dir() and (root / "splits" / f"{split}.txt").is_file():
        return root / "splits" / f"{split}.txt"
    return None


def _listed_pairs(root: Path, list_file: Path, labels: str) -> list[Sample]:
    """One `<folder>/<stem>` a line: image `<root>/<folder>/images/<stem>.<jpg|png|…>`, label
    `<root>/<folder>/<labels>/<stem>.png`. Blank lines and `#` comments are skipped; a repeated entry is an error
    (it would silently weigh one frame twice)."""
    if not list_file.is_file():
        raise DatasetError(f"{list_file}: split list not found")
    items: list[Sample] = []
    seen: set[str] = set()
    for n, line in enumerate(list_file.read_text().splitlines(), 1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        folder, sep, stem = entry.rpartition("/")
        if not sep or not folder or not stem:
            raise DatasetError(f"{list_file}:{n}: expected '<folder>/<stem>', got {entry!r}")
        if entry in seen:
            raise DatasetError(f"{list_file}:{n}: {entry!r} is listed twice")
        seen.add(entry)
        images = [root / folder / "images" / f"{stem}{suffix}" for suffix in IMAGE_SUFFIXES]
        image = next((p for p in images if p.is_file()), None)
        if image is None:
            raise DatasetError(f"{list_file}:{n}: no image for {entry!r}; expected {images[0]} (or .png/.jpeg/.bmp)")
        label = root / folder / labels / f"{stem}.png"
        if not label.is_file():
            raise DatasetError(f"{list_file}:{n}: no label for {entry!r}; expected {label}")
        items.append(Sample(image, label))
    return items


def camvid_dataset(root: str | Path, split: str) -> SegDataset:
    """`<root>/<split>/images/*.jpg`, `<root>/<split>/labels/<stem>.png`, `<root>/classes.json`; or a list split
    (`<root>/splits/<split>.txt`, or a `.txt` path) naming `<folder>/<stem>` entries across folders."""
    r = resolve_data_root(root)
    table = load_classes_json(r / "classes.json")
    listed = split_list_path(r, split)
    if listed is not None:
        items = _listed_pairs(r, listed, "labels")
    else:
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
    (or `<root>/<split>/classes.json`). Without a `<split>` folder, `<root>/images` + `<root>/masks`. A list split
    (`<root>/splits/<split>.txt` or a `.txt` path) names `<folder>/<stem>` entries: `<root>/<folder>/images/…`,
    `<root>/<folder>/masks/<stem>.png`, classes in `<root>/classes.json`."""
    r = resolve_data_root(root)
    listed = split_list_path(r, split)
    if listed is not None:
        table = load_classes_json(r / "classes.json")
        return SegDataset(table.name, split, _listed_pairs(r, listed, "masks"), table)
    base = r / split if (r / split).is_dir() else r
    classes = base / "classes.json" if (base / "classes.json").is_file() else r / "classes.json"
    table = load_classes_json(classes)
    items = _pairs(base / "images", base / "masks", lambda p: p.stem + ".png")
    return SegDataset(table.name, split, items, table)


def classes_file_of(layout: str, root: str | Path) -> Path:
    """The classes.json a layout reads its class table from (what an export writes into the model card)."""
    r = resolve_data_root(root)
    if layout == "camvid":
        return r / "classes.json"
    if layout == "folder":
        for base in (r / "val", r):
            if (base / "classes.json").is_file():
                return base / "classes.json"
        return r / "classes.json"
    raise ValueError(f"the {layout!r} layout has no classes.json to put in a model card; pass --classes FILE")


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
