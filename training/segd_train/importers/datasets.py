"""Class names and palettes of the datasets the official models were trained on (the card carries them).

cityscapes (19 train ids), ade20k (150), coco-stuff (171, mmseg's COCO-Stuff-10K/164K table) and camvid (11):
JSON files in `classes/`, in the `classes.json` format of data/classes.py. Names and colours are those of
mmseg 0.26's dataset classes (CamVid: segd's own table).
"""
from __future__ import annotations

from pathlib import Path

from ..data.classes import load_classes_json

CLASSES_DIR = Path(__file__).parent / "classes"
DATASETS = {"cityscapes": 19, "ade20k": 150, "coco-stuff": 171, "camvid": 11}


def classes_file(dataset: str) -> Path:
    """`dataset` is a name above or the path of a classes.json."""
    if dataset in DATASETS:
        return CLASSES_DIR / f"{dataset}.json"
    p = Path(dataset)
    if not p.is_file():
        raise ValueError(f"dataset {dataset!r}: expected one of {', '.join(DATASETS)} or a classes.json path")
    load_classes_json(p)   # validates; raises naming the file
    return p


def dataset_for(num_classes: int) -> str | None:
    """The known dataset with exactly this many classes, if any."""
    hits = [name for name, k in DATASETS.items() if k == num_classes]
    return hits[0] if len(hits) == 1 else None
