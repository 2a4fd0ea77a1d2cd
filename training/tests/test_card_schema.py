"""The model card contract, models/model-card.schema.json, from the writer's side: every card
export/card.py writes, and every card shipped in models/, validates with the same schema the daemon
checks with ajv (pipeline/engine/model-card.ts), and card.py writes exactly the fields it describes."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft7Validator

from segd_train.data.paths import REPO_ROOT
from segd_train.export.card import write_card

SCHEMA_PATH = REPO_ROOT / "models" / "model-card.schema.json"
SHIPPED_CARDS = sorted(p for p in (REPO_ROOT / "models").glob("*.json") if not p.name.endswith(".schema.json"))


@pytest.fixture(scope="module")
def validator() -> Draft7Validator:
    schema = json.loads(SCHEMA_PATH.read_text())
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


def violations(validator: Draft7Validator, card: Any) -> list[str]:
    """`field.path: message` per violation, like the daemon's details."""
    return sorted(f"{'.'.join(str(p) for p in e.absolute_path) or '(top level)'}: {e.message}"
                  for e in validator.iter_errors(card))


def write(tmp_path: Path, camvid_root: Path, **overrides: Any) -> dict[str, Any]:
    onnx = tmp_path / "m.onnx"
    onnx.write_bytes(b"not a real graph: card.py only hashes it")
    args: dict[str, Any] = {
        "architecture": "sctnet-s", "classes_file": camvid_root / "classes.json", "height": 360, "width": 480,
        "opset": 17, "parameters": 4_653_611, "metrics": None,
        "training": {"summary": "schema test card", "step": 0, "config": {"crop": [288, 384]}},
    }
    args.update(overrides)
    return json.loads(write_card(onnx, **args).read_text())


def test_the_schema_is_valid_draft7(validator: Draft7Validator) -> None:
    assert validator.schema["properties"]["format"] == {"const": "segd-model-card/1"}


@pytest.mark.parametrize("card_path", SHIPPED_CARDS, ids=[p.stem for p in SHIPPED_CARDS])
def test_shipped_cards_validate(validator: Draft7Validator, card_path: Path) -> None:
    assert violations(validator, json.loads(card_path.read_text())) == []


def test_there_is_a_shipped_card() -> None:
    assert [p.name for p in SHIPPED_CARDS] == ["sctnet-s-camvid-int8.json", "sctnet-s-camvid.json",
                                               "sctnet-s-lite0-camvid-int8.json", "sctnet-s-lite0-camvid.json"]


def test_an_untrained_card_validates(validator: Draft7Validator, tmp_path: Path, camvid_root: Path) -> None:
    card = write(tmp_path, camvid_root)
    assert card["metrics"] == {"split": "val", "miou": None, "per_class_iou": None}
    assert violations(validator, card) == []


def test_an_evaluated_card_validates(validator: Draft7Validator, tmp_path: Path, camvid_root: Path) -> None:
    # As segd_train.export passes an evaluation: per-class IoU null for a class absent from labels and predictions.
    metrics = {"split": "val", "miou": 0.41, "per_class_iou": {"sky": 0.87, "bicyclist": None},
               "pixel_accuracy": 0.85, "images": 101}
    assert violations(validator, write(tmp_path, camvid_root, metrics=metrics)) == []


def test_a_trainval_card_says_how_many_scored_frames_it_trained_on(validator: Draft7Validator, tmp_path: Path,
                                                                   camvid_root: Path) -> None:
    card = write(tmp_path, camvid_root, train_split="trainval", eval_split="xseq-val", eval_frames_in_training=101)
    assert card["dataset"]["eval_frames_in_training"] == 101 and violations(validator, card) == []
    card["dataset"]["eval_frames_in_training"] = -1
    assert violations(validator, card) == ["dataset.eval_frames_in_training: -1 is less than the minimum of 0"]


def test_card_py_writes_exactly_the_described_fields(validator: Draft7Validator, tmp_path: Path,
                                                     camvid_root: Path) -> None:
    card = write(tmp_path, camvid_root)
    schema = validator.schema
    assert set(card) == set(schema["properties"])
    for section in ("onnx", "input", "output", "dataset"):
        assert set(card[section]) == set(schema["properties"][section]["properties"]), section
    assert set(card["classes"][0]) == set(schema["properties"]["classes"]["items"]["properties"])


def test_the_schema_refuses_what_the_daemon_refuses(validator: Draft7Validator, tmp_path: Path,
                                                    camvid_root: Path) -> None:
    card = write(tmp_path, camvid_root)
    card["onnx"]["opset"] = 13
    card["input"]["layout"] = "NCHW"
    card["classes"][2]["color"] = [0, 0, 300]
    card["metrics"]["miou"] = 42
    del card["output"]
    found = violations(validator, card)
    assert [v.split(":")[0] for v in found] == ["(top level)", "classes.2.color.2", "input.layout", "metrics.miou",
                                                "onnx.opset"], found
    assert "'output' is a required property" in found[0]
