"""Stage 1's choice per track: the released rule, with the inference-only cues mixed into what it ranks.

``choose_candidate`` (``siammask.anchors``) is the released scale/aspect penalty + cosine window argmax.
The options change only the scores the argmax ranks (the reported score stays the raw one):
remembered distractors lower them (``siammask.distractors``), a box's colour score is mixed in
(``siammask.colour_model``); and the colour model may call the chosen box *not found*.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from siammask.anchors import Candidate, choose_candidate
from siammask.colour_model import mixed_scores
from siammask.crops import SearchCrop
from siammask.distractors import suppressed_scores
from siammask.hparams import TrackerHParams


def choose_candidates(
    hp: TrackerHParams,
    window: np.ndarray,
    scores: np.ndarray,
    boxes_per_sample: Sequence[np.ndarray],
    crops: Sequence[SearchCrop],
    sizes: Sequence[np.ndarray],
    distractor_scores: Sequence[np.ndarray | None] | None = None,
    colour_scores: Sequence[np.ndarray] | None = None,
) -> list[Candidate]:
    """Best candidate per sample from decoded ``scores`` (N, K) and ``boxes_per_sample`` (4, K) of search
    ``crops`` around targets of ``sizes`` (w, h, frame pixels); a sample's ``distractor_scores`` (M, K)
    lower its scores for the choice, its ``colour_scores`` (K,) are mixed in."""
    choices = []
    for i, (crop, size) in enumerate(zip(crops, sizes, strict=True)):
        others = None if distractor_scores is None else distractor_scores[i]
        selection = None if others is None else suppressed_scores(scores[i], others, hp.distractor_weight)
        if colour_scores is not None:
            base = scores[i] if selection is None else selection
            selection = mixed_scores(base, colour_scores[i], hp.colour_weight)
        choices.append(
            choose_candidate(
                scores[i],
                boxes_per_sample[i],
                size * crop.scale_x,
                window,
                hp.penalty_k,
                hp.window_influence,
                hp.score_size,
                selection_scores=selection,
            )
        )
    return choices


def found_by_colour(
    choices: Sequence[Candidate], colour_scores: Sequence[np.ndarray] | None, min_score: float
) -> list[bool]:
    """Whether each chosen box's colour score reaches ``min_score`` (all True without the colour model)."""
    if colour_scores is None:
        return [True] * len(choices)
    return [bool(colour_scores[i][choice.index] >= min_score) for i, choice in enumerate(choices)]
