"""The fp16 variant of the shipped fp32 model: same uint8 contract, loads in onnxruntime CPU, masks agreeing with
fp32 on real val frames, a card the daemon accepts."""
import json
import shutil
from collections import Counter
from pathlib import Path

import onnx
import onnxruntime as ort
import pytest
from jsonschema import Draft7Validator

from segd_train.cli import main as cli_main
from segd_train.data.paths import REPO_ROOT
from segd_train.export.card import sha256_file
from segd_train.export.parity import load_frames
from segd_train.export.quantize import mask_agreement_onnx

SHIPPED = REPO_ROOT / "models" / "sctnet-s-camvid.onnx"


@pytest.fixture(scope="module")
def fp16_model(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("fp16")
    fp32 = tmp / SHIPPED.name
    shutil.copy(SHIPPED, fp32)
    shutil.copy(SHIPPED.with_suffix(".json"), fp32.with_suffix(".json"))
    assert cli_main(["fp16", "--onnx", str(fp32), "--agreement-frames", "2"]) == 0
    return fp32, tmp / "sctnet-s-camvid-fp16.onnx"


def test_fp16_loads_in_onnxruntime_cpu_with_the_uint8_contract(fp16_model):
    _, fp16 = fp16_model
    session = ort.InferenceSession(str(fp16), providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, i.shape[1:]) for i in session.get_inputs()] == [("frames", "tensor(uint8)", [360, 480, 3])]
    assert [(o.name, o.type, o.shape[1:]) for o in session.get_outputs()] == [("mask", "tensor(uint8)", [360, 480])]
    graph = onnx.load(str(fp16)).graph
    kinds = Counter(i.data_type for i in graph.initializer)
    assert kinds[onnx.TensorProto.FLOAT16] > 0 and kinds[onnx.TensorProto.FLOAT16] > kinds[onnx.TensorProto.FLOAT]
    casts = [next(a.i for a in n.attribute if a.name == "to") for n in graph.node if n.op_type == "Cast"]
    assert onnx.TensorProto.FLOAT16 in casts and onnx.TensorProto.UINT8 in casts   # uint8 → fp16 in, → uint8 out


def test_fp16_masks_agree_with_fp32_on_real_val_frames(fp16_model):
    fp32, fp16 = fp16_model
    assert mask_agreement_onnx(fp32, fp16, load_frames(4, 360, 480)) >= 0.99


def test_fp16_card(fp16_model):
    fp32, fp16 = fp16_model
    src, card = (json.loads(p.with_suffix(".json").read_text()) for p in (fp32, fp16))
    assert card["name"] == "sctnet-s-camvid-fp16"
    assert card["onnx"]["file"] == fp16.name and card["onnx"]["sha256"] == sha256_file(fp16)
    for key in ("format", "architecture", "input", "output", "classes", "ignore_index", "dataset", "metrics"):
        assert card[key] == src[key], key
    assert card["precision"]["format"] == "float16" and card["precision"]["source"] == fp32.name
    assert 0.99 <= card["precision"]["val_pixel_agreement_with_fp32"] <= 1.0
    schema = json.loads((REPO_ROOT / "models" / "model-card.schema.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(card)) == []
