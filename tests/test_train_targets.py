"""Anchor generation, anchor labelling and per-RoW mask windows."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from siammask.train.targets import (
    AnchorConfig,
    TargetConfig,
    add_hard_negatives,
    anchor_sizes,
    assign_targets,
    generate_anchors,
    mask_windows,
    select_mask_rows,
)

ANCHOR_CFG = AnchorConfig()


def _index(a: int, y: int, x: int) -> int:
    return a * 625 + y * 25 + x


def test_anchor_layout_matches_released_model() -> None:
    assert anchor_sizes(ANCHOR_CFG) == [(104, 32), (88, 40), (64, 64), (40, 80), (32, 96)]
    anchors = generate_anchors(ANCHOR_CFG)
    assert anchors.shape == (3125, 4)
    # anchor (a=3, y=2, x=20): centre (127 + 8*8, 127 - 10*8), size (40, 80)
    assert anchors[_index(3, 2, 20)].tolist() == [191.0, 47.0, 40.0, 80.0]


def test_anchor_on_gt_is_positive_far_anchor_negative() -> None:
    gt = np.array([[95.0, 95.0, 159.0, 159.0]])  # exactly anchor a=2 at (12, 12)
    everything = TargetConfig(max_pos=10_000, total=10_000)
    targets = assign_targets(
        gt, generate_anchors(ANCHOR_CFG), ANCHOR_CFG, everything, np.random.default_rng(0)
    )
    labels = targets.labels[0]
    assert labels[_index(2, 12, 12)] == 1
    assert labels[_index(2, 0, 0)] == 0
    assert labels[_index(0, 12, 12)] == -1  # 104x32 vs 64x64: IoU = 2048/(3328+4096-2048) = 0.38, ignored
    assert torch.allclose(targets.deltas[0, :, _index(2, 12, 12)], torch.zeros(4))
    assert bool(targets.positive_rows[0, 12, 12]) and not bool(targets.positive_rows[0, 0, 0])


def test_deltas_are_normalised_by_anchor_size() -> None:
    gt = np.array([[103.0, 95.0, 167.0, 127.0]])  # centre (135, 111), 64 x 32
    targets = assign_targets(
        gt, generate_anchors(ANCHOR_CFG), ANCHOR_CFG, TargetConfig(), np.random.default_rng(0)
    )
    dx, dy, dw, dh = targets.deltas[0, :, _index(2, 12, 12)].tolist()
    assert dx == pytest.approx(8 / 64)
    assert dy == pytest.approx(-16 / 64)
    assert dw == pytest.approx(0.0, abs=1e-7)
    assert dh == pytest.approx(np.log(0.5))


def test_sampling_caps_positives_and_total() -> None:
    gt = np.array([[95.0, 95.0, 159.0, 159.0], [96.0, 90.0, 160.0, 170.0]])  # 13 and 9 positives
    cfg = TargetConfig(max_pos=4, total=20)
    targets = assign_targets(gt, generate_anchors(ANCHOR_CFG), ANCHOR_CFG, cfg, np.random.default_rng(0))
    for labels, rows in zip(targets.labels, targets.positive_rows, strict=True):
        assert int((labels == 1).sum()) == 4
        assert int((labels >= 0).sum()) == 20
        assert int(rows.sum()) >= 9  # RoW positivity uses every positive anchor, not only the sampled ones


def test_mask_windows_follow_refine_geometry() -> None:
    masks = torch.zeros(1, 255, 255)
    masks[0, 127, 127] = 1.0  # crop centre
    masks[0, 0, 0] = 1.0  # crop corner
    windows = mask_windows(masks, [(0, 12, 12), (0, 4, 4), (0, 0, 0), (0, 24, 24)])
    assert windows.shape == (4, 127, 127)
    assert windows[0, 63, 63] == 1 and windows[0].sum() == 1  # centred window: top-left (64, 64)
    assert windows[1, 0, 0] == 1 and windows[1].sum() == 1  # top-left (0, 0)
    assert windows[2, 32, 32] == 1 and windows[2].sum() == 1  # top-left (-32, -32): zero padding
    assert windows[3].sum() == 0  # top-left (160, 160) does not reach the centre pixel


def test_select_mask_rows_caps_per_pair() -> None:
    rows = torch.zeros(2, 25, 25, dtype=torch.bool)
    rows[0, 10:13, 10:13] = True  # 9 positive RoWs
    rows[1, 5, 6] = True
    chosen = select_mask_rows(rows, 4, np.random.default_rng(0))
    assert sum(1 for b, _, _ in chosen if b == 0) == 4
    assert (1, 5, 6) in chosen
    assert len(select_mask_rows(rows, 0, np.random.default_rng(0))) == 10


def test_hard_negatives_are_the_highest_scoring_far_unsampled_anchors() -> None:
    gt = np.array([[95.0, 95.0, 159.0, 159.0]] * 2)  # anchor a=2 at (12, 12) in both pairs
    cfg = TargetConfig(hard_negatives=3, hard_negative_max_iou=0.1)
    targets = assign_targets(gt, generate_anchors(ANCHOR_CFG), ANCHOR_CFG, cfg, np.random.default_rng(0))
    assert not targets.far[0, _index(2, 12, 12)] and targets.far[0, _index(2, 0, 0)]
    margin = torch.zeros(2, 3125)
    on_target = _index(2, 12, 12)  # positive: never a hard negative however high it scores
    near = _index(2, 12, 15)  # 24 px off a 64 px box: IoU 0.45, not far
    unsampled_far = [i for i in np.flatnonzero(targets.far[0].numpy()) if targets.labels[0, i] < 0][:4]
    margin[0, on_target] = 9.0
    margin[0, near] = 8.0
    margin[0, unsampled_far] = torch.tensor([5.0, 7.0, 6.0, 1.0])
    sampled_far = int(np.flatnonzero((targets.labels[1] == 0).numpy())[0])
    margin[1, sampled_far] = 10.0  # already a sampled negative: the pair's three picks go elsewhere
    labels = add_hard_negatives(targets.labels, targets.far, margin, cfg.hard_negatives)
    added = (labels == 0) & (targets.labels < 0)
    assert sorted(np.flatnonzero(added[0].numpy()).tolist()) == sorted(unsampled_far[:3])
    assert labels[0, on_target] == targets.labels[0, on_target] and labels[0, near] == -1
    assert int(added[1].sum()) == 3 and not added[1, sampled_far]
    keep = targets.labels >= 0
    assert torch.equal(labels[keep], targets.labels[keep])  # sampled labels untouched
    assert add_hard_negatives(targets.labels, targets.far, margin, 0) is targets.labels


def test_hard_negative_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="hard_negative_max_iou"):
        TargetConfig(hard_negatives=4, hard_negative_max_iou=0.3)  # not below neg_iou: could take positives
    with pytest.raises(ValueError, match="hard_negatives"):
        TargetConfig(hard_negatives=-1)
