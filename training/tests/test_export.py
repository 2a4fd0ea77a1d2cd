"""ONNX export: BN folding, the graph contract, ONNX Runtime runs, card, parity on real CamVid frames."""
import json
from collections import Counter
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from onnx import TensorProto, helper

from segd_train.export import SegmentationExport, check_graph, export_onnx, fold_batchnorm, untrained_model
from segd_train.data.paths import REPO_ROOT
from segd_train.engine import checkpoint
from segd_train.export.__main__ import main as export_main
from segd_train.export.card import sha256_file
from segd_train.export.parity import camvid_dir, load_frames, mask_agreement
from model_checks import randomise_bn

H, W = 64, 96


def session(path: Path) -> ort.InferenceSession:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])


@pytest.fixture(scope="module")
def tiny_export(tmp_path_factory):
    """A 64×96 SCTNet-S export made through the CLI (random init, seed 0) with its card."""
    out = tmp_path_factory.mktemp("export") / "tiny.onnx"
    rc = export_main(["--untrained", "--arch", "sctnet-s", "--seed", "0", "--height", str(H), "--width", str(W),
                      "--out", str(out), "--parity-frames", "1"])
    assert rc == 0
    return out


def test_fold_batchnorm_removes_bn_and_keeps_outputs():
    model = randomise_bn(untrained_model("sctnet-s", 11, seed=3))
    folded = fold_batchnorm(model)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules()), "the original must be untouched"
    x = torch.randn(2, 3, H, W)
    with torch.no_grad():
        want, got = model(x), folded(x)
    assert torch.allclose(got, want, rtol=1e-4, atol=1e-4 * want.abs().max().item())


def test_exported_graph_follows_the_contract(tiny_export):
    model = onnx.load(str(tiny_export))
    check_graph(model, H, W)    # raises on any violation
    ops = Counter(n.op_type for n in model.graph.node)
    assert ops["BatchNormalization"] == 0
    assert max(o.version for o in model.opset_import if o.domain in ("", "ai.onnx")) == 17
    pools = [n for n in model.graph.node if n.op_type == "AveragePool"]
    padded = [n for n in pools if any(v for a in n.attribute if a.name == "pads" for v in helper.get_attribute_value(a))]
    assert len(pools) == 4 and len(padded) == 3   # three DAPPM pools with padding + the global pool
    for n in padded:
        assert {a.name: helper.get_attribute_value(a) for a in n.attribute}["count_include_pad"] == 1
    inits = {t.name for t in model.graph.initializer}
    assert not [n for n in model.graph.node if n.op_type == "Transpose" and n.input[0] in inits], \
        "Kvᵀ/Khᵀ should be folded into initializers"
    (inp,), (out,) = model.graph.input, model.graph.output
    assert (inp.name, inp.type.tensor_type.elem_type) == ("frames", TensorProto.UINT8)
    assert (out.name, out.type.tensor_type.elem_type) == ("mask", TensorProto.UINT8)
    assert inp.type.tensor_type.shape.dim[0].dim_param   # N is symbolic


def test_onnxruntime_runs_dynamic_batch_and_matches_pytorch(tiny_export):
    sess = session(tiny_export)
    reference = SegmentationExport(untrained_model("sctnet-s", 11, seed=0), H, W).eval()
    rng = np.random.default_rng(0)
    for n in (1, 3):
        frames = rng.integers(0, 256, (n, H, W, 3), dtype=np.uint8)
        (mask,) = sess.run(None, {"frames": frames})
        assert mask.dtype == np.uint8 and mask.shape == (n, H, W)
        assert mask.max() < 11
        with torch.no_grad():
            want = reference(torch.from_numpy(frames)).numpy()
        assert (mask == want).mean() >= 0.999


def test_card_describes_the_exported_file(tiny_export):
    card = json.loads(tiny_export.with_suffix(".json").read_text())
    classes = json.loads((camvid_dir() / "classes.json").read_text())
    assert card["format"] == "segd-model-card/1"
    assert card["name"] == "tiny" and card["architecture"] == "sctnet-s"
    assert card["onnx"] == {"file": "tiny.onnx", "opset": 17, "sha256": sha256_file(tiny_export)}
    assert card["input"] == {"name": "frames", "height": H, "width": W, "layout": "NHWC", "dtype": "uint8",
                             "color": "RGB"}
    assert card["output"] == {"name": "mask", "layout": "NHW", "dtype": "uint8"}
    assert card["classes"] == classes["classes"] and card["ignore_index"] == classes["ignore_index"]
    assert card["metrics"]["miou"] is None
    assert "UNTRAINED" in card["training"]["summary"]
    assert card["parameters"] == untrained_model("sctnet-s", 11).inference_parameters()


def test_export_from_a_training_checkpoint_with_metrics(tmp_path):
    model = randomise_bn(untrained_model("sctnet-s", 11, seed=5))
    ckpt = checkpoint.save(tmp_path / "last.pt", model=model, optimizer=None, scheduler=None, step=1234,
                           config={"model": "sctnet-s", "num_classes": 11, "teacher": "segformer-b2"}, generator=None)
    metrics = tmp_path / "eval.json"
    metrics.write_text(json.dumps({"split": "val", "checkpoint": str(ckpt), "miou": 0.5,
                                   "per_class_iou": {"sky": 0.9}, "pixel_accuracy": 0.8}))
    out = tmp_path / "m.onnx"
    rc = export_main(["--checkpoint", str(ckpt), "--metrics", str(metrics), "--height", str(H), "--width", str(W),
                      "--out", str(out), "--parity-frames", "1"])
    assert rc == 0
    card = json.loads(out.with_suffix(".json").read_text())
    assert card["metrics"] == {"split": "val", "miou": 0.5, "per_class_iou": {"sky": 0.9}, "pixel_accuracy": 0.8}
    assert card["training"]["step"] == 1234 and "segformer-b2" in card["training"]["summary"]
    frames = load_frames(1, H, W)
    assert mask_agreement(out, model, frames) >= 0.999


def test_export_refuses_a_checkpoint_for_another_architecture(tmp_path, capsys):
    ckpt = checkpoint.save(tmp_path / "x.pt", model=untrained_model("sctnet-s", 11), optimizer=None, scheduler=None,
                           step=1, config={"model": "sctnet-b", "num_classes": 11}, generator=None)
    assert export_main(["--checkpoint", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    assert "sctnet-b" in capsys.readouterr().err and not (tmp_path / "x.onnx").exists()


def test_check_graph_names_what_breaks_the_contract():
    x = helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, 3, H, W])
    y = helper.make_tensor_value_info("out", TensorProto.FLOAT, [1, 3, H, W])
    inits = [helper.make_tensor(n, TensorProto.FLOAT, [3], [1.0, 1.0, 1.0]) for n in ("s", "b", "m", "v")]
    node = helper.make_node("BatchNormalization", ["frames", "s", "b", "m", "v"], ["out"])
    bad = helper.make_model(helper.make_graph([node], "g", [x], [y], inits),
                            opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(ValueError, match="BatchNormalization.*frames dtype FLOAT.*exactly one 'mask'"):
        check_graph(bad, H, W)


def test_parity_on_real_camvid_val_frames_at_full_size(tmp_path):
    model = randomise_bn(untrained_model("sctnet-s", 11, seed=0))
    path = export_onnx(model, tmp_path / "full.onnx", 360, 480)
    frames = load_frames(2, 360, 480, split="val")
    assert frames.shape == (2, 360, 480, 3) and frames.std() > 10   # real images, not blanks
    assert mask_agreement(path, model, frames) >= 0.999


def test_shipped_model_matches_its_card():
    onnx_path = REPO_ROOT / "models" / "sctnet-s-camvid.onnx"
    card = json.loads(onnx_path.with_suffix(".json").read_text())
    assert card["onnx"]["sha256"] == sha256_file(onnx_path)
    check_graph(onnx.load(str(onnx_path)), card["input"]["height"], card["input"]["width"])
    (mask,) = session(onnx_path).run(None, {"frames": load_frames(1, card["input"]["height"], card["input"]["width"])})
    assert mask.shape == (1, 360, 480) and mask.max() < len(card["classes"])
    if card["training"].get("untrained"):
        # the placeholder must be exactly what `--untrained --seed N` rebuilds, or it cannot be re-made
        model = untrained_model(card["architecture"], len(card["classes"]), card["training"]["seed"])
        assert mask_agreement(onnx_path, model, load_frames(1, 360, 480)) >= 0.999


# onnxruntime-node is what the daemon runs: the same parity bar holds there, checked through a
# `node` child (the repo's node_modules) on the frames PyTorch saw.
_ORT_NODE_SCRIPT = r"""
const ort = require(process.argv[2]);
const fs = require('fs');
const [onnxPath, framesPath, outPath, n, h, w] = process.argv.slice(3);
(async () => {
  const s = await ort.InferenceSession.create(onnxPath, { intraOpNumThreads: 2 });
  const frames = new Uint8Array(fs.readFileSync(framesPath));
  const out = await s.run({ frames: new ort.Tensor('uint8', frames, [+n, +h, +w, 3]) });
  fs.writeFileSync(outPath, out.mask.data);
})().catch((e) => { console.error(e); process.exit(1); });
"""


def test_onnxruntime_node_agrees_with_pytorch_on_real_val_frames(tmp_path):
    import shutil
    import subprocess

    ort_node = REPO_ROOT / "node_modules" / "onnxruntime-node"
    node = shutil.which("node")
    if node is None or not ort_node.is_dir():
        pytest.skip("needs node and the repo's node_modules (npm ci) — the README's test command has both")
    model = randomise_bn(untrained_model("sctnet-s", 11, seed=0))
    path = export_onnx(model, tmp_path / "node.onnx", 360, 480)
    frames = load_frames(2, 360, 480, split="val")
    (tmp_path / "frames.bin").write_bytes(frames.tobytes())
    (tmp_path / "run.cjs").write_text(_ORT_NODE_SCRIPT)
    subprocess.run([node, str(tmp_path / "run.cjs"), str(ort_node), str(path), str(tmp_path / "frames.bin"),
                    str(tmp_path / "mask.bin"), "2", "360", "480"], check=True, timeout=120)
    got = np.frombuffer((tmp_path / "mask.bin").read_bytes(), dtype=np.uint8).reshape(2, 360, 480)
    with torch.no_grad():
        want = SegmentationExport(model, 360, 480).eval()(torch.from_numpy(frames)).numpy()
    assert len(np.unique(want)) > 1   # a constant mask would agree trivially
    assert (got == want).mean() >= 0.999


def test_card_states_the_opset_the_file_declares(tmp_path):
    # The exporter keeps opset 18 when it cannot convert a graph down (the Lite front's Pad): the card
    # must say what the file holds, not what was asked for.
    out = tmp_path / "lite.onnx"
    assert export_main(["--untrained", "--arch", "sctnet-s-lite0", "--height", str(H), "--width", str(W),
                        "--out", str(out), "--parity-frames", "0"]) == 0
    declared = next(o.version for o in onnx.load(str(out)).opset_import if o.domain in ("", "ai.onnx"))
    assert json.loads(out.with_suffix(".json").read_text())["onnx"]["opset"] == declared
