"""SFNet / SFNet-Lite: parameter counts vs the facts sheet, ResNet-18-D strides, the exact adaptive pool, the
FAM / GD-FAM arithmetic, and ONNX export (GridSample) agreeing with PyTorch through onnxruntime."""
from collections import Counter

import onnx
import pytest
import torch
import torch.nn.functional as F

from segd_train.export import export_onnx, untrained_model
from segd_train.export.parity import load_frames, mask_agreement
from segd_train.models import MODEL_NAMES, build_model
from segd_train.models.flow_align import FAM, GDFAM, channel_max, channel_mean, flow_warp
from segd_train.models.ppm import adaptive_avg_pool2d_exact
from segd_train.models.resnet import ResNet18D
from segd_train.models.sfnet import SFNet, sfnet_r18
from model_checks import randomise_bn

SFNET_NAMES = ("sfnet-r18", "sfnet-stdc1", "sfnet-stdc2", "sfnet-lite-r18", "sfnet-lite-stdc1", "sfnet-lite-stdc2")
# distill taps: x_out = decoder dim d (v1: 128 on R18, 64 on STDC; Lite: 128), x3 @1/16, x5 @1/32
TAPS = {"r18": (256, 512), "stdc1": (512, 1024), "stdc2": (512, 1024)}


def decoder_dim(name: str) -> int:
    return 64 if name in ("sfnet-stdc1", "sfnet-stdc2") else 128

# Modules the reference builds for Lite-R18 but never runs (§3.6, §4 pitfall 9), at K = 19:
UNUSED_FPN_IN = 512 * 128 + 128 + 2 * 128                 # third fpn_in: 1×1 conv (bias) + BN
UNUSED_DSN = 128 * 128 * 9 + 128 + 2 * 128 + 128 * 19 + 19  # DSN: 3×3 conv (bias) + BN + 1×1 classifier


def test_registry_builds_the_sfnet_family():
    assert set(SFNET_NAMES) <= set(MODEL_NAMES)
    for name in SFNET_NAMES:
        m = build_model(name, num_classes=11)
        assert isinstance(m, SFNet)
        assert (m.num_classes, m.output_stride, m.align_corners) == (11, 4, True)
        x3, x5 = TAPS[name.rsplit("-", 1)[1]]
        assert m.distill_channels == {"x_out": decoder_dim(name), "x3": x3, "x5": x5}


@pytest.mark.parametrize("name,expected", [("sfnet-r18", 12.87e6), ("sfnet-lite-stdc1", 6.43e6),
                                           ("sfnet-lite-stdc2", 10.46e6)])
def test_parameter_counts_match_the_facts_sheet(name, expected):
    model = build_model(name, num_classes=19)
    assert abs(model.inference_parameters() - expected) <= 0.02e6
    assert model.inference_parameters() == sum(p.numel() for p in model.parameters())   # no DSN by default


def test_lite_r18_differs_from_the_reference_by_exactly_the_unbuilt_modules():
    ours = build_model("sfnet-lite-r18", num_classes=19).inference_parameters()
    assert abs(ours - 12.08e6) <= 0.01e6
    # The sheet's "12.15M used" still counts the never-run third fpn_in; its "+0.22M unused" is fpn_in + DSN.
    assert abs(ours + UNUSED_FPN_IN - 12.15e6) <= 0.01e6
    assert abs(UNUSED_FPN_IN + UNUSED_DSN - 0.22e6) <= 0.01e6


def test_resnet18d_keeps_output_stride_32_with_dilated_conv2():
    net = ResNet18D().eval()
    assert sum(p.numel() for p in net.parameters()) == pytest.approx(11.33e6, abs=0.01e6)
    for layer, dilation in ((net.layer1, 1), (net.layer2, 1), (net.layer3, 2), (net.layer4, 4)):
        for block in layer:
            assert block.conv2.conv.dilation == (dilation, dilation)
            assert block.conv2.conv.padding == (dilation, dilation)
            assert block.conv1.conv.dilation == (1, 1)
    assert [layer[0].conv1.conv.stride[0] for layer in (net.layer1, net.layer2, net.layer3, net.layer4)] == [1, 2, 2, 2]
    with torch.no_grad():
        out = net(torch.randn(1, 3, 64, 96))
    assert {k: tuple(v.shape[1:]) for k, v in out.items()} == {
        "x1": (64, 16, 24), "x2": (128, 8, 12), "x3": (256, 4, 6), "x4": (512, 2, 3)}


@pytest.mark.parametrize("name", SFNET_NAMES)
def test_shapes_at_the_export_size(name):
    model = build_model(name, num_classes=11).eval()
    with torch.no_grad():
        out = model.forward_train(torch.randn(1, 3, 360, 480))
    x3, x5 = TAPS[name.rsplit("-", 1)[1]]
    assert out["logits"].shape == (1, 11, 90, 120)
    assert out["x_out"].shape == (1, decoder_dim(name), 90, 120)
    assert out["x3"].shape == (1, x3, 23, 30) and out["x5"].shape == (1, x5, 12, 15)
    assert out["aux"] == {}


@pytest.mark.parametrize("name", SFNET_NAMES)
def test_tiny_forward_paths_agree(name):
    model = build_model(name, num_classes=5).eval()
    x = torch.randn(2, 3, 64, 96)
    with torch.no_grad():
        logits = model(x)
        out = model.forward_train(x)
    assert logits.shape == (2, 5, 16, 24)
    assert set(out) == {"logits", "aux", "x_out", "x3", "x5"}
    assert torch.allclose(out["logits"], logits, atol=1e-5)
    assert torch.allclose(model.head.conv_seg(out["x_out"]), logits, atol=1e-5)


def test_optional_dsn_heads_are_training_only():
    model = sfnet_r18(5, dsn=True).eval()
    dsn_params = sum(p.numel() for p in model.head.dsn.parameters())
    assert dsn_params == 3 * (128 * 128 * 9 + 128 + 2 * 128 + 128 * 5 + 5)
    assert model.inference_parameters() + dsn_params == sum(p.numel() for p in model.parameters())
    calls = []
    for head in model.head.dsn:
        head.register_forward_hook(lambda *_: calls.append(1))
    x = torch.randn(1, 3, 64, 96)
    with torch.no_grad():
        model(x)
        assert not calls, "forward() must not run the DSN heads"
        aux = model.forward_train(x)["aux"]
    assert {k: tuple(v.shape) for k, v in aux.items()} == {
        "dsn16": (1, 5, 4, 6), "dsn8": (1, 5, 8, 12), "dsn4": (1, 5, 16, 24)}


@pytest.mark.parametrize("size", [(12, 15), (23, 30), (7, 5), (1, 1), (5, 13), (45, 60)])
@pytest.mark.parametrize("bins", [1, 2, 3, 6])
def test_exact_adaptive_pool_equals_pytorch(size, bins):
    x = torch.randn(2, 3, *size, dtype=torch.float64)
    got = adaptive_avg_pool2d_exact(x, bins)
    assert got.shape == (2, 3, bins, bins)
    torch.testing.assert_close(got, F.adaptive_avg_pool2d(x, bins), rtol=1e-12, atol=1e-12)


def test_channel_reductions_equal_mean_and_amax():
    x = torch.randn(2, 7, 5, 6)
    torch.testing.assert_close(channel_mean(x), x.mean(dim=1, keepdim=True))
    torch.testing.assert_close(channel_max(x), x.amax(dim=1, keepdim=True))


def test_fam_with_zero_flow_is_an_align_corners_upsample_of_high():
    fam = FAM(16).eval()
    torch.nn.init.zeros_(fam.flow_make.weight)
    low, high = torch.randn(2, 16, 23, 30), torch.randn(2, 16, 12, 15)
    want = F.interpolate(high, size=(23, 30), mode="bilinear", align_corners=True)
    torch.testing.assert_close(fam(low, high), want, rtol=1e-5, atol=1e-5)


def test_flow_is_normalised_by_width_and_height_like_the_reference():
    # Grid = base + flow/(w, h): with align_corners=True one pixel is 2/(w−1), so a flow of 2w/(w−1) in x
    # (2h/(h−1) in y) shifts the sampling by exactly one pixel; the shifted-out border reads zeros.
    feature = torch.randn(1, 3, 6, 8)
    flow_x = torch.zeros(1, 2, 6, 8)
    flow_x[:, 0] = 2 * 8 / 7
    shifted = flow_warp(feature, flow_x)
    torch.testing.assert_close(shifted[..., :-1], feature[..., 1:], rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(shifted[..., -1], torch.zeros(1, 3, 6), rtol=0, atol=1e-4)
    flow_y = torch.zeros(1, 2, 6, 8)
    flow_y[:, 1] = 2 * 6 / 5
    torch.testing.assert_close(flow_warp(feature, flow_y)[:, :, :-1], feature[:, :, 1:], rtol=1e-4, atol=1e-4)


def test_separable_grid_equals_the_reference_repeated_grid():
    # The reference builds an h×w grid from linspace + repeat and adds flow.permute(0,2,3,1) / [[[[w, h]]]].
    torch.manual_seed(0)
    feature, flow = torch.randn(2, 4, 12, 15), torch.randn(2, 2, 23, 30) * 3
    n, _, h, w = flow.shape
    rows = torch.linspace(-1.0, 1.0, h).view(-1, 1).repeat(1, w)
    cols = torch.linspace(-1.0, 1.0, w).repeat(h, 1)
    grid = torch.cat((cols.unsqueeze(2), rows.unsqueeze(2)), 2).repeat(n, 1, 1, 1)
    grid = grid + flow.permute(0, 2, 3, 1) / torch.tensor([[[[w, h]]]]).type_as(flow)
    want = F.grid_sample(feature, grid, align_corners=True)
    torch.testing.assert_close(flow_warp(feature, flow), want, rtol=0, atol=1e-6)


def test_gdfam_gate_blends_the_two_warped_levels():
    torch.manual_seed(0)
    gd = GDFAM(16).eval()
    torch.nn.init.zeros_(gd.flow_make.weight)          # identity warps: high upsampled, low unchanged
    low, high = torch.randn(2, 16, 20, 24), torch.randn(2, 16, 10, 12)
    hd = F.interpolate(gd.down_h(high), size=(20, 24), mode="bilinear", align_corners=True)
    stats = torch.cat([hd.mean(1, keepdim=True), low.mean(1, keepdim=True),
                       hd.amax(1, keepdim=True), low.amax(1, keepdim=True)], dim=1)   # low *unreduced*
    gate = torch.sigmoid(F.conv2d(stats, gd.flow_gate.weight, padding=1))
    assert 0.05 < gate.std().item(), "the gate must vary over space for this check to mean anything"
    up_high = F.interpolate(high, size=(20, 24), mode="bilinear", align_corners=True)
    with torch.no_grad():
        got = gd(low, high)
    torch.testing.assert_close(got, up_high * gate + low * (1 - gate), rtol=1e-5, atol=1e-5)
    torch.nn.init.zeros_(gd.flow_gate.weight)          # σ(0) = ½: the plain average of both levels
    with torch.no_grad():
        torch.testing.assert_close(gd(low, high), (up_high + low) / 2, rtol=1e-5, atol=1e-5)


@pytest.fixture(scope="module", params=["sfnet-r18", "sfnet-lite-stdc1"])   # FAM ×3 and GD-FAM
def full_size_export(request, tmp_path_factory):
    model = randomise_bn(untrained_model(request.param, 11, seed=0))
    path = export_onnx(model, tmp_path_factory.mktemp("sfnet") / f"{request.param}.onnx", 360, 480)
    return request.param, model, path


def test_export_uses_gridsample_at_opset_17_with_a_constant_grid(full_size_export):
    name, _, path = full_size_export
    graph = onnx.load(str(path))
    ops = Counter(n.op_type for n in graph.graph.node)
    assert ops["GridSample"] == (3 if name == "sfnet-r18" else 2)
    assert max(o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")) == 17
    # The base grids, flow normalisers and pooling matrices come from static sizes: folded to initializers.
    assert not {"Range", "ConstantOfShape", "Where", "Less", "GreaterOrEqual"} & set(ops), ops
    assert ops["MatMul"] == 8   # the exact adaptive pools: 4 bins × 2 constant matmuls


def test_onnxruntime_matches_the_torch_wrapper_on_real_frames(full_size_export):
    _, model, path = full_size_export
    frames = load_frames(2, 360, 480, split="val")
    # against the unfused model inside the same SegmentationExport wrapper, run by PyTorch
    assert mask_agreement(path, model, frames) >= 0.999
