"""Loss causes of siammask-eval (vis_pipeline.eval.jf_failures) on hand-built per-frame J and GT areas."""

from __future__ import annotations

import pytest

from vis_pipeline.eval.jf_failures import LossRules, classify_loss, loss_onset, loss_summary, loss_table

BOX = [0.0, 0.0, 40.0, 40.0]  # a normal-sized init box


def test_kept_when_never_lost_or_only_dipping() -> None:
    assert classify_loss([0.9, 0.8, 0.85], [100, 100, 100], BOX) == ("kept", None)
    # a two-frame dip below lost_iou that the tracker recovers from is not a loss
    assert classify_loss([0.9, 0.1, 0.05, 0.8, 0.9, 0.9], [100] * 6, BOX) == ("kept", None)


def test_onset_is_first_frame_after_which_the_object_stays_lost() -> None:
    ious = [0.9, 0.1, 0.8, 0.1, 0.0, 0.3, 0.0]
    # from frame 1 the mean J is 0.217 (not lost); from frame 3 it is 0.1 (lost)
    assert loss_onset(ious, [100] * 7, 0.2) == 3
    # frames where the object is absent do not count towards the mean
    assert loss_onset([0.9, 0.1, 1.0, 1.0], [100, 100, 0, 0], 0.2) == 1


def test_drift() -> None:
    assert classify_loss([0.9, 0.8, 0.1, 0.0, 0.0], [100] * 5, BOX) == ("drift", 2)


def test_small_init_wins_over_other_causes() -> None:
    sliver = [300.0, 10.0, 3.0, 20.0]  # sqrt(60) < 10 pixels: an object entering through the edge
    assert classify_loss([0.1, 0.0, 0.0], [60, 0, 400], sliver) == ("small_init", 0)
    # with a lower limit the same object counts as partly hidden (60 px < half its median area of 230)
    assert classify_loss([0.1, 0.0, 0.0], [60, 0, 400], sliver, LossRules(min_init_side=5)) == (
        "after_occlusion",
        0,
    )


def test_after_absence() -> None:
    # the object leaves (area 0, empty prediction scores J 1) and is not taken up again when it returns
    assert classify_loss([0.9, 1.0, 1.0, 0.0, 0.0], [100, 0, 0, 100, 100], BOX) == ("after_absence", 3)


def test_after_occlusion_within_the_window_only() -> None:
    areas = [100, 100, 30, 100, 100, 100, 100]  # half hidden at frame 2
    lost_at_3 = [0.9, 0.9, 0.5, 0.1, 0.0, 0.0, 0.0]
    assert classify_loss(lost_at_3, areas, BOX) == ("after_occlusion", 3)
    lost_at_6 = [0.9, 0.9, 0.5, 0.9, 0.9, 0.9, 0.0]
    assert classify_loss(lost_at_6, areas, BOX) == ("drift", 6)  # the occlusion was 4 frames before
    assert classify_loss(lost_at_6, areas, BOX, LossRules(occlusion_window=4)) == ("after_occlusion", 6)


def test_summary_shares_add_up_to_the_shortfall() -> None:
    jf = [0.9, 0.8, 0.1, 0.3, 0.2]
    causes = ["kept", "kept", "drift", "small_init", "drift"]
    rows = {r["cause"]: r for r in loss_summary(jf, causes)}
    assert rows["kept"]["objects"] == 2 and rows["kept"]["JF"] == pytest.approx(0.85)
    assert rows["drift"]["shortfall"] == pytest.approx((0.9 + 0.8) / 5)
    assert rows["after_absence"]["objects"] == 0
    assert sum(r["shortfall"] for r in rows.values()) == pytest.approx(1 - sum(jf) / len(jf))
    table = loss_table(list(rows.values()))
    assert "| drift | 2 | 0.150 | 0.340 |" in table and "| after_absence | 0 | – | 0.000 |" in table


def test_rules_are_checked() -> None:
    assert LossRules.from_mapping({"lost_iou": 0.3}, "x").lost_iou == 0.3
    with pytest.raises(ValueError, match=r"x: failures.lost_iou=0.0 is out of range"):
        LossRules.from_mapping({"lost_iou": 0}, "x")
    with pytest.raises(ValueError, match="unknown failures setting"):
        LossRules.from_mapping({"lost": 0.3}, "x")
    with pytest.raises(ValueError, match="per-frame J values"):
        classify_loss([0.5], [1, 2], BOX)
