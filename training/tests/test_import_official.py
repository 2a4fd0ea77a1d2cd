"""Official checkpoints → segd models: equivalence with the official implementations, refusals, the import CLI.

The logits in tests/fixtures/official/ were produced by the official code (generate.py there) on the weights
`random_state` rebuilds; segd must reproduce them through its key tables within 1e-4.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from official_weights import (HF_B0_CONFIG, fixed_input, fixture_logits, fixture_state, load_fixture, random_state,
                              write_hf_directory, write_mmseg_checkpoint)
from segd_train.cli import main as cli_main
from segd_train.importers import ImportRefused, load_official
from segd_train.importers.read import input_size_from_mmseg_config

# The bar is 1e-4; we hold 1e-5. Measured here: 0.8–3.5e-6 (float32 summation order). 1e-4 would let
# a LayerNorm eps slip through (HF's 1e-5 run with NVlabs' 1e-6 in the blocks gives 1.8e-5), 1e-5 does not.
TOL = 1e-5


def official_file(name: str, tmp: Path) -> tuple[Path, dict]:
    fx = load_fixture(name)
    state = fixture_state(fx)
    if name.endswith("-hf"):
        return write_hf_directory(tmp / name, state, HF_B0_CONFIG), fx
    return write_mmseg_checkpoint(tmp / f"{name}.pth", state), fx


@pytest.mark.parametrize("name,arch", [("sctnet-s-mmseg", "sctnet-s"), ("sctnet-b-mmseg", "sctnet-b"),
                                       ("segformer-b0-hf", "segformer-mlp-b0"), ("segformer-b0-mmseg", "segformer-b0"),
                                       ("segformer-b0-nvlabs", "segformer-nv-b0"),
                                       ("stdc1-seg", "stdc1-seg"), ("stdc2-seg", "stdc2-seg"),
                                       ("sfnet-r18", "sfnet-r18"), ("sfnet-lite-r18", "sfnet-lite-r18"),
                                       ("sfnet-stdc1", "sfnet-stdc1"), ("sfnet-lite-stdc2", "sfnet-lite-stdc2")])
def test_imported_model_reproduces_the_official_logits(tmp_path, name, arch):
    path, fx = official_file(name, tmp_path)
    model, got_arch, report, _, _ = load_official(path)
    assert got_arch == arch and model.num_classes == 19
    n, h, w = fx["input"]
    with torch.no_grad():
        logits = model(fixed_input(n, h, w))
    want = fixture_logits(fx)
    assert logits.shape == want.shape
    diff = (logits - want).abs().max().item()
    assert diff <= TOL, f"{name}: max |Δlogit| {diff:.2e} vs the official implementation"
    assert want.abs().max() > 100 * TOL   # logits of a size the tolerance can tell apart


def test_every_source_tensor_is_accounted_for(tmp_path):
    path, fx = official_file("sctnet-s-mmseg", tmp_path)
    _, _, report, _, _ = load_official(path)
    assert len(report.loaded) == len(fx["keys"]) and not report.skipped and not report.kept_from_init


def test_training_only_parts_are_reported_as_skipped(tmp_path):
    fx = load_fixture("sctnet-s-mmseg")
    state = random_state(fx["keys"], fx["seed"])
    aux = {k: v for k, v in state.items() if k.startswith("auxiliary_head.0.")}
    state = {k: v for k, v in state.items() if not k.startswith("auxiliary_head.")}
    state["auxiliary_head.1.teacher_backbone.patch_embed1.proj.weight"] = torch.zeros(64, 3, 7, 7)
    model, _, report, _, _ = load_official(write_mmseg_checkpoint(tmp_path / "c.pth", state))
    assert [len(v) for v in report.skipped.values()] == [1]
    assert "teacher" in next(iter(report.skipped))
    assert sorted(report.kept_from_init) == sorted(k.replace("auxiliary_head.0.", "aux_head.")
                                                   .replace("conv1.", "conv.conv.").replace("bn2.", "conv.bn.")
                                                   for k in aux)


@pytest.mark.parametrize("damage,culprit", [
    ("extra", "backbone.layer9.0.conv1.weight"),
    ("missing", "backbone.spp.process3.2.weight"),
    ("shape", "decode_head.conv1.weight"),
])
def test_a_bad_checkpoint_is_refused_naming_the_keys(tmp_path, damage, culprit):
    fx = load_fixture("sctnet-s-mmseg")
    state = random_state(fx["keys"], fx["seed"])
    if damage == "extra":
        state[culprit] = torch.zeros(1)
        expect = culprit
    elif damage == "missing":
        del state[culprit]
        expect = "backbone.spp.process.2.2.weight"   # the segd key it would have filled
    else:
        state[culprit] = torch.zeros(128, 128, 1, 1)
        expect = "head.conv.conv.weight (checkpoint (128, 128, 1, 1), model (128, 128, 3, 3))"
    with pytest.raises(ImportRefused) as err:
        load_official(write_mmseg_checkpoint(tmp_path / "bad.pth", state))
    assert expect in str(err.value)


def test_wrong_family_and_truncated_files_are_refused(tmp_path):
    hf, _ = official_file("segformer-b0-hf", tmp_path)
    with pytest.raises(ImportRefused, match="no backbone.conv1.0.weight"):
        load_official(hf, family="sctnet")
    good, _ = official_file("sctnet-s-mmseg", tmp_path)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(ImportRefused, match="not a readable PyTorch checkpoint"):
        load_official(cut)


def test_backbone_only_import_keeps_a_new_head(tmp_path):
    fx = load_fixture("sctnet-s-mmseg")
    state = random_state(fx["keys"], fx["seed"])
    imagenet = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    model, arch, report, _, _ = load_official(write_mmseg_checkpoint(tmp_path / "imnet.pth", imagenet),
                                              part="backbone", num_classes=11)
    assert arch == "sctnet-s" and model.head.conv_seg.out_channels == 11
    assert torch.equal(model.backbone.layer4.attn.kh, state["backbone.layer4.attn_l.kv3"])
    assert all(k.startswith(("head.", "aux_head.")) for k in report.kept_from_init)


def test_input_size_comes_from_the_mmseg_config_text():
    city = ("test_pipeline = [dict(type='LoadImageFromFile'), dict(type='MultiScaleFlipAug', "
            "img_scale=(1536, 768), flip=False)]\ncrop_size = (1024, 1024)")
    ade = ("crop_size = (512, 512)\ntest_pipeline = [dict(type='MultiScaleFlipAug', img_scale=(2048, 512))]")
    assert input_size_from_mmseg_config(city) == (768, 1536)
    assert input_size_from_mmseg_config(ade) == (512, 512)


@pytest.mark.parametrize("name", ["sctnet-s-mmseg", "segformer-b0-hf", "stdc1-seg", "sfnet-lite-r18"])
def test_import_cli_writes_a_contract_onnx_and_card(tmp_path, name, capsys):
    import numpy as np
    import onnxruntime as ort
    path, fx = official_file(name, tmp_path)
    out = tmp_path / "models" / f"{name}.onnx"
    rc = cli_main(["import", "--checkpoint", str(path), "--size", "64x96", "--out", str(out), "--parity-frames", "2"])
    printed = capsys.readouterr().out
    assert rc == 0, printed
    parity = float(printed.split("parity: ")[1].split()[0])
    assert parity >= 0.999, printed   # the exporter's own bar; random weights leave a few near-tied pixels
    card = json.loads(out.with_suffix(".json").read_text())
    from jsonschema import Draft7Validator
    from segd_train.data.paths import REPO_ROOT
    schema = json.loads((REPO_ROOT / "models" / "model-card.schema.json").read_text())
    assert [e.message for e in Draft7Validator(schema).iter_errors(card)] == []   # what the daemon checks
    assert card["input"]["height"] == 64 and card["input"]["width"] == 96
    assert card["dataset"]["name"] == "cityscapes-19" and len(card["classes"]) == 19
    assert card["classes"][13] == {"id": 13, "name": "car", "color": [0, 0, 142]}
    assert card["training"]["imported"]["tensors"] > 100
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    mask = sess.run(None, {"frames": np.zeros((1, 64, 96, 3), np.uint8)})[0]
    assert mask.shape == (1, 64, 96) and mask.dtype == np.uint8


def test_import_cli_writes_nothing_on_a_refused_file(tmp_path, capsys):
    fx = load_fixture("sctnet-s-mmseg")
    state = random_state(fx["keys"], fx["seed"])
    state["decode_head.conv_seg.weight"] = state["decode_head.conv_seg.weight"][:18]
    bad = write_mmseg_checkpoint(tmp_path / "bad.pth", state)
    out = tmp_path / "models" / "x.onnx"
    rc = cli_main(["import", "--checkpoint", str(bad), "--size", "64x96", "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2 and "decode_head.conv_seg.bias" not in err and "head.conv_seg.bias" in err
    assert "nothing written" in err and not out.parent.exists()


def test_init_from_a_whole_official_model_with_a_new_classifier(tmp_path, camvid_root, capsys):
    """Cityscapes (19) → CamVid (11): everything but the classifiers comes from the file; training runs."""
    from conftest import write_recipe
    from segd_train.engine.config import load_config
    from segd_train.engine.runner import RunOptions, run_training
    from segd_train.importers import init_model
    from segd_train.models import build_model
    path, fx = official_file("sctnet-s-mmseg", tmp_path)
    state = random_state(fx["keys"], fx["seed"])
    model = build_model("sctnet-s", 11)
    report = init_model(model, "sctnet-s", path, part="model")
    assert torch.equal(model.head.conv.conv.weight, state["decode_head.conv1.weight"])
    assert model.head.conv_seg.weight.shape[0] == 11
    assert sorted(report.kept_from_init) == ["aux_head.conv_seg.bias", "aux_head.conv_seg.weight",
                                             "head.conv_seg.bias", "head.conv_seg.weight"]
    assert len(next(iter(report.skipped.values()))) == 4
    with pytest.raises(ImportRefused, match="holds sctnet-s, the recipe trains sctnet-b"):
        init_model(build_model("sctnet-b", 11), "sctnet-b", path, part="backbone")
    recipe = write_recipe(tmp_path / "r.yaml", init_from=str(path), init_part="model", iterations=2)
    result = run_training(load_config(recipe), RunOptions(out_dir=tmp_path / "run", device=torch.device("cpu"),
                                                          progress=False, stop_at_step=1))
    assert result.step == 1 and "init_from" in capsys.readouterr().out


def test_nvlabs_segformer_file_and_its_imagenet_backbone(tmp_path):
    """NVlabs' segmentor: BaseDecodeHead's unused conv_seg is reported skipped. Its ImageNet mit_b0.pth (backbone
    names without `backbone.`, plus the classifier `head.*`) starts a segformer-nv-b0 recipe; an HF SegFormer
    recipe (another LayerNorm eps) is refused: its family reads HF directories only."""
    from segd_train.importers import init_model
    from segd_train.models import build_model
    path, fx = official_file("segformer-b0-nvlabs", tmp_path)
    _, _, report, _, _ = load_official(path)
    assert {w: len(k) for w, k in report.skipped.items()} == {"BaseDecodeHead's conv_seg, never run by SegFormerHead": 2}
    state = fixture_state(fx)
    imagenet = {k.removeprefix("backbone."): v for k, v in state.items() if k.startswith("backbone.")}
    imagenet["head.weight"], imagenet["head.bias"] = torch.zeros(1000, 256), torch.zeros(1000)
    torch.save(imagenet, tmp_path / "mit_b0.pth")
    model = build_model("segformer-nv-b0", 11)
    init_model(model, "segformer-nv-b0", tmp_path / "mit_b0.pth", part="backbone")
    assert torch.equal(model.backbone.stages[3].blocks[1].ffn.fc2.weight[..., 0, 0], imagenet["block4.1.mlp.fc2.weight"])
    with pytest.raises(ImportRefused, match="a Hugging Face SegFormer needs its config.json"):
        init_model(build_model("segformer-mlp-b0", 11), "segformer-mlp-b0", tmp_path / "mit_b0.pth", part="backbone")


# --- STDC-Seg (MichaelFan01/STDC-Seg's own layout) -------------------------------------------------------------

def test_stdc_seg_file_is_fully_accounted_for(tmp_path):
    """Every source tensor is loaded or skipped for a named reason: the x2…x32 copies, the backbone's ImageNet
    classifier and the unused detail heads; only InPlaceABN's absent BN counters stay at their init."""
    path, fx = official_file("stdc2-seg", tmp_path)
    _, _, report, _, _ = load_official(path)
    skipped = sum(len(v) for v in report.skipped.values())
    assert len(report.loaded) + skipped == len(fx["keys"])
    assert skipped == len(fx["aliases"]) + 13 + 18    # copies; conv_last 6 + fc 1 + bn 5 + linear 1; 3 heads × 6
    assert report.kept_from_init and all(k.endswith("num_batches_tracked") and not k.startswith("backbone.")
                                         for k in report.kept_from_init)


@pytest.mark.parametrize("damage,expect", [
    ("extra", "cp.arm8.conv_atten.weight"),
    ("missing", "context.arm16.atten.bn.running_var"),
    ("shape", "head.cls.weight (checkpoint (19, 128, 1, 1), model (19, 256, 1, 1))"),
    ("copy", "cp.backbone.x16.0.4.conv_list.1.bn.weight ≠ cp.backbone.features.4.conv_list.1.bn.weight"),
])
def test_a_bad_stdc_seg_file_is_refused_naming_the_keys(tmp_path, damage, expect):
    fx = load_fixture("stdc1-seg")
    state = fixture_state(fx)
    if damage == "extra":
        state[expect] = torch.zeros(128, 64, 1, 1)
    elif damage == "missing":
        del state["cp.arm16.bn_atten.running_var"]
    elif damage == "shape":
        state["conv_out.conv_out.weight"] = torch.zeros(19, 128, 1, 1)
    else:   # the official forward runs the x* copy: a file where it differs from features.N is not importable
        state["cp.backbone.x16.0.4.conv_list.1.bn.weight"] = state["cp.backbone.x16.0.4.conv_list.1.bn.weight"] + 1
    with pytest.raises(ImportRefused) as err:
        load_official(write_mmseg_checkpoint(tmp_path / "bad.pth", state))
    assert expect in str(err.value)


@pytest.mark.parametrize("name,arch", [("stdc1-seg", "stdc1-seg"), ("stdc2-seg", "stdc2-seg")])
def test_stdcnet_imagenet_file_initialises_the_backbone(tmp_path, name, arch):
    """STDCNet813M_73.91.tar / STDCNet1446_76.47.tar: {"state_dict": backbone names without cp.backbone.}, with the
    ImageNet classifier; the official init_weight reads exactly that."""
    from segd_train.importers import init_model
    from segd_train.models import build_model
    fx = load_fixture(name)
    state = fixture_state(fx)
    imagenet = {k.removeprefix("cp.backbone."): v for k, v in state.items() if k.startswith("cp.backbone.")}
    path = tmp_path / f"{name}-imagenet.tar"
    torch.save({"epoch": 300, "best_prec1": 73.91, "state_dict": imagenet}, path)
    model = build_model(arch, 11)
    head_before = model.head.cls.weight.clone()
    report = init_model(model, arch, path, part="backbone")
    assert torch.equal(model.backbone.stage4[0].down.conv.weight, imagenet[f"features.{len(model.backbone.stage3) + 2}"
                                                                            ".avd_layer.0.weight"])
    assert torch.equal(model.head.cls.weight, head_before)
    assert all(not k.startswith("backbone.") for k in report.kept_from_init)
    assert any("ImageNet classifier" in why for why in report.skipped)


# --- SFNet / SFNet-Lite (lxtGH/SFSegNets' own layout) ------------------------------------------------------------

def test_sfnet_lite_file_reports_its_unused_parts(tmp_path):
    """As SFSegNets' train.py saves it: {"state_dict": DataParallel's module.-prefixed names, "epoch", "mean_iu"}."""
    fx = load_fixture("sfnet-lite-r18")
    path = tmp_path / "sfnet_lite_r18.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in fixture_state(fx).items()}, "epoch": 100,
                "mean_iu": 0.78}, path)
    _, _, report, _, _ = load_official(path)
    assert {why: len(keys) for why, keys in report.skipped.items()} == {
        "SFNet-Lite R18's third fpn_in (512 → d), never run": 7, "DSN head, training-only": 9}
    assert len(report.loaded) + 16 == len(fx["keys"]) and not report.kept_from_init


@pytest.mark.parametrize("damage,expect", [
    ("extra", "head.fpn_out_align.3.down_h.weight"),
    ("missing", "head.fpn_out_align.1.flow_make.weight"),
    ("shape", "backbone.body.layer3.0.conv2.conv.weight (checkpoint (256, 256, 1, 1), model (256, 256, 3, 3))"),
])
def test_a_bad_sfnet_file_is_refused_naming_the_keys(tmp_path, damage, expect):
    fx = load_fixture("sfnet-r18")
    state = fixture_state(fx)
    if damage == "extra":
        state[expect] = torch.zeros(64, 128, 1, 1)
    elif damage == "missing":
        del state[expect]
    else:
        state["layer3.0.conv2.weight"] = torch.zeros(256, 256, 1, 1)
    with pytest.raises(ImportRefused) as err:
        load_official(write_mmseg_checkpoint(tmp_path / "bad.pth", state))
    assert expect in str(err.value)


def test_sfnet_recipes_start_from_the_official_imagenet_files(tmp_path):
    """resnet18-deep-inplane128.pth (the plain deep-stem ResNet state dict the official resnet_d.resnet18 loads)
    starts any R18 SFNet; STDCNet813M_73.91.tar, an STDC-Seg family file, starts sfnet-lite-stdc1's trunk."""
    from segd_train.importers import init_model
    from segd_train.models import build_model
    state = fixture_state(load_fixture("sfnet-r18"))
    imagenet = {k.replace("layer0.0.", "conv1.").replace("layer0.1.", "bn1."): v for k, v in state.items()
                if not k.startswith("head.")}
    imagenet["fc.weight"], imagenet["fc.bias"] = torch.zeros(1000, 512), torch.zeros(1000)
    torch.save(imagenet, tmp_path / "resnet18-deep-inplane128.pth")
    model = build_model("sfnet-lite-r18", 11)
    report = init_model(model, "sfnet-lite-r18", tmp_path / "resnet18-deep-inplane128.pth", part="backbone")
    assert torch.equal(model.backbone.body.stem[4].bn.running_var, imagenet["bn1.running_var"])
    assert list(report.skipped) == ["ResNet's ImageNet classifier"]

    stdc = fixture_state(load_fixture("stdc1-seg"))
    stdc = {k.removeprefix("cp.backbone."): v for k, v in stdc.items() if k.startswith("cp.backbone.")}
    torch.save({"state_dict": stdc}, tmp_path / "STDCNet813M_73.91.tar")
    model = build_model("sfnet-lite-stdc1", 11)
    init_model(model, "sfnet-lite-stdc1", tmp_path / "STDCNet813M_73.91.tar", part="backbone")
    assert torch.equal(model.backbone.body.stage5[1].b4.conv.conv.weight, stdc["features.7.conv_list.3.conv.weight"])
    with pytest.raises(ImportRefused, match="holds sfnet-stdc1, the recipe trains sfnet-stdc2"):
        init_model(build_model("sfnet-stdc2", 11), "sfnet-stdc2", tmp_path / "STDCNet813M_73.91.tar", part="backbone")
