"""The input-layout rewrite (export/channels_first.py): old NHWC-normalising files become channels first with
masks equal on every pixel, the card follows, and nothing the exporter or the repo ships still needs it."""
import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from segd_train.data.normalize import MEAN, STD
from segd_train.data.paths import REPO_ROOT
from segd_train.export.card import sha256_file
from segd_train.export.channels_first import channels_first_input, main as channels_first_main, nhwc_normalisation
from segd_train.export.__main__ import main as export_main

H, W = 64, 96


def old_layout_model(seed: int = 0) -> onnx.ModelProto:
    """What exports before the change looked like at the input: Cast → Sub → Div → Transpose, then a 3×3 conv,
    argmax and the uint8 mask of the contract."""
    rng = np.random.default_rng(seed)
    inits = [numpy_helper.from_array(np.array(MEAN, np.float32).reshape(1, 1, 1, 3), "mean"),
             numpy_helper.from_array(np.array(STD, np.float32).reshape(1, 1, 1, 3), "std"),
             numpy_helper.from_array(rng.normal(size=(5, 3, 3, 3)).astype(np.float32), "w")]
    nodes = [helper.make_node("Cast", ["frames"], ["f"], to=TensorProto.FLOAT),
             helper.make_node("Sub", ["f", "mean"], ["centred"]),
             helper.make_node("Div", ["centred", "std"], ["normalised"]),
             helper.make_node("Transpose", ["normalised"], ["x"], perm=[0, 3, 1, 2]),
             helper.make_node("Conv", ["x", "w"], ["logits"], pads=[1, 1, 1, 1]),
             helper.make_node("ArgMax", ["logits"], ["classes"], axis=1, keepdims=0),
             helper.make_node("Cast", ["classes"], ["mask"], to=TensorProto.UINT8)]
    graph = helper.make_graph(nodes, "old", [helper.make_tensor_value_info("frames", TensorProto.UINT8, ["N", H, W, 3])],
                              [helper.make_tensor_value_info("mask", TensorProto.UINT8, ["N", H, W])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    return onnx.shape_inference.infer_shapes(model)   # value_info for the NHWC intermediates, as exports carry


def masks(model: onnx.ModelProto, frames: np.ndarray) -> np.ndarray:
    s = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return s.run(None, {"frames": frames})[0]


def test_rewrite_moves_the_transpose_first_and_keeps_every_mask_pixel():
    old = old_layout_model()
    frames = np.random.default_rng(1).integers(0, 256, (3, H, W, 3), dtype=np.uint8)
    want = masks(old, frames)
    new = onnx.ModelProto()
    new.CopyFrom(old)
    assert channels_first_input(new) is True
    assert [n.op_type for n in new.graph.node[:4]] == ["Transpose", "Cast", "Sub", "Div"]
    assert new.graph.node[0].input[0] == "frames"
    assert {tuple(t.dims) for t in new.graph.initializer if t.name != "w"} == {(1, 3, 1, 1)}
    assert nhwc_normalisation(new.graph) is None
    assert np.array_equal(masks(new, frames), want)
    assert len(np.unique(want)) > 1, "a constant mask would not show a layout mistake"
    assert channels_first_input(new) is False   # nothing left to rewrite


def test_a_chain_that_is_not_the_old_normalisation_is_left_alone():
    model = old_layout_model()
    transpose = model.graph.node[3]
    del transpose.attribute[:]
    transpose.attribute.append(helper.make_attribute("perm", [0, 3, 2, 1]))
    before = model.SerializeToString()
    assert channels_first_input(model) is False
    assert model.SerializeToString() == before


def test_cli_rewrites_the_file_and_its_card(tmp_path, capsys):
    path = tmp_path / "old.onnx"
    onnx.save(old_layout_model(), str(path))
    path.with_suffix(".json").write_text(json.dumps({"name": "old", "onnx": {"file": "old.onnx", "sha256": "0" * 64}}))
    assert channels_first_main(["--onnx", str(path), "--agreement-frames", "2"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report == {"onnx": str(path), "rewritten": True, "frames": 2, "pixel_agreement": 1.0}
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["onnx"]["sha256"] == sha256_file(path)
    assert nhwc_normalisation(onnx.load(str(path)).graph) is None
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_refuses_a_model_without_a_card(tmp_path):
    path = tmp_path / "old.onnx"
    onnx.save(old_layout_model(), str(path))
    with pytest.raises(SystemExit, match="no model card beside it"):
        channels_first_main(["--onnx", str(path)])


def test_the_exporter_already_normalises_channels_first(tmp_path):
    out = tmp_path / "tiny.onnx"
    assert export_main(["--untrained", "--arch", "sctnet-s", "--seed", "0", "--height", str(H), "--width", str(W),
                        "--out", str(out), "--parity-frames", "1"]) == 0
    graph = onnx.load(str(out)).graph
    assert nhwc_normalisation(graph) is None
    first = graph.node[0]
    assert (first.op_type, first.input[0]) == ("Transpose", "frames")


@pytest.mark.parametrize("path", sorted((REPO_ROOT / "models").glob("*.onnx")), ids=lambda p: p.name)
def test_shipped_models_normalise_channels_first(path: Path):
    assert nhwc_normalisation(onnx.load(str(path)).graph) is None, \
        f"{path.name}: run python -m segd_train.export.channels_first --onnx {path}"
