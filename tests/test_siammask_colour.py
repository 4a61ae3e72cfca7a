"""The tracker's colour model option: histograms, box scores, mixing into the choice, the not-found gate.

Pure functions on hand-built patches, then the tracker with the scripted stand-in network of
test_siammask_distractors on frames with a red target and a blue other object, so that the colour
model's effect on the chosen cell, the state and ``TrackResult.found`` is exact.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_siammask_distractors import DAVIS_HP, OTHER, TARGET, FrameScriptNet

from siammask.colour_model import (
    ColourModel,
    bin_indices,
    blend,
    box_colour_scores,
    fit_colour_model,
    fused_mask_region,
    mixed_scores,
)
from siammask.hparams import TrackerConfigError, load_tracker_hparams, load_tracker_preset
from siammask.tracker import SiamMaskTracker
from vis_pipeline.cli.siammask_eval import EvalObject, evaluate_object
from vis_pipeline.eval.jf_failures import LossRules

RED, BLUE, GREY = (20, 20, 230), (230, 40, 20), (90, 90, 90)  # BGR


def _patch(side: int = 64) -> np.ndarray:
    """Grey patch with a red square in the centre (24 px) and a blue square in the top-left corner."""
    patch = np.full((side, side, 3), GREY, dtype=np.uint8)
    patch[20:44, 20:44] = RED
    patch[0:10, 0:10] = BLUE
    return patch


def test_bin_indices_quantise_each_channel() -> None:
    pixels = np.array([[[0, 0, 0], [255, 255, 255], [16, 32, 48]]], dtype=np.uint8)
    np.testing.assert_array_equal(bin_indices(pixels, 16)[0], [0, 16**3 - 1, (1 * 16 + 2) * 16 + 3])
    with pytest.raises(ValueError, match="divide 256"):
        bin_indices(pixels, 12)


def test_colour_model_separates_the_target_from_its_surroundings() -> None:
    patch = _patch()
    indices = bin_indices(patch, 16)
    model = fit_colour_model(indices, np.array([0.0, 0.0, 24.0, 24.0]), 16)  # exactly the red square
    assert model.foreground.sum() == pytest.approx(1.0) and model.background.sum() == pytest.approx(1.0)
    prob = model.object_probability()
    red, blue, grey = (int(bin_indices(np.array([[c]], dtype=np.uint8), 16)[0, 0]) for c in (RED, BLUE, GREY))
    assert prob[red] > 0.99 and prob[blue] < 0.01 and prob[grey] < 0.01
    unseen = int(bin_indices(np.array([[(0, 255, 0)]], dtype=np.uint8), 16)[0, 0])
    assert prob[unseen] == pytest.approx(0.5)  # seen in neither: no evidence


def test_box_colour_scores_are_box_means_clipped_to_the_map() -> None:
    rng = np.random.default_rng(0)
    prob = rng.random((40, 50))
    boxes = np.array(
        [[0.0, 0.0, 10.0, 6.0], [-20.0, 15.0, 20.0, 20.0], [3.0, -4.0, 7.0, 9.0], [100.0, 0.0, 4.0, 4.0]]
    ).T  # (cx, cy, w, h) rows relative to the centre (25, 20); the 2nd leaves the map, the 4th is outside
    expected = [
        prob[17:23, 20:30].mean(),
        prob[25:40, 0:15].mean(),  # x 5..-15 -> clipped to 0..15, y 25..45 -> 25..40 (round half even)
        prob[12:20, 24:32].mean(),
        0.0,
    ]
    np.testing.assert_allclose(box_colour_scores(prob, boxes), expected)


def test_mixed_scores_and_blend_arithmetic() -> None:
    np.testing.assert_allclose(mixed_scores(np.array([0.9, 0.2]), np.array([0.1, 0.8]), 0.25), [0.7, 0.35])
    a = ColourModel(np.array([1.0, 0.0]), np.array([0.0, 1.0]))
    b = ColourModel(np.array([0.0, 1.0]), np.array([0.5, 0.5]))
    mixed = blend(a, b, 0.25)
    np.testing.assert_allclose(mixed.foreground, [0.75, 0.25])
    np.testing.assert_allclose(mixed.background, [0.125, 0.875])


# ---------------------------------------------------------------------------- the tracker
BOX = (130.0, 90.0, 60.0, 60.0)  # centre (160, 120); 60 px = 64 crop px at the init scale
# the scripted OTHER cell is 7 cells = 56 crop px = 53 frame px right of the target


def _frame(target: bool = True, other: bool = True) -> np.ndarray:
    frame = np.full((240, 320, 3), GREY, dtype=np.uint8)
    if target:
        frame[100:140, 140:180] = RED
    if other:
        frame[100:140, 193:233] = BLUE
    return frame


def _tracker(net: FrameScriptNet, **hp: float) -> SiamMaskTracker:
    return SiamMaskTracker(net, dict(DAVIS_HP, **hp), cascade="one_stage")


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_colour_weight_keeps_the_tracker_on_the_target_coloured_candidate(weight: float) -> None:
    net = FrameScriptNet([{TARGET: 3.5, OTHER: 4.0}], distractor_map={})  # the network prefers the other
    tracker = _tracker(net, colour_weight=weight, window_influence=0.0)
    state = tracker.init(_frame(), BOX)
    result = tracker.track(_frame(), state)
    if weight == 0:
        assert state.colour is None and result.mask_pos_yx == OTHER
    else:
        assert state.colour is not None and result.mask_pos_yx == TARGET
        assert result.score == pytest.approx(1 / (1 + np.exp(-3.5)), rel=1e-5)  # raw, not mixed
    assert result.found


@pytest.mark.parametrize("min_score", [0.0, 0.4])
def test_colour_min_score_calls_a_wrong_coloured_box_not_found_and_holds(min_score: float) -> None:
    # the target is gone; only the blue object answers, strongly
    net = FrameScriptNet([{OTHER: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_min_score=min_score)
    state = tracker.init(_frame(), BOX)
    before = state.target_pos.copy()
    result = tracker.track(_frame(target=False), state)
    assert result.score > 0.9
    if min_score:
        assert not result.found
        np.testing.assert_array_equal(state.target_pos, before)  # held where the target was
    else:
        assert result.found and state.target_pos[0] > before[0] + 40


def test_colour_min_score_keeps_a_target_coloured_box_found() -> None:
    net = FrameScriptNet([{TARGET: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_min_score=0.4)
    state = tracker.init(_frame(), BOX)
    assert tracker.track(_frame(), state).found


@pytest.mark.parametrize("min_init_side", [0.0, 59.0, 61.0])
def test_a_target_smaller_than_colour_min_init_side_gets_no_model_and_is_never_lost(
    min_init_side: float,
) -> None:
    # as in the not-found test: the target is gone and only the blue object answers; the init box is 60 px
    net = FrameScriptNet([{OTHER: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_min_score=0.4, colour_min_init_side=min_init_side)
    state = tracker.init(_frame(), BOX)
    result = tracker.track(_frame(target=False), state)
    if min_init_side > 60:  # no model: the network's choice stands, found
        assert state.colour is None and result.found and result.mask_pos_yx == OTHER
    else:
        assert state.colour is not None and not result.found


def test_colour_model_is_refitted_on_found_steps_only() -> None:
    net = FrameScriptNet([{TARGET: 4.0}, {OTHER: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_min_score=0.4, colour_update_rate=0.5)
    state = tracker.init(_frame(), BOX)
    initial = state.colour
    tracker.track(_frame(other=False), state)  # found: the blue object left, the background changed
    refitted = state.colour
    assert refitted is not initial
    assert not np.allclose(refitted.background, initial.background)
    assert not tracker.track(_frame(target=False), state).found
    assert state.colour is refitted  # not found: kept


def test_a_copied_state_keeps_its_colour_model_when_the_original_is_refitted() -> None:
    net = FrameScriptNet([{TARGET: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_min_score=0.4, colour_update_rate=0.5)
    state = tracker.init(_frame(), BOX)
    saved = state.copy()
    foreground = saved.colour.foreground.copy()
    tracker.track(_frame(other=False), state)
    assert state.colour is not saved.colour
    np.testing.assert_array_equal(saved.colour.foreground, foreground)


def test_fused_mask_region_mixes_colour_probability_and_keeps_the_outside() -> None:
    patch = _patch()
    model = fit_colour_model(bin_indices(patch, 16), np.array([0.0, 0.0, 24.0, 24.0]), 16)
    region = np.full((64, 64), 0.6, dtype=np.float32)
    region[:, :5] = -1.0  # outside the pasted square
    fused = fused_mask_region(region, patch, model, 0.5)
    probability = model.object_probability()[bin_indices(patch, 16)]
    np.testing.assert_allclose(fused[:, 5:], 0.5 * 0.6 + 0.5 * probability[:, 5:], rtol=1e-6)
    assert (fused[:, :5] == -1).all() and fused.dtype == np.float32
    assert fused[30, 30] > 0.79 and fused[60, 60] < 0.31  # red target pushed up, grey background down


@pytest.mark.parametrize("weight", [0.0, 0.8])
def test_colour_mask_weight_trims_the_mask_to_the_target_colour(weight: float) -> None:
    """Initialised on a red square filling the box; it shrinks, the network's mask does not."""
    net = FrameScriptNet([{TARGET: 4.0}], distractor_map={})
    tracker = _tracker(net, colour_mask_weight=weight)
    first = np.full((240, 320, 3), GREY, dtype=np.uint8)
    first[90:150, 130:190] = RED  # = BOX
    state = tracker.init(first, BOX)
    later = np.full((240, 320, 3), GREY, dtype=np.uint8)
    later[100:140, 140:180] = RED
    result = tracker.track(later, state)
    red = later[..., 2] == RED[2]
    if weight == 0:
        assert result.mask.sum() == 60 * 60 and (result.mask >= red).all()
    else:
        np.testing.assert_array_equal(result.mask, red)


@pytest.mark.parametrize(
    "bad",
    [
        {"colour_weight": 1.5},
        {"colour_min_score": -0.1},
        {"colour_update_rate": 2.0},
        {"colour_bins": 12},
        {"colour_mask_weight": 1.2},
        {"colour_min_init_side": -1.0},
    ],
)
def test_out_of_range_colour_options_are_rejected_with_their_name(bad: dict) -> None:
    with pytest.raises(TrackerConfigError, match=next(iter(bad))):
        load_tracker_hparams(dict(DAVIS_HP, **bad))


def test_released_presets_leave_the_colour_model_off() -> None:
    for preset in ("davis", "vot", "tiny"):
        assert not load_tracker_hparams(preset).colour_rule.enabled


def test_the_vos_preset_turns_on_the_gate_and_coasting_on_the_v3_weights() -> None:
    preset = load_tracker_preset("tiny_vos")
    assert preset.model == "tiny" and preset.checkpoint.endswith("tiny_siammask_v3.pth")
    assert (Path(__file__).resolve().parent.parent / preset.checkpoint).is_file()
    hp = preset.hp
    assert hp.colour_min_score > 0 and hp.hold_below_score > 0 and hp.coast_velocity > 0
    assert hp.colour_weight == 0 and hp.colour_mask_weight == 0 and hp.distractor_weight == 0
    assert hp.min_size_fraction > 0 and hp.colour_min_init_side > 0  # size floor; no model for slivers


def test_siammask_eval_scores_a_not_found_step_as_an_empty_mask() -> None:
    """The object is hidden on frame 2; the tracker's mask stays on the (blue) other object there."""
    gts = [np.zeros((240, 320), dtype=bool) for _ in range(4)]
    for t in (0, 1, 3):
        gts[t][100:140, 140:180] = True
    frames = [_frame(), _frame(), _frame(target=False), _frame()]
    obj = EvalObject("v/1", "v", [], lambda: (gts, [None] * 4), [list(BOX)] * 4)
    settings = {
        "init": "box",
        "skip_last_frame": False,
        "min_score": None,
        "bound_th": 0.008,
        "failures": LossRules.from_mapping({}, "eval.failures"),
    }
    script = [{TARGET: 4.0}, {OTHER: 4.0}, {TARGET: 4.0}]
    plain = evaluate_object(_tracker(FrameScriptNet(script, {})), obj, frames, settings)
    gated = evaluate_object(_tracker(FrameScriptNet(script, {}), colour_min_score=0.4), obj, frames, settings)
    assert plain is not None and gated is not None
    # the hidden frame scores J = 1 only when the tracker answers "empty" there
    assert gated.scores.J > plain.scores.J + 0.3
