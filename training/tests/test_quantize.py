"""Static int8 quantisation of the shipped fp32 model: same contract, masks agreeing with fp32 on real val frames."""
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import pytest
from jsonschema import Draft7Validator

from segd_train.data.paths import REPO_ROOT
from segd_train.export.card import sha256_file
from segd_train.export.parity import load_frames
from segd_train.export.quantize import main as quantize_main, mask_agreement_onnx, split_frames

SHIPPED = REPO_ROOT / "models" / "sctnet-s-camvid.onnx"


@pytest.fixture(scope="module")
def int8_model(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("int8")
    fp32 = tmp / SHIPPED.name
    shutil.copy(SHIPPED, fp32)
    shutil.copy(SHIPPED.with_suffix(".json"), fp32.with_suffix(".json"))
    assert quantize_main(["--onnx", str(fp32), "--calibration-frames", "8", "--agreement-frames", "2",
                          "--no-eval"]) == 0
    return fp32, tmp / "sctnet-s-camvid-int8.onnx"


def test_int8_masks_agree_with_fp32_on_real_val_frames(int8_model):
    fp32, int8 = int8_model
    frames = load_frames(8, 360, 480)     # the first 8 val frames, none of them calibration data
    assert mask_agreement_onnx(fp32, int8, frames) >= 0.97


def test_int8_keeps_the_model_contract_and_card(int8_model):
    fp32, int8 = int8_model
    graph = onnx.load(str(int8)).graph
    ops = Counter(n.op_type for n in graph.node)
    assert ops["QuantizeLinear"] > 0 and ops["DequantizeLinear"] > ops["QuantizeLinear"]   # weights + activations
    assert [(i.name, i.type.tensor_type.elem_type) for i in graph.input] == [("frames", onnx.TensorProto.UINT8)]
    assert [(o.name, o.type.tensor_type.elem_type) for o in graph.output] == [("mask", onnx.TensorProto.UINT8)]
    src, card = (json.loads(p.with_suffix(".json").read_text()) for p in (fp32, int8))
    assert card["onnx"]["file"] == int8.name and card["onnx"]["sha256"] == sha256_file(int8)
    assert card["name"] == "sctnet-s-camvid-int8"
    for key in ("format", "architecture", "input", "output", "classes", "ignore_index", "dataset", "metrics"):
        assert card[key] == src[key], key          # --no-eval: the metrics stay fp32's
    q = card["quantization"]
    assert q["source"] == fp32.name and q["calibration"] == {"dataset": "camvid-11", "split": "train", "frames": 8}
    assert 0.97 <= q["val_pixel_agreement_with_fp32"] <= 1.0
    assert "quantised to int8" in card["training"]["summary"]
    schema = json.loads((REPO_ROOT / "models" / "model-card.schema.json").read_text())
    assert list(Draft7Validator(schema).iter_errors(card)) == []     # the contract the daemon checks with ajv


def test_int8_folds_activations_into_convolutions_and_keeps_the_first_convolution_float(int8_model):
    # Relu/Clip after a quantised Conv are dropped (the uint8 range clips), not requantised around; the first Conv
    # reads float weights, so ORT keeps the input normalisation channels-first.
    fp32, int8 = int8_model
    before, after = (onnx.load(str(p)).graph for p in (fp32, int8))
    produced_by, produced_before = ({o: n.op_type for n in g.node for o in n.output} for g in (after, before))
    relus_after_conv = sum(1 for n in before.node if n.op_type == "Relu" and produced_before.get(n.input[0]) == "Conv")
    assert relus_after_conv > 1
    relus = Counter(n.op_type for n in before.node)["Relu"] - Counter(n.op_type for n in after.node)["Relu"]
    assert relus == relus_after_conv - 1          # all but the float first convolution's
    convs = [n for n in after.node if n.op_type == "Conv"]
    assert produced_by.get(convs[0].input[1]) != "DequantizeLinear"
    assert all(produced_by.get(c.input[1]) == "DequantizeLinear" for c in convs[1:])
    q = json.loads(int8.with_suffix(".json").read_text())["quantization"]
    assert q["ops"] == ["Conv", "Clip", "Relu"] and q["float_leading_convs"] == 1


def test_calibration_frames_spread_over_train_and_adapt_to_the_split():
    frames = split_frames(3, 360, 480)
    assert frames.shape == (3, 360, 480, 3) and frames.dtype == np.uint8
    assert not np.array_equal(frames[0], frames[1]) and not np.array_equal(frames[1], frames[2])
    assert len(split_frames(10000, 36, 48)) == 367      # more than the split has: all of it (the card says how many)
    with pytest.raises(ValueError, match="asked for 0 frames; need at least 1"):
        split_frames(0, 360, 480)


def test_quantize_refuses_a_model_without_a_card(tmp_path):
    bare = tmp_path / "bare.onnx"
    shutil.copy(SHIPPED, bare)
    with pytest.raises(SystemExit, match="no model card beside it"):
        quantize_main(["--onnx", str(bare)])
