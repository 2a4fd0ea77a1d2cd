"""EfficientNet-Lite with its ImageNet weights, and the hybrid EfficientNet-Lite + MiT teacher built on it."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from segd_train.data.normalize import normalize
from segd_train.engine.config import ConfigError
from segd_train.models import TEACHERS, build_model, model_entry
from segd_train.models.efficientnet_lite import (CLASSIFIER_KEYS, EfficientNetLite, imagenet_key_map,
                                                 imagenet_weights_path, lite_blocks, load_imagenet)
from segd_train.models.hybrid import HybridTeacher

from conftest import write_recipe


def test_every_imagenet_tensor_maps_and_only_the_classifier_is_left_out():
    model = EfficientNetLite("lite0")
    mapping = imagenet_key_map(model)
    source = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    assert set(mapping) == set(model.state_dict())                     # every tensor of ours has a source
    assert len(set(mapping.values())) == len(mapping)                  # no source feeds two tensors
    assert set(source) - set(mapping.values()) == set(CLASSIFIER_KEYS)
    assert load_imagenet(model) == sorted(CLASSIFIER_KEYS)
    for ours, theirs in mapping.items():
        assert torch.equal(model.state_dict()[ours], source[theirs]), ours


def test_lite0_layout_taps_and_tensorflow_same_padding():
    specs, stage_ends = lite_blocks("lite0")
    assert len(specs) == 16 and stage_ends == [0, 2, 4, 7, 10, 14, 15]
    assert len(lite_blocks("lite2")[0]) == 21     # 1+3+3+4+4+5+1: depth ×1.2, first/last stage unscaled
    model = EfficientNetLite("lite0").eval()
    assert model.taps == {2: 0, 4: 2, 8: 4, 16: 10, 32: 15}
    with torch.no_grad():
        feats = model.features(torch.randn(1, 3, 45, 61))             # odd sizes: TF 'SAME' gives ceil(i / s)
    assert {s: tuple(f.shape[1:]) for s, f in feats.items()} == {
        2: (16, 23, 31), 4: (24, 12, 16), 8: (40, 6, 8), 16: (112, 3, 4), 32: (320, 2, 2)}


def test_imagenet_weights_see_a_street_in_a_camvid_frame(camvid_root: Path):
    """The loaded network is ImageNet's: a CamVid street scene ranks street classes at the top."""
    model = EfficientNetLite("lite0").eval()
    load_imagenet(model)
    source = torch.load(imagenet_weights_path("lite0"), map_location="cpu", weights_only=True)
    frame = sorted((camvid_root / "val" / "images").iterdir())[0]
    rgb = np.asarray(Image.open(frame).convert("RGB").resize((224, 224), Image.BILINEAR), dtype=np.float32)
    x = (torch.from_numpy(rgb).permute(2, 0, 1)[None] - 127.0) / 128.0
    with torch.no_grad():
        pooled = F.relu6(model.head_conv(model.features(x)[32])).mean((2, 3))
        top5 = set(F.linear(pooled, source["_fc.weight"], source["_fc.bias"]).topk(5).indices[0].tolist())
    street = {705, 717, 734, 751, 817, 829, 874, 920}  # passenger car, pickup, police van, racer, sports car,
    assert len(top5 & street) >= 2, top5                 # streetcar, trolleybus, traffic light


def test_hybrid_teacher_shapes_protocol_and_head_prefixes():
    torch.manual_seed(0)
    teacher = build_model("hybrid-lite0-mit", num_classes=5).eval()
    assert isinstance(teacher, HybridTeacher) and model_entry("hybrid-lite0-mit").role == "teacher"
    assert "hybrid-lite0-mit" in TEACHERS and model_entry("hybrid-lite0-mit").pretrained
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        out = teacher.forward_train(x)
        assert torch.equal(out["logits"], teacher(x))
    w = teacher.distill_widths
    assert tuple(out["logits"].shape) == (2, 5, 16, 24)
    assert tuple(out["stage3"].shape) == (2, w["stage3"], 4, 6)      # MiT stage 3 @1/16
    assert tuple(out["stage4"].shape) == (2, w["stage4"], 2, 3)      # MiT stage 4 @1/32
    assert tuple(out["concat_feature"].shape) == (2, w["concat"], 16, 24)
    decoder, logits = teacher.head_tail(out["concat_feature"])
    assert torch.equal(decoder, out["decoder_feature"]) and torch.equal(logits, out["logits"])
    new = [n for n, _ in teacher.named_parameters() if n.startswith(teacher.head_prefixes)]
    assert new and all(not n.startswith("encoder.") for n in new)
    assert {n.split(".")[0] for n, _ in teacher.named_parameters()} == {"encoder", "mit3", "mit4", "head"}


def test_hybrid_converts_the_trainers_normalisation_to_imagenet_lite_input():
    teacher = HybridTeacher(3).eval()
    rgb = torch.randint(0, 256, (1, 3, 32, 32)).float()
    with torch.no_grad():
        got = teacher.encoder.from_normalised(normalize(rgb))[16]
        want = teacher.encoder.features((rgb - 127.0) / 128.0)[16]
    assert torch.allclose(got, want, atol=1e-4)


def test_hybrid_starts_from_imagenet_not_random():
    pretrained = EfficientNetLite("lite0")
    load_imagenet(pretrained)
    teacher = HybridTeacher(3)
    stem = teacher.encoder.state_dict()["stem.conv.weight"]
    assert torch.equal(stem, pretrained.state_dict()["stem.conv.weight"])
    assert not torch.equal(HybridTeacher(3, pretrained=False).encoder.state_dict()["stem.conv.weight"], stem)


def test_recipes_name_models_of_the_right_role(tmp_path: Path):
    from segd_train.engine.config import load_config
    with pytest.raises(ConfigError, match="'model' 'hybrid-lite0-mit' is a teacher, but task 'baseline' needs a student"):
        load_config(write_recipe(tmp_path / "a.yaml", model="hybrid-lite0-mit"))
    with pytest.raises(ConfigError, match="'teacher' 'sctnet-b' is a student"):
        load_config(write_recipe(tmp_path / "b.yaml", task="student", teacher="sctnet-b"))
    with pytest.raises(ConfigError, match="'teacher' 'segformer-b9' is not a registered model"):
        load_config(write_recipe(tmp_path / "c.yaml", task="student", teacher="segformer-b9"))
    assert load_config(write_recipe(tmp_path / "d.yaml", task="student", teacher="hybrid-lite0-mit")).teacher


def test_lite_front_sctnet_keeps_sctnets_taps_and_the_imagenet_front():
    import torch
    from segd_train.models.efficientnet_lite import EfficientNetLite, load_imagenet
    from segd_train.models.interface import distill_channels_of, head_prefixes_of
    model = build_model("sctnet-s-lite0", num_classes=5).eval()
    assert model_entry("sctnet-s-lite0").role == "student" and model_entry("sctnet-s-lite0").pretrained
    assert distill_channels_of(model) == {"x_out": 128, "x3": 128, "x5": 256}
    # the front is the ImageNet network's, tensor for tensor (truncated at 1/16)
    ref = EfficientNetLite("lite0")
    load_imagenet(ref)
    ours = model.encoder.state_dict()
    assert all(torch.equal(t, ref.state_dict()[k]) for k, t in ours.items())
    # every parameter outside the front is a new part the head learning rate reaches
    prefixes = head_prefixes_of(model)
    assert all(n.startswith("encoder.") != n.startswith(prefixes) for n, _ in model.named_parameters())
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        logits = model(x)
        train = model.train().forward_train(x)
    assert logits.shape == (2, 5, 12, 16)
    assert train["x_out"].shape == (2, 128, 12, 16) and train["x3"].shape == (2, 128, 6, 8)
    assert train["x5"].shape == (2, 256, 3, 4) and train["aux"]["aux"].shape == (2, 5, 12, 16)


def test_lite_fpn_probe_is_the_imagenet_network_to_1_32_with_a_new_head():
    import torch
    from segd_train.models.efficientnet_lite import EfficientNetLite, load_imagenet
    from segd_train.models.interface import distill_channels_of, head_prefixes_of
    model = build_model("lite0-fpn", num_classes=5).eval()
    assert model_entry("lite0-fpn").role == "student" and model_entry("lite0-fpn").pretrained
    ref = EfficientNetLite("lite0")
    load_imagenet(ref)
    ours = model.encoder.state_dict()
    assert ours and all(torch.equal(t, ref.state_dict()[k]) for k, t in ours.items())
    assert model.encoder.channels == {2: 16, 4: 24, 8: 40, 16: 112, 32: 320}
    prefixes = head_prefixes_of(model)
    assert all(n.startswith("encoder.") != n.startswith(prefixes) for n, _ in model.named_parameters())
    with pytest.raises(ValueError, match="cannot be a SIAM student"):
        distill_channels_of(model)
    x = torch.randn(2, 3, 96, 128)
    with torch.no_grad():
        logits = model(x)
        train = model.train().forward_train(x)
    assert logits.shape == (2, 5, 12, 16) and train["logits"].shape == (2, 5, 12, 16) and train["aux"] == {}
    # the coarse levels reach the output: changing only the 1/32 lateral changes the logits
    with torch.no_grad():
        model.eval()
        model.lateral32.bias.add_(1.0)
        assert not torch.allclose(model(x), logits)
