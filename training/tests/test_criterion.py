"""The per-step criterion: main + weighted aux + detail + SIAM terms, under the recipe's loss and align_corners."""
from __future__ import annotations

import pytest
import torch

from segd_train.losses import Criterion, detail_loss, ohem_prob_ce, ohem_ranked_ce, seg_ce_loss

IGNORE = 11


@pytest.fixture()
def stdc_like_output():
    torch.manual_seed(0)
    out = {"logits": torch.randn(2, 11, 8, 12), "aux": {"aux16": torch.randn(2, 11, 8, 12),
                                                         "aux32": torch.randn(2, 11, 8, 12)},
           "detail_logits": torch.randn(2, 1, 8, 12), "x_out": torch.randn(2, 4, 8, 12)}
    target = torch.randint(0, 12, (2, 64, 96))
    siam = {"sdha_logits": torch.tensor(0.5), "sdha_feature": torch.tensor(0.25), "bfa_stage4": torch.tensor(0.125),
            "bfa_stage3": torch.tensor(0.0625)}
    siam["total"] = sum(siam.values())
    return out, target, siam


def test_terms_are_named_and_weighted_into_the_total(stdc_like_output):
    out, target, siam = stdc_like_output
    crit = Criterion(IGNORE, aux_weight=0.5, loss="ohem-ranked", ohem_min_kept=2 * 64 * 96 // 16, detail_weight=2.0,
                     align_corners=True)
    losses = crit(out, target, siam)
    assert set(losses) == {"ce", "aux16_ce", "aux32_ce", "detail_bce", "detail_dice", "sdha_logits", "sdha_feature",
                           "bfa_stage4", "bfa_stage3", "siam", "total"}
    n_min = 2 * 64 * 96 // 16
    for key, logits in (("ce", out["logits"]), ("aux16_ce", out["aux"]["aux16"]), ("aux32_ce", out["aux"]["aux32"])):
        assert torch.allclose(losses[key], ohem_ranked_ce(logits, target, IGNORE, n_min=n_min, align_corners=True))
    detail = detail_loss(out["detail_logits"], target)
    assert torch.allclose(losses["detail_bce"], detail["detail_bce"])
    want = (losses["ce"] + 0.5 * (losses["aux16_ce"] + losses["aux32_ce"])
            + 2.0 * (detail["detail_bce"] + detail["detail_dice"]) + siam["total"])
    assert torch.allclose(losses["total"], want)
    assert losses["siam"] == siam["total"]


def test_loss_choice_and_align_corners_reach_every_map(stdc_like_output):
    out, target, _ = stdc_like_output
    prob = Criterion(IGNORE, loss="ohem-prob", ohem_min_kept=1000, ohem_thresh=0.6, align_corners=True)(out, target)
    assert torch.allclose(prob["aux32_ce"], ohem_prob_ce(out["aux"]["aux32"], target, IGNORE, thresh=0.6,
                                                         min_kept=1000, align_corners=True))
    ce = Criterion(IGNORE)(out, target)
    assert torch.allclose(ce["ce"], seg_ce_loss(out["logits"], target, IGNORE, align_corners=False))
    assert not torch.allclose(ce["ce"], seg_ce_loss(out["logits"], target, IGNORE, align_corners=True))


def test_zero_weights_drop_terms_and_models_without_aux_or_detail_need_none():
    torch.manual_seed(0)
    out = {"logits": torch.randn(1, 3, 4, 4), "aux": {"aux": torch.randn(1, 3, 4, 4)},
           "detail_logits": torch.randn(1, 1, 4, 4)}
    target = torch.randint(0, 3, (1, 16, 16))
    assert set(Criterion(IGNORE, aux_weight=0.0, detail_weight=0.0)(out, target)) == {"ce", "total"}
    assert set(Criterion(IGNORE)({"logits": out["logits"], "aux": {}}, target)) == {"ce", "total"}
    assert set(Criterion(IGNORE)({"logits": out["logits"]}, target)) == {"ce", "total"}   # SegFormer teacher


def test_bad_criterion_settings_are_refused():
    with pytest.raises(ValueError, match="ohem_min_kept"):
        Criterion(IGNORE, loss="ohem-ranked")
    with pytest.raises(ValueError, match="ce"):
        Criterion(IGNORE, loss="focal")
