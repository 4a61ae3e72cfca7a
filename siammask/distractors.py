"""Distractor-aware scoring (in the spirit of DaSiamRPN, Zhu et al. 2018), an inference-only tracker option.

A Siamese tracker follows whatever scores highest near its last position; after the target is hidden
behind another object, that object often scores as high as the target did (the tiny tracker gives 0.85
to 0.96 on the occluder). While both are visible, the other object shows up as a second peak of the
response map. Its template is then remembered as a distractor, and later responses are lowered by how
much each position looks like the remembered distractors:

    score'(k) = score(k) - weight * mean_d score_d(k)

where ``score_d`` is distractor d's foreground probability on the same search crop. Positions that look
like the target but not like a distractor keep their score. The raw score is still what the tracker
reports and what drives the size update; only the choice of the candidate uses ``score'``.

Pure functions over arrays; the tracker (``siammask.tracker``) owns the network calls and the memory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class DistractorRule:
    """When a response peak becomes a distractor and how much distractors weigh.

    weight: 0 disables the whole mechanism (the released tracker); min_score: a peak's foreground
    probability must reach this; min_distance: its centre must be at least this many target sizes
    (sqrt(w * h) in crop pixels) from the chosen candidate; per_frame: new distractors taken per frame
    (highest first); memory: distractors kept per track (oldest dropped first).
    """

    weight: float = 0.0
    min_score: float = 0.8
    min_distance: float = 1.0
    per_frame: int = 1
    memory: int = 4

    @property
    def enabled(self) -> bool:
        return self.weight > 0


def response_peaks(scores: np.ndarray, num_anchors: int, score_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Local maxima of the per-cell best score: (indices into ``scores`` (K,), their scores), best first.

    scores (K,) = (A * S * S,) anchor-major foreground probabilities. A cell is a peak when its best
    anchor's score is >= every 8-neighbour's best (ties keep both); the index is that best anchor's.
    """
    per_anchor = scores.reshape(num_anchors, score_size, score_size)
    best_anchor = per_anchor.argmax(axis=0)
    cell = per_anchor.max(axis=0)
    padded = np.pad(cell, 1, constant_values=-np.inf)
    neighbours = np.stack(
        [
            padded[1 + dy : 1 + dy + score_size, 1 + dx : 1 + dx + score_size]
            for dy in (-1, 0, 1)
            for dx in (-1, 0, 1)
            if dy or dx
        ]
    )
    ys, xs = np.nonzero(cell >= neighbours.max(axis=0))
    indices = best_anchor[ys, xs] * score_size * score_size + ys * score_size + xs
    order = np.argsort(-cell[ys, xs], kind="stable")
    return indices[order], cell[ys, xs][order]


def new_distractors(
    scores: np.ndarray,
    boxes: np.ndarray,
    chosen_index: int,
    target_size_in_crop: np.ndarray,
    rule: DistractorRule,
    num_anchors: int,
    score_size: int,
) -> list[np.ndarray]:
    """Boxes (cx, cy, w, h) in crop pixels (relative to the crop centre) of this frame's distractors.

    scores (K,), boxes (4, K) decoded, chosen_index: the tracker's pick; target_size_in_crop: (w, h).
    """
    if not rule.enabled or rule.per_frame < 1:
        return []
    indices, values = response_peaks(scores, num_anchors, score_size)
    chosen_centre = boxes[:2, chosen_index].astype(np.float64)
    min_distance = rule.min_distance * float(np.sqrt(np.prod(target_size_in_crop)))
    found = []
    for index, value in zip(indices, values, strict=True):
        if value < rule.min_score or len(found) >= rule.per_frame:
            break
        if np.hypot(*(boxes[:2, index] - chosen_centre)) < min_distance:
            continue
        found.append(boxes[:, index].astype(np.float64))
    return found


def suppressed_scores(scores: np.ndarray, distractor_scores: np.ndarray, weight: float) -> np.ndarray:
    """score - weight * mean over distractors, float64 (K,); ``distractor_scores`` is (M, K), M >= 0."""
    scores = scores.astype(np.float64)
    if len(distractor_scores) == 0 or weight <= 0:
        return scores
    return scores - weight * distractor_scores.astype(np.float64).mean(axis=0)
