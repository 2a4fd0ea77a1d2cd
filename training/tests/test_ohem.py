"""OHEM cross-entropy (STDC loss-ranked, SFNet probability-based) on hand-made logits with known answers."""
import math

import pytest
import torch
import torch.nn.functional as F

from segd_train.losses import ohem_prob_ce, ohem_ranked_ce

IGNORE = 11


def two_class_pixels(values: list[float], *, as_prob: bool) -> torch.Tensor:
    """1×2×1×n logits whose class-0 CE (as_prob False) or class-0 softmax probability (True) is each value."""
    # class 0 logit 0, class 1 logit z: p0 = 1/(1+e^z) and CE0 = log(1+e^z).
    z1 = [math.log((1 - v) / v) if as_prob else math.log(math.expm1(v)) for v in values]
    return torch.tensor([[[0.0] * len(values)], [z1]]).unsqueeze(0)


def test_helper_makes_the_intended_per_pixel_values():
    ce = F.cross_entropy(two_class_pixels([3.0, 0.1], as_prob=False), torch.zeros(1, 1, 2, dtype=torch.long),
                         reduction="none")
    assert torch.allclose(ce.flatten(), torch.tensor([3.0, 0.1]), atol=1e-5)
    p = two_class_pixels([0.3, 0.9], as_prob=True).softmax(1)[0, 0, 0]
    assert torch.allclose(p, torch.tensor([0.3, 0.9]), atol=1e-6)


@pytest.fixture()
def ranked():
    # Per-pixel CE 3, 2, 1, 0.2, 0.1 and one ignored pixel (CE 0 but still in the list); −log 0.7 ≈ 0.357.
    logits = two_class_pixels([3.0, 2.0, 1.0, 0.2, 0.1, 5.0], as_prob=False)
    target = torch.tensor([[[0, 0, 0, 0, 0, IGNORE]]])
    return logits, target


@pytest.mark.parametrize(("n_min", "expected"), [
    (1, (3 + 2 + 1) / 3),         # sorted[1] = 2 > t: every loss above t, not just the top 1
    (2, (3 + 2 + 1) / 3),         # sorted[2] = 1 > t
    (3, (3 + 2 + 1) / 3),         # sorted[3] = 0.2 ≤ t: top 3, the same three
    (4, (3 + 2 + 1 + 0.2) / 4),   # top 4 includes a loss below the threshold
    (6, (3 + 2 + 1 + 0.2 + 0.1 + 0) / 6),   # the ignored pixel counts as a 0 in the mean
    (50, (3 + 2 + 1 + 0.2 + 0.1 + 0) / 6),  # n_min beyond the pixel count keeps them all
])
def test_ranked_ohem_keeps_losses_above_threshold_or_the_top_n_min(ranked, n_min, expected):
    logits, target = ranked
    got = ohem_ranked_ce(logits, target, IGNORE, thresh=0.7, n_min=n_min)
    assert got.item() == pytest.approx(expected, abs=1e-5)


def test_ranked_ohem_threshold_is_a_probability(ranked):
    logits, target = ranked
    # thresh 0.2 → −log 0.2 ≈ 1.61: only 3 and 2 are hard; with n_min 1 they are kept.
    assert ohem_ranked_ce(logits, target, IGNORE, thresh=0.2, n_min=1).item() == pytest.approx(2.5, abs=1e-5)
    with pytest.raises(ValueError, match="thresh"):
        ohem_ranked_ce(logits, target, IGNORE, thresh=0.0, n_min=1)
    with pytest.raises(ValueError, match="n_min"):
        ohem_ranked_ce(logits, target, IGNORE, n_min=0)


@pytest.fixture()
def prob():
    # Class-0 probabilities 0.1 … 0.95; the ignored pixel has p = 0.01 for class 0 and must never be kept.
    ps = [0.1, 0.3, 0.5, 0.65, 0.8, 0.95, 0.01]
    logits = two_class_pixels(ps, as_prob=True)
    target = torch.tensor([[[0, 0, 0, 0, 0, 0, IGNORE]]])
    return logits, target, ps


def _mean_nll(ps):
    return sum(-math.log(p) for p in ps) / len(ps)


@pytest.mark.parametrize(("min_kept", "kept"), [
    (1, [0.1, 0.3, 0.5, 0.65]),               # threshold max(0.7, 0.1) = 0.7
    (4, [0.1, 0.3, 0.5, 0.65]),               # 4th smallest 0.65 < 0.7
    (5, [0.1, 0.3, 0.5, 0.65, 0.8]),          # 5th smallest 0.8 raises the threshold
    (6, [0.1, 0.3, 0.5, 0.65, 0.8, 0.95]),    # exactly as many valid pixels as min_kept: still mined, all kept
    (7, [0.1, 0.3, 0.5, 0.65, 0.8, 0.95]),    # fewer valid pixels than min_kept: every valid pixel
])
def test_prob_ohem_keeps_pixels_under_the_threshold_and_masks_ignored(prob, min_kept, kept):
    logits, target, _ = prob
    got = ohem_prob_ce(logits, target, IGNORE, thresh=0.7, min_kept=min_kept)
    assert got.item() == pytest.approx(_mean_nll(kept), abs=1e-5)


def test_prob_ohem_all_ignored_is_zero_not_nan(prob):
    logits, target, _ = prob
    got = ohem_prob_ce(logits, torch.full_like(target, IGNORE), IGNORE, min_kept=1)
    assert got.item() == 0.0
    with pytest.raises(ValueError, match="min_kept"):
        ohem_prob_ce(logits, target, IGNORE, min_kept=0)


@pytest.mark.parametrize("align_corners", [False, True])
def test_both_resize_logits_to_the_label_with_the_given_align_corners(align_corners):
    torch.manual_seed(0)
    logits = torch.randn(2, 3, 4, 5, requires_grad=True)
    target = torch.randint(0, 3, (2, 16, 20))
    up = F.interpolate(logits, size=(16, 20), mode="bilinear", align_corners=align_corners)
    for fn, kw in ((ohem_ranked_ce, {"n_min": 100}), (ohem_prob_ce, {"min_kept": 100})):
        want = fn(up, target, IGNORE, **kw)
        got = fn(logits, target, IGNORE, align_corners=align_corners, **kw)
        assert torch.allclose(got, want)
        other = fn(logits, target, IGNORE, align_corners=not align_corners, **kw)
        assert not torch.allclose(other, want)
        got.backward()
        assert logits.grad is not None and logits.grad.abs().sum() > 0
        logits.grad = None
