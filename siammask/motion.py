"""How a track's box moves on a step: the released update, or hold and coast when the step is not trusted.

The released rule (SPEC §2.5 step 4) moves the centre to the chosen box and the size towards it by
``penalty * score * lr``. Two inference-only options (off in the released presets) distrust a step:
``hold_below_score`` (its raw score is weak) and the colour model's ``colour_min_score`` (its box has
the wrong colours: ``found`` False). Such a step keeps its size and moves by ``coast_velocity`` times
the track's smoothed velocity (0: stays), since while the target is hidden the best candidate is noise
or another object, and following it walks the search window away from where the target will reappear.
Trusted steps update that velocity. Pure functions over the state's arrays.
"""

from __future__ import annotations

import numpy as np

from siammask.anchors import Candidate
from siammask.crops import SearchCrop, clip_box
from siammask.hparams import TrackerHParams
from siammask.track_state import TrackerState

#: Weight of the newest trusted step in a track's velocity (used only to coast through distrusted steps).
VELOCITY_SMOOTHING = 0.5


def updated_box(
    hp: TrackerHParams, state: TrackerState, crop: SearchCrop, choice: Candidate, found: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Unclipped new (centre, size), float64 (SPEC §2.5 step 5, unrounded scale_x), or the held one."""
    if not found or choice.score < hp.hold_below_score:
        pos = state.target_pos.astype(np.float64) + hp.coast_velocity * state.velocity
        return pos, state.target_sz.astype(np.float64)
    pred = choice.box_in_crop.astype(np.float64) / crop.scale_x
    rate = choice.penalty * np.float64(choice.score) * hp.lr
    pos = np.array([pred[0] + state.target_pos[0], pred[1] + state.target_pos[1]])
    size = np.array(
        [
            state.target_sz[0] * (1 - rate) + pred[2] * rate,
            state.target_sz[1] * (1 - rate) + pred[3] * rate,
        ]
    )
    return pos, size


def smoothed_velocity(
    hp: TrackerHParams, state: TrackerState, new_pos: np.ndarray, score: float, found: bool
) -> np.ndarray:
    """The state's velocity after a step to ``new_pos`` (unclipped): updated on trusted steps when an
    option that holds is on, else unchanged."""
    holding = hp.hold_below_score > 0 or hp.colour_min_score > 0
    if holding and found and score >= hp.hold_below_score:
        return (1 - VELOCITY_SMOOTHING) * state.velocity + VELOCITY_SMOOTHING * (new_pos - state.target_pos)
    return state.velocity


def stage2_box(
    mode: str,
    new_box: tuple[np.ndarray, np.ndarray],
    crop: SearchCrop,
    choice: Candidate,
    image_hw: tuple[int, int],
    min_size: float,
) -> tuple[np.ndarray, np.ndarray]:
    """(centre, size) the two-stage cascade's stage 2 re-crops on (``siammask.tracker``'s docstring),
    clipped like the state: ``best`` = the chosen stage-1 box's raw size, ``smoothed`` = the new state's."""
    pos, size = new_box
    if mode == "best":
        size = choice.box_in_crop[2:].astype(np.float64) / crop.scale_x
    return clip_box(pos, size, image_hw, min_size)
