"""Export and quantize on a user's own small dataset (a `folder` layout written to a tmp dir), with no CamVid.

SEGD_SHARED points at an empty folder in every test here, so nothing can fall back to ../shared.
"""
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from segd_train.engine import checkpoint
from segd_train.export import untrained_model
from segd_train.export.__main__ import main as export_main
from segd_train.export.quantize import FLOAT_LEADING_STEPS, main as quantize_main

H, W = 64, 96          # the model's input size
VAL_H, VAL_W = 80, 120  # val images of another size: quantize scores them at the model's size
CLASSES = {"name": "yard-3", "ignore_index": 255,
           "classes": [{"id": 0, "name": "ground", "color": [128, 64, 128]},
                       {"id": 1, "name": "person", "color": [220, 20, 60]},
                       {"id": 2, "name": "sky", "color": [70, 130, 180]}]}


def _write_split(root: Path, split: str, n: int, h: int, w: int, rng: np.random.Generator) -> None:
    (root / split / "images").mkdir(parents=True)
    (root / split / "masks").mkdir(parents=True)
    for i in range(n):
        label = rng.integers(0, 3, (h, w), dtype=np.uint8)
        image = (np.stack([label * 80, 255 - label * 60, label * 30], axis=-1)
                 + rng.integers(0, 40, (h, w, 3))).astype(np.uint8)
        Image.fromarray(image).save(root / split / "images" / f"f{i:03d}.png")
        Image.fromarray(label).save(root / split / "masks" / f"f{i:03d}.png")


@pytest.fixture()
def tiny(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """6 train images at the model's size, 3 val images at another size, 3 classes; no shared data anywhere."""
    empty = tmp_path / "no-shared"
    empty.mkdir()
    monkeypatch.setenv("SEGD_SHARED", str(empty))
    root = tmp_path / "yard"
    rng = np.random.default_rng(0)
    _write_split(root, "train", 6, H, W, rng)
    _write_split(root, "val", 3, VAL_H, VAL_W, rng)
    (root / "classes.json").write_text(json.dumps(CLASSES))
    return root


def _checkpoint(tmp_path: Path, data_root: Path) -> Path:
    return checkpoint.save(tmp_path / "run" / "last.pt", model=untrained_model("sctnet-s", 3, seed=1), optimizer=None,
                           scheduler=None, step=10, generator=None,
                           config={"model": "sctnet-s", "num_classes": 3, "dataset": "folder",
                                   "data_root": str(data_root)})


def _fp32(tmp_path: Path, tiny: Path) -> Path:
    out = tmp_path / "models" / "yard.onnx"
    assert export_main(["--untrained", "--arch", "sctnet-s", "--dataset", "folder", "--data-root", str(tiny),
                        "--height", str(H), "--width", str(W), "--out", str(out), "--parity-frames", "1"]) == 0
    return out


def test_export_uses_the_recipes_own_dataset_for_classes_and_parity(tiny, tmp_path, capsys):
    out = tmp_path / "out" / "yard.onnx"
    rc = export_main(["--checkpoint", str(_checkpoint(tmp_path, tiny)), "--height", str(H), "--width", str(W),
                      "--out", str(out)])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    card = json.loads(out.with_suffix(".json").read_text())
    assert [c["name"] for c in card["classes"]] == ["ground", "person", "sky"]
    assert card["dataset"]["name"] == "yard-3"
    # the default 4 parity frames: the val split has 3, so all 3, from the recipe's folder
    assert f"3 folder val frames from {tiny}" in printed.out


def test_export_takes_parity_frames_from_the_recipes_val_split(tiny, tmp_path, capsys):
    (tiny / "splits").mkdir()
    (tiny / "splits" / "holdout.txt").write_text("train/f004\ntrain/f005\n")   # a list split, as xseq recipes use
    ckpt = _checkpoint(tmp_path, tiny)
    state = checkpoint.read(ckpt)
    checkpoint.save(ckpt, model=untrained_model("sctnet-s", 3, seed=1), optimizer=None, scheduler=None, step=10,
                    generator=None, config={**state["config"], "val_split": "holdout", "train_split": "train"})
    out = tmp_path / "out" / "yard.onnx"
    assert export_main(["--checkpoint", str(ckpt), "--height", str(H), "--width", str(W), "--out", str(out)]) == 0
    assert f"2 folder holdout frames from {tiny}" in capsys.readouterr().out
    # The card names the splits the recipe trained and selected on, and how the model started.
    card = json.loads(out.with_suffix(".json").read_text())
    # holdout.txt names two frames of train/: the card counts them, and the summary says so.
    assert card["dataset"] == {"name": "yard-3", "train_split": "train", "eval_split": "holdout",
                               "eval_frames_in_training": 2}
    assert card["metrics"]["split"] == "holdout"
    assert ("on folder train (from scratch, no pretrained weights), selected on holdout (frames it trained on)"
            in card["training"]["summary"])


def test_export_writes_nothing_when_the_parity_data_cannot_be_read(tiny, tmp_path, capsys):
    out = tmp_path / "out" / "yard.onnx"
    missing = tmp_path / "gone"
    rc = export_main(["--checkpoint", str(_checkpoint(tmp_path, missing)), "--classes", str(tiny / "classes.json"),
                      "--height", str(H), "--width", str(W), "--out", str(out)])
    assert rc == 2
    assert f"error: {missing / 'classes.json'}: classes file not found" in capsys.readouterr().err
    assert not out.exists() and not out.with_suffix(".json").exists()


def test_quantize_adapts_to_a_small_dataset_of_another_size(tiny, tmp_path, capsys):
    fp32 = _fp32(tmp_path, tiny)
    capsys.readouterr()
    rc = quantize_main(["--onnx", str(fp32), "--dataset", "folder", "--data-root", str(tiny)])   # asks 64 + 16
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    assert "train (calibration): the split has 6 images, using all of them instead of 64" in printed.err
    assert "val (agreement): the split has 3 images, using all of them instead of 16" in printed.err
    int8 = fp32.with_name("yard-int8.onnx")
    card = json.loads(int8.with_suffix(".json").read_text())
    assert card["quantization"]["calibration"] == {"dataset": "yard-3", "split": "train", "frames": 6}
    assert card["metrics"]["images"] == 3 and 0.0 <= card["metrics"]["miou"] <= 1.0
    assert card["onnx"]["file"] == "yard-int8.onnx"
    assert sorted(p.name for p in fp32.parent.iterdir()) == ["yard-int8.json", "yard-int8.onnx", "yard.json",
                                                             "yard.onnx"]


def test_quantize_keeps_leading_convolutions_float_until_the_target_agreement(tiny, tmp_path, capsys):
    # A target no int8 model reaches: every step is tried, the best kept, and the card says which.
    fp32 = _fp32(tmp_path, tiny)
    capsys.readouterr()
    rc = quantize_main(["--onnx", str(fp32), "--dataset", "folder", "--data-root", str(tiny), "--no-eval",
                        "--target-agreement", "1.0"])
    printed = capsys.readouterr()
    assert rc == 0, printed.err
    tried = [int(m) for m in re.findall(r"int8 with the first (\d+) convolutions float", printed.err)]
    assert tried == list(FLOAT_LEADING_STEPS)
    assert "warning: no step reached --target-agreement 1.0" in printed.err
    q = json.loads(fp32.with_name("yard-int8.json").read_text())["quantization"]
    assert q["float_leading_convs"] in FLOAT_LEADING_STEPS
    assert q["agreement"] == {"split": "val", "frames": 3}
    assert sorted(p.name for p in fp32.parent.iterdir()) == ["yard-int8.json", "yard-int8.onnx", "yard.json",
                                                             "yard.onnx"]


def test_quantize_without_data_is_a_clear_error_and_writes_nothing(tiny, tmp_path, capsys):
    fp32 = _fp32(tmp_path, tiny)
    capsys.readouterr()
    rc = quantize_main(["--onnx", str(fp32)])     # the default data/camvid under an empty SEGD_SHARED
    err = capsys.readouterr().err
    assert rc == 2
    assert err.startswith("error: ") and "classes.json: classes file not found" in err and "Traceback" not in err
    assert sorted(p.name for p in fp32.parent.iterdir()) == ["yard.json", "yard.onnx"]


def test_quantize_failing_after_the_model_was_built_leaves_nothing_behind(tiny, tmp_path, capsys):
    fp32 = _fp32(tmp_path, tiny)
    bad = np.zeros((VAL_H, VAL_W), dtype=np.uint8)
    bad[0, 0] = 7                                  # not a class id of the table: fails in the val evaluation
    Image.fromarray(bad).save(tiny / "val" / "masks" / "f002.png")
    capsys.readouterr()
    rc = quantize_main(["--onnx", str(fp32), "--dataset", "folder", "--data-root", str(tiny)])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown label id(s) [7]" in err
    assert sorted(p.name for p in fp32.parent.iterdir()) == ["yard.json", "yard.onnx"]
