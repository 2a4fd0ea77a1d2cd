"""STDC backbones, STDC-Seg and the detail loss: sizes, shapes, the reference quirks, and the ONNX export."""
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from segd_train.export.onnx_export import SegmentationExport, export_onnx
from segd_train.losses import detail_loss, detail_target
from segd_train.losses.detail import edge_maps
from segd_train.models import STDCSeg, build_model
from segd_train.models.stdc import STDCModule, STDCNet, stdc1_backbone, stdc2_backbone


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


# --- sizes -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name,inference,backbone", [("stdc1-seg", 8.28e6, 5.32e6), ("stdc2-seg", 12.31e6, 9.35e6)])
def test_parameter_counts_match_facts_sheet(name, inference, backbone):
    model = build_model(name, num_classes=19)
    assert isinstance(model, STDCSeg)
    assert abs(model.inference_parameters() - inference) <= 0.01e6
    assert abs(n_params(model.backbone) - backbone) <= 0.01e6
    extras = {k: n_params(getattr(model, k)) for k in ("aux16", "aux32", "detail")}
    assert abs(extras["aux16"] + extras["aux32"] - 0.15e6) <= 0.01e6      # facts sheet: +0.15M aux heads
    assert abs(extras["detail"] - 0.15e6) <= 0.01e6                      # and +0.15M detail head
    assert model.inference_parameters() + sum(extras.values()) == n_params(model)


def test_backbone_feature_pyramid_at_360x480():
    backbone = stdc1_backbone().eval()
    with torch.no_grad():
        feats = backbone(torch.randn(1, 3, 360, 480))
    sizes = {"feat2": (180, 240), "feat4": (90, 120), "feat8": (45, 60), "feat16": (23, 30), "feat32": (12, 15)}
    assert list(feats) == list(sizes)
    for name, hw in sizes.items():
        assert tuple(feats[name].shape) == (1, backbone.channels[name], *hw), name
    assert backbone.channels == {"feat2": 32, "feat4": 64, "feat8": 256, "feat16": 512, "feat32": 1024}


@pytest.mark.parametrize("build,stages", [(stdc1_backbone, (2, 2, 2)), (stdc2_backbone, (4, 5, 3))])
def test_stage_layout_and_stride2_pool_counts_padding(build, stages):
    backbone: STDCNet = build()
    for stage, count in zip((backbone.stage3, backbone.stage4, backbone.stage5), stages):
        assert [m.stride for m in stage] == [2] + [1] * (count - 1)
        pool = stage[0].skip
        assert isinstance(pool, nn.AvgPool2d) and pool.count_include_pad
    # count_include_pad shows numerically: a corner of an all-ones map averages 4 ones over 9 cells.
    module = STDCModule(8, 16, 2)
    assert torch.allclose(module.skip(torch.ones(1, 1, 4, 4))[0, 0, 0, 0], torch.tensor(4 / 9))


def test_classifier_is_not_built():
    names = [n for n, _ in stdc1_backbone().named_modules()]
    assert not any(k in n for n in names for k in ("conv_last", "fc", "linear", "bn1d"))


# --- the segmentation network ------------------------------------------------------------------------

def test_stdcseg_interface_and_shapes_on_a_tiny_odd_input():
    model = build_model("stdc1-seg", num_classes=11).eval()
    assert model.output_stride == 8 and model.align_corners is True
    assert model.distill_channels == {"x_out": 256, "x3": 512, "x5": 1024}
    calls = []
    for head in (model.aux16, model.aux32, model.detail):
        head.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(2, 3, 50, 70)            # not a multiple of 32: 1/8 → 7×9, 1/16 → 4×5, 1/32 → 2×3
    with torch.no_grad():
        logits = model(x)
        assert not calls, "the inference path must not run the aux or detail heads"
        out = model.forward_train(x)
    assert logits.shape == (2, 11, 7, 9)
    assert set(out) == {"logits", "aux", "detail_logits", "x_out", "x3", "x5"}
    assert set(out["aux"]) == {"aux16", "aux32"}
    assert out["aux"]["aux16"].shape == (2, 11, 7, 9)       # on cp8
    assert out["aux"]["aux32"].shape == (2, 11, 4, 5)       # on cp16
    assert out["detail_logits"].shape == (2, 1, 7, 9)
    assert out["x_out"].shape == (2, 256, 7, 9)
    assert out["x3"].shape == (2, 512, 4, 5)
    assert out["x5"].shape == (2, 1024, 2, 3)
    assert torch.allclose(out["logits"], logits, atol=1e-5)


def test_stdc2_seg_forward_train_at_360x480_is_one_eighth():
    model = build_model("stdc2-seg", num_classes=11).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 360, 480))
    assert out["logits"].shape == (1, 11, 45, 60)
    assert out["x5"].shape == (1, 1024, 12, 15)


def test_head_init_is_kaiming_a1():
    torch.manual_seed(0)
    model = build_model("stdc1-seg", num_classes=19)
    w = model.head.cls.weight                            # 19×256×1×1, fan_in 256 → std 1/16
    assert abs(w.std().item() - 1 / 16) < 0.1 / 16
    assert model.head.cls.bias is None


# --- detail target -----------------------------------------------------------------------------------

def test_detail_target_on_a_vertical_step_edge():
    # Class 0 left of column 6, class 3 from column 6 on, 8×12. The Laplacian is > 0 only on class-3 pixels
    # with a neighbour that is not 3: the class-3 side of the edge, and (zero padding) the image frame there.
    labels = torch.zeros(1, 8, 12, dtype=torch.long)
    labels[:, :, 6:] = 3
    s1 = torch.zeros(8, 12)
    s1[:, 6] = 1                           # edge column
    s1[0, 6:] = s1[7, 6:] = s1[:, 11] = 1  # frame of the class-3 region
    # Stride 2 samples even rows/cols: (r, 6) for every even r (edge), and (0, 8), (0, 10) (top frame);
    # nearest upsampling spreads each to a 2×2 block. Row 7 and column 11 are odd, never sampled.
    s2 = torch.zeros(8, 12)
    s2[:, 6:8] = 1
    s2[0:2, 6:12] = 1
    maps = edge_maps(labels)[0]
    assert torch.equal(maps[0], s1)
    assert torch.equal(maps[1], s2)
    assert torch.equal(detail_target(labels)[0, 0], torch.maximum(s1, s2))
    # Stride 4 flags the block rows 0–3 × cols 8–11 (from the frame pixel (0, 8)); rows 2–3 × cols 8–10
    # are flagged by stride 4 only and stay 0: 0.1 is not > 0.1.
    assert maps[2][2:4, 8:11].eq(1).all()
    assert detail_target(labels)[0, 0, 2:4, 8:11].eq(0).all()


def test_a_stride4_only_pixel_never_becomes_positive():
    labels = torch.zeros(1, 16, 16, dtype=torch.long)
    labels[0, 4, 4] = 5                               # one pixel: Laplacian 40 at (4,4), −5 around it
    maps = edge_maps(labels)[0]
    assert maps[0].nonzero().tolist() == [[4, 4]]
    assert maps[1].nonzero().tolist() == [[r, c] for r in (4, 5) for c in (4, 5)]
    assert maps[2].nonzero().tolist() == [[r, c] for r in range(4, 8) for c in range(4, 8)]
    assert torch.equal(detail_target(labels)[0, 0], maps[1])   # only s1 ∪ s2 = the 2×2 block


def test_constant_labels_give_no_interior_detail():
    assert detail_target(torch.zeros(2, 16, 24, dtype=torch.long)).sum() == 0
    # A constant non-zero class: the interior is 0, but zero padding makes the image frame a "detail"
    # exactly as in the reference (s1: the 1-pixel frame; s2 adds row/col 1 next to even frame samples).
    target = detail_target(torch.full((1, 16, 24), 7, dtype=torch.long))[0, 0]
    assert target[2:-1, 2:-1].sum() == 0
    assert target[0].all() and target[-1].all() and target[:, 0].all() and target[:, -1].all()


def test_ignore_label_borders_count_as_detail():
    labels = torch.full((1, 16, 16), 2, dtype=torch.long)
    labels[0, 6:10, 6:10] = 255                        # an ignored block inside one class
    assert detail_target(labels)[0, 0, 6:10, 6:10].sum() > 0   # unmasked, as in the reference


# --- detail loss -------------------------------------------------------------------------------------

def test_detail_loss_values_for_zero_logits():
    labels = torch.zeros(2, 32, 48, dtype=torch.long)
    labels[0, :, 20:] = 1
    losses = detail_loss(torch.zeros(2, 1, 4, 6), labels)
    assert set(losses) == {"detail_bce", "detail_dice"}
    assert torch.allclose(losses["detail_bce"], torch.tensor(np.log(2.0), dtype=torch.float32))
    t = detail_target(labels).flatten(1).sum(1)              # sample 1 has no edges
    expected = 1 - (2 * 0.5 * t + 1) / (0.5 * 32 * 48 + t + 1)
    assert torch.allclose(losses["detail_dice"], expected.mean())


def test_detail_logits_resize_with_align_corners_true():
    torch.manual_seed(0)
    labels = torch.zeros(1, 32, 48, dtype=torch.long)
    labels[0, 10:, 17:] = 4
    logits = torch.randn(1, 1, 4, 6)
    target = detail_target(labels)
    up_true = F.interpolate(logits, size=(32, 48), mode="bilinear", align_corners=True)
    up_false = F.interpolate(logits, size=(32, 48), mode="bilinear", align_corners=False)
    got = detail_loss(logits, labels)["detail_bce"]
    assert torch.allclose(got, F.binary_cross_entropy_with_logits(up_true, target))
    assert not torch.allclose(got, F.binary_cross_entropy_with_logits(up_false, target))


def test_detail_loss_decreases_under_sgd_on_a_tiny_net():
    torch.manual_seed(0)
    labels = torch.zeros(2, 32, 32, dtype=torch.long)
    labels[0, :, 13:] = 2
    labels[1, 9:, :] = 1
    x = labels.unsqueeze(1).float()                  # the net sees the label map, so edges are learnable
    net = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 1, 3, padding=1), nn.AvgPool2d(8))
    opt = torch.optim.SGD(net.parameters(), lr=0.5, momentum=0.9)
    history = []
    for _ in range(15):
        losses = detail_loss(net(x), labels)
        total = losses["detail_bce"] + losses["detail_dice"]
        assert torch.isfinite(total)
        history.append(total.item())
        opt.zero_grad()
        total.backward()
        opt.step()
    assert history[-1] < 0.9 * history[0], history


def test_detail_loss_rejects_bad_shapes():
    with pytest.raises(ValueError, match="N×1×h×w"):
        detail_loss(torch.zeros(2, 3, 4, 4), torch.zeros(2, 32, 32, dtype=torch.long))
    with pytest.raises(ValueError, match="labels N×H×W"):
        detail_loss(torch.zeros(2, 1, 4, 4), torch.zeros(2, 1, 32, 32, dtype=torch.long))


# --- export ------------------------------------------------------------------------------------------

def test_stdc1_seg_onnx_export_matches_torch(tmp_path: Path):
    torch.manual_seed(0)
    model = build_model("stdc1-seg", num_classes=11).eval()
    h, w = 96, 128
    path = export_onnx(model, tmp_path / "stdc1.onnx", h, w)
    graph = onnx.load(str(path))
    ops = {n.op_type for n in graph.graph.node}
    assert next(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) == 17
    assert "ReduceMean" not in ops and "BatchNormalization" not in ops
    pools = [n for n in graph.graph.node if n.op_type == "AveragePool"]
    assert pools and all({a.name: onnx.helper.get_attribute_value(a) for a in n.attribute}
                         .get("count_include_pad") == 1 for n in pools)
    frames = torch.randint(0, 256, (2, h, w, 3), generator=torch.Generator().manual_seed(1), dtype=torch.uint8)
    with torch.no_grad():
        expected = SegmentationExport(model, h, w).eval()(frames).numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(None, {"frames": frames.numpy()})[0]
    assert got.shape == (2, h, w) and got.dtype == np.uint8
    assert (got == expected).mean() >= 0.999
    assert len(np.unique(expected)) > 1, "a constant mask would make the comparison vacuous"
