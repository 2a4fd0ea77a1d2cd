"""Datasets: the real CamVid split loads; bad data is reported naming the offending file."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segd_train.data import (DatasetError, DeviceSplit, build_dataset, camvid_dataset, cityscapes_dataset,
                             folder_dataset, load_classes_json)

CLASSES = {"name": "toy", "ignore_index": 255,
           "classes": [{"id": 0, "name": "a", "color": [1, 2, 3]}, {"id": 1, "name": "b", "color": [4, 5, 6]}]}


def _img(path: Path, w: int, h: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((h, w, 3), 100, np.uint8)).save(path)


def _lab(path: Path, w: int, h: int, value: int = 0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.zeros((h, w), np.uint8)
    arr[0, 0] = value
    Image.fromarray(arr).save(path)


def _camvid(root: Path, w: int = 8, h: int = 6) -> Path:
    (root).mkdir(parents=True, exist_ok=True)
    (root / "classes.json").write_text(json.dumps(CLASSES))
    for stem in ("x1", "x2"):
        _img(root / "train" / "images" / f"{stem}.jpg", w, h)
        _lab(root / "train" / "labels" / f"{stem}.png", w, h)
    return root


def test_real_camvid_train_and_val_load(camvid_root: Path) -> None:
    train = camvid_dataset(camvid_root, "train")
    val = build_dataset("camvid", camvid_root, "val")
    assert (len(train), len(val)) == (367, 101)
    assert train.num_classes == 11 and train.ignore_index == 11
    assert train.class_names[0] == "sky" and train.palette.shape == (11, 3)
    image, label = train.load(0)
    assert image.shape == (360, 480, 3) and image.dtype == np.uint8
    assert label.shape == (360, 480) and set(np.unique(label)) <= set(range(12))


def test_relative_root_resolves_against_shared(camvid_root: Path) -> None:
    assert camvid_dataset("data/camvid", "val").items[0].image.parent == camvid_root / "val" / "images"


def test_resident_split_stacks_the_images(camvid_root: Path) -> None:
    import torch
    ds = camvid_dataset(camvid_root, "val").subset(3)
    split = DeviceSplit.load(ds, torch.device("cpu"))
    assert split.images.shape == (3, 360, 480, 3) and split.labels.shape == (3, 360, 480)
    img, lab = ds.load(2)
    assert np.array_equal(split.images[2].numpy(), img) and np.array_equal(split.labels[2].numpy(), lab)


def test_missing_label_names_the_image_and_the_expected_label(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "cv")
    (root / "train" / "labels" / "x2.png").unlink()
    with pytest.raises(DatasetError, match=r"x2\.jpg: no label file; expected .*labels/x2\.png"):
        camvid_dataset(root, "train")


def test_size_mismatch_names_the_label(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "cv")
    _lab(root / "train" / "labels" / "x2.png", 7, 6)
    ds = camvid_dataset(root, "train")
    ds.load(0)
    with pytest.raises(DatasetError, match=r"labels/x2\.png: label is 7×6 \(W×H\) but its image .*x2\.jpg is 8×6"):
        ds.load(1)


def test_unknown_class_id_names_the_label(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "cv")
    _lab(root / "train" / "labels" / "x1.png", 8, 6, value=7)
    with pytest.raises(DatasetError, match=r"labels/x1\.png: unknown label id\(s\) \[7\]"):
        camvid_dataset(root, "train").load(0)
    _lab(root / "train" / "labels" / "x1.png", 8, 6, value=255)   # the ignore id is fine
    camvid_dataset(root, "train").load(0)


def test_colour_label_is_rejected(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "cv")
    _img(root / "train" / "labels" / "x1.png", 8, 6)
    with pytest.raises(DatasetError, match=r"x1\.png: label must be a single-channel id image, got mode RGB"):
        camvid_dataset(root, "train").load(0)


def test_bad_classes_file_names_the_file(tmp_path: Path) -> None:
    p = tmp_path / "classes.json"
    p.write_text(json.dumps({"classes": [{"id": 1, "name": "a", "color": [0, 0, 0]}]}))
    with pytest.raises(DatasetError, match=r"classes\.json: classes\[0\]"):
        load_classes_json(p)
    p.write_text(json.dumps(CLASSES | {"ignore_index": 1}))
    with pytest.raises(DatasetError, match="ignore_index 1 collides with class id 1"):
        load_classes_json(p)
    p.write_text("{nope")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_classes_json(p)


def test_resident_split_rejects_mixed_sizes_naming_the_file(tmp_path: Path) -> None:
    import torch
    root = _camvid(tmp_path / "cv")
    _img(root / "train" / "images" / "x2.jpg", 10, 6)
    _lab(root / "train" / "labels" / "x2.png", 10, 6)
    with pytest.raises(DatasetError, match=r"x2\.jpg: size 10×6 differs from the split's 8×6"):
        DeviceSplit.load(camvid_dataset(root, "train"), torch.device("cpu"))


def test_cityscapes_layout(tmp_path: Path) -> None:
    root = tmp_path / "cs"
    _img(root / "leftImg8bit" / "val" / "aachen" / "aachen_000000_000019_leftImg8bit.png", 8, 4)
    _lab(root / "gtFine" / "val" / "aachen" / "aachen_000000_000019_gtFine_labelTrainIds.png", 8, 4, value=18)
    ds = cityscapes_dataset(root, "val")
    assert ds.num_classes == 19 and ds.ignore_index == 255 and ds.class_names[18] == "bicycle"
    assert ds.load(0)[1][0, 0] == 18
    (root / "gtFine" / "val" / "aachen" / "aachen_000000_000019_gtFine_labelTrainIds.png").unlink()
    with pytest.raises(DatasetError, match="aachen_000000_000019_leftImg8bit.png: no label file"):
        cityscapes_dataset(root, "val")


def test_folder_layout_with_and_without_split(tmp_path: Path) -> None:
    root = tmp_path / "f"
    root.mkdir()
    (root / "classes.json").write_text(json.dumps(CLASSES))
    _img(root / "images" / "a.png", 5, 5)
    _lab(root / "masks" / "a.png", 5, 5, value=1)
    ds = folder_dataset(root, "all")
    assert len(ds) == 1 and ds.name == "toy" and ds.load(0)[1][0, 0] == 1
    _img(root / "train" / "images" / "b.jpg", 5, 5)
    _lab(root / "train" / "masks" / "b.png", 5, 5)
    assert [s.image.name for s in folder_dataset(root, "train").items] == ["b.jpg"]


def test_unknown_layout_lists_the_choices() -> None:
    with pytest.raises(ValueError, match=r"unknown dataset layout 'voc'; choose one of \['camvid', 'cityscapes', 'folder'\]"):
        build_dataset("voc", "x", "train")


def test_list_split_reads_entries_across_folders_in_file_order(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "c")
    _img(root / "val" / "images" / "v1.png", 8, 6)
    _lab(root / "val" / "labels" / "v1.png", 8, 6, value=1)
    (root / "splits").mkdir()
    (root / "splits" / "mix.txt").write_text("# a comment\nval/v1\n\ntrain/x2\n")
    ds = camvid_dataset(root, "mix")
    assert [s.image.name for s in ds.items] == ["v1.png", "x2.jpg"] and ds.split == "mix"
    assert ds.load(0)[1][0, 0] == 1
    # a .txt path relative to the root names the same list
    assert [s.image for s in camvid_dataset(root, "splits/mix.txt").items] == [s.image for s in ds.items]


def test_real_cross_sequence_lists_hold_disjoint_drives(camvid_root: Path) -> None:
    train, val = camvid_dataset(camvid_root, "xseq-train"), camvid_dataset(camvid_root, "xseq-val")
    assert (len(train), len(val), len(camvid_dataset(camvid_root, "trainval"))) == (367, 101, 468)
    drives = lambda ds: {s.image.name.split("_")[0] for s in ds.items}  # noqa: E731
    assert drives(val) == {"0006R0"} and not drives(train) & drives(val)


def test_shared_frames_counts_scored_frames_the_train_split_holds(camvid_root: Path) -> None:
    from segd_train.data.overlap import scored_on_label, shared_frames
    xval = camvid_dataset(camvid_root, "xseq-val")
    assert shared_frames(camvid_dataset(camvid_root, "xseq-train"), xval) == 0
    assert shared_frames(camvid_dataset(camvid_root, "trainval"), xval) == 101
    # The folder split `val` and the list split `trainval` name the same files: the paths decide, not the names.
    assert shared_frames(camvid_dataset(camvid_root, "trainval"), camvid_dataset(camvid_root, "val")) == 101
    assert scored_on_label("xseq-val", 101, 101) == "xseq-val (seen in training: 101/101 frames)"
    assert scored_on_label("xseq-val", 0, 101) == "xseq-val"


def test_list_split_errors_name_the_line(tmp_path: Path) -> None:
    root = _camvid(tmp_path / "c")
    (root / "splits").mkdir()
    for text, message in (("train/x1\ntrain/nope\n", r"bad.txt:2: no image for 'train/nope'"),
                          ("train/x1\ntrain/x1\n", r"bad.txt:2: 'train/x1' is listed twice"),
                          ("x1\n", r"bad.txt:1: expected '<folder>/<stem>'")):
        (root / "splits" / "bad.txt").write_text(text)
        with pytest.raises(DatasetError, match=message):
            camvid_dataset(root, "bad")
    with pytest.raises(DatasetError, match="missing.txt: split list not found"):
        camvid_dataset(root, "missing.txt")
