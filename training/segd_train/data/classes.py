"""Class tables: the `classes.json` format (CamVid / generic folder layout) and Cityscapes' 19 train ids."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


class DatasetError(ValueError):
    """Bad dataset content; the message always names the offending file."""


@dataclass(frozen=True)
class ClassInfo:
    id: int
    name: str
    color: tuple[int, int, int]


@dataclass(frozen=True)
class ClassTable:
    name: str
    classes: tuple[ClassInfo, ...]
    ignore_index: int


def _color(value: object, where: str) -> tuple[int, int, int]:
    if (not isinstance(value, list) or len(value) != 3
            or not all(isinstance(c, int) and 0 <= c <= 255 for c in value)):
        raise DatasetError(f"{where}: colour must be [r, g, b] with integers 0–255, got {value!r}")
    return (value[0], value[1], value[2])


def load_classes_json(path: Path) -> ClassTable:
    """Reads `{"name", "ignore_index", "classes": [{"id", "name", "color"}, ...]}`; ids must be 0…K-1 in order."""
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise DatasetError(f"{path}: classes file not found") from None
    except json.JSONDecodeError as e:
        raise DatasetError(f"{path}: not valid JSON ({e})") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("classes"), list) or not doc["classes"]:
        raise DatasetError(f"{path}: expected an object with a non-empty 'classes' list")
    ignore = doc.get("ignore_index", 255)
    if not isinstance(ignore, int) or not 0 <= ignore <= 255:
        raise DatasetError(f"{path}: ignore_index must be an integer 0–255, got {ignore!r}")
    classes: list[ClassInfo] = []
    for i, c in enumerate(doc["classes"]):
        where = f"{path}: classes[{i}]"
        if not isinstance(c, dict) or c.get("id") != i or not isinstance(c.get("name"), str):
            raise DatasetError(f"{where}: expected {{'id': {i}, 'name': str, 'color': [r,g,b]}} (ids 0…K-1 in order)")
        classes.append(ClassInfo(i, c["name"], _color(c.get("color"), where)))
    if ignore < len(classes):
        raise DatasetError(f"{path}: ignore_index {ignore} collides with class id {ignore} ({classes[ignore].name})")
    name = doc.get("name", path.parent.name)
    return ClassTable(str(name), tuple(classes), ignore)


_CITYSCAPES = [
    ("road", (128, 64, 128)), ("sidewalk", (244, 35, 232)), ("building", (70, 70, 70)),
    ("wall", (102, 102, 156)), ("fence", (190, 153, 153)), ("pole", (153, 153, 153)),
    ("traffic light", (250, 170, 30)), ("traffic sign", (220, 220, 0)), ("vegetation", (107, 142, 35)),
    ("terrain", (152, 251, 152)), ("sky", (70, 130, 180)), ("person", (220, 20, 60)),
    ("rider", (255, 0, 0)), ("car", (0, 0, 142)), ("truck", (0, 0, 70)), ("bus", (0, 60, 100)),
    ("train", (0, 80, 100)), ("motorcycle", (0, 0, 230)), ("bicycle", (119, 11, 32)),
]

CITYSCAPES_CLASSES = ClassTable(
    "cityscapes-19", tuple(ClassInfo(i, n, c) for i, (n, c) in enumerate(_CITYSCAPES)), 255)
