"""SiamMask training losses and schedule against values computed by hand."""

from __future__ import annotations

import math

import pytest
import torch

from siammask.train.losses import LossWeights, box_loss, combine, mask_loss, score_loss
from siammask.train.schedule import LrSchedule


def test_score_loss_is_cross_entropy_over_sampled_anchors() -> None:
    # K=1 anchor type on a 1x3 map: cls channel 0 = background, 1 = foreground.
    cls = torch.zeros(1, 2, 1, 3)
    cls[0, 1, 0, 0] = math.log(3.0)  # anchor 0: p_fg = 3/4, labelled positive
    cls[0, 1, 0, 2] = 5.0  # anchor 2: ignored (-1), must not count
    labels = torch.tensor([[1, 0, -1]])
    expected = (-math.log(0.75) + math.log(2.0)) / 2.0  # anchor 1: p_bg = 1/2, labelled negative
    assert float(score_loss(cls, labels)) == pytest.approx(expected, rel=1e-6)


def test_score_loss_anchor_order_matches_channel_layout() -> None:
    # K=2 anchor types on a 1x1 map: channels [bg_a0, bg_a1, fg_a0, fg_a1]; anchor index = a.
    cls = torch.tensor([0.0, 0.0, 0.0, math.log(3.0)]).reshape(1, 4, 1, 1)
    only_a1 = torch.tensor([[-1, 1]])
    assert float(score_loss(cls, only_a1)) == pytest.approx(-math.log(0.75), rel=1e-6)


def test_box_loss_smooth_l1_summed_over_coords_mean_over_positives() -> None:
    beta = 0.1
    loc = torch.zeros(1, 4, 1, 3)  # K=1: channel c = coordinate c
    deltas = torch.zeros(1, 4, 3)
    deltas[0, :, 0] = torch.tensor([0.5, 0.05, -2.0, 0.0])  # positive anchor 0
    deltas[0, :, 1] = torch.tensor([0.0, 0.0, 0.0, 0.2])  # positive anchor 1
    deltas[0, :, 2] = torch.tensor([9.0, 9.0, 9.0, 9.0])  # negative: must not count
    labels = torch.tensor([[1, 1, 0]])
    anchor0 = (0.5 - 0.05) + 0.5 * 0.05**2 / beta + (2.0 - 0.05) + 0.0
    anchor1 = 0.2 - 0.05
    assert float(box_loss(loc, deltas, labels, beta)) == pytest.approx((anchor0 + anchor1) / 2, rel=1e-5)


def test_box_loss_without_positives_is_zero_and_differentiable() -> None:
    loc = torch.ones(1, 4, 1, 2, requires_grad=True)
    loss = box_loss(loc, torch.zeros(1, 4, 2), torch.tensor([[0, -1]]), beta=1.0)
    loss.backward()
    assert float(loss.detach()) == 0.0 and loc.grad is not None


def test_mask_loss_eq10_pixel_mean_then_row_mean() -> None:
    logits = torch.tensor([[0.0, math.log(3.0), -math.log(3.0), 2.0], [0.0, 0.0, 0.0, 0.0]])
    targets = torch.tensor([[1.0, 1.0, 0.0, 0.0], [1.0, 0.0, 1.0, 0.0]]).reshape(2, 2, 2)
    row0 = (math.log(2.0) + math.log(4.0 / 3.0) + math.log(4.0 / 3.0) + math.log(1.0 + math.exp(2.0))) / 4
    row1 = math.log(2.0)
    assert float(mask_loss(logits, targets)) == pytest.approx((row0 + row1) / 2, rel=1e-6)


def test_mask_loss_no_rows_is_zero() -> None:
    assert float(mask_loss(torch.zeros(0, 16129), torch.zeros(0, 127, 127))) == 0.0


def test_combined_loss_uses_paper_weights() -> None:
    terms = combine(torch.tensor(0.5), torch.tensor(0.25), torch.tensor(2.0), LossWeights())
    assert float(terms.total) == pytest.approx(32 * 0.5 + 0.25 + 2.0)


def test_schedule_paper_values() -> None:
    schedule = LrSchedule()
    assert schedule.lr_at(0) == pytest.approx(1e-3)
    assert schedule.lr_at(2.5) == pytest.approx(3e-3)  # linear warm-up
    assert schedule.lr_at(5) == pytest.approx(5e-3)
    assert schedule.lr_at(12.5) == pytest.approx(math.sqrt(5e-3 * 5e-4))  # log decay: geometric midpoint
    assert schedule.lr_at(20) == pytest.approx(5e-4)
    assert schedule.lr_at(25) == pytest.approx(5e-4)


def test_schedule_rejects_bad_values() -> None:
    with pytest.raises(ValueError, match="warmup_epochs"):
        LrSchedule(warmup_epochs=30, epochs=20)
