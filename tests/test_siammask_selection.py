"""Stage 1's choice with its cues (siammask.selection) on hand-built scores and boxes."""

from __future__ import annotations

import numpy as np

from siammask.anchors import choose_candidate
from siammask.crops import search_crop
from siammask.hparams import load_tracker_hparams
from siammask.selection import choose_candidates, found_by_colour


def _case() -> tuple:
    """Three candidates of the target's size, near the centre; the network prefers candidate 1."""
    hp = load_tracker_hparams("davis")
    crop = search_crop(np.array([100.0, 100.0]), np.array([40.0, 40.0]), 0.5, 127, 255)
    side = 40.0 * crop.scale_x
    boxes = np.array([[0.0, 8.0, -8.0], [0.0, 0.0, 0.0], [side] * 3, [side] * 3], dtype=np.float32)
    scores = np.array([[0.6, 0.9, 0.3]], dtype=np.float32)
    window = np.ones(3)  # no position preference
    return hp, crop, boxes, scores, window


def test_without_cues_it_is_the_released_choice() -> None:
    hp, crop, boxes, scores, window = _case()
    [choice] = choose_candidates(hp, window, scores, [boxes], [crop], [np.array([40.0, 40.0])])
    released = choose_candidate(
        scores[0], boxes, np.array([40.0, 40.0]) * crop.scale_x, window, hp.penalty_k, hp.window_influence, 25
    )
    assert choice.index == released.index == 1


def test_colour_scores_move_the_choice_and_the_raw_score_is_kept() -> None:
    _, crop, boxes, scores, window = _case()
    colour = [np.array([0.95, 0.05, 0.5])]
    weighted = load_tracker_hparams({"colour_weight": 0.6})  # same-size boxes: the penalty is 1
    [choice] = choose_candidates(
        weighted, window, scores, [boxes], [crop], [np.array([40.0, 40.0])], colour_scores=colour
    )
    assert choice.index == 0  # 0.4 * 0.6 + 0.6 * 0.95 beats 0.4 * 0.9 + 0.6 * 0.05
    assert choice.score == np.float32(0.6)
    assert found_by_colour([choice], colour, 0.9) == [True]
    assert found_by_colour([choice], [np.array([0.5, 0.05, 0.5])], 0.9) == [False]
    assert found_by_colour([choice], None, 0.9) == [True]  # no colour model: always found
