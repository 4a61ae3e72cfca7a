"""DAVIS-protocol single-object scores over masks: region similarity J, contour accuracy F, decay.

Pure functions over boolean (H, W) masks, written from the DAVIS definitions
(Perazzi et al. 2016, "A Benchmark Dataset and Evaluation Methodology for Video Object Segmentation"):

* **J** of a frame is the IoU of the predicted and GT masks; a frame where both are empty scores 1.
* **F** of a frame is the F-measure of the mask *boundaries*: boundary pixels (:func:`boundary_map`) of
  one mask count as matched when a boundary pixel of the other lies within a disc of radius
  ``ceil(bound_th * diagonal)`` pixels (``bound_th`` = 0.008 in DAVIS); precision = matched predicted
  boundary / predicted boundary, recall = matched GT boundary / GT boundary. Both empty scores 1;
  exactly one empty scores 0.
* **decay** of a sequence's per-frame scores: split the frames into four quarters, mean of the first
  minus mean of the last (positive = the score drops over time).

A sequence's J (F) is the mean over its scored frames; the overall J (F) is the mean over sequences, and
``JF`` = (J + F) / 2.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from scipy import ndimage

#: DAVIS boundary tolerance, a fraction of the image diagonal.
DAVIS_BOUND_TH = 0.008
#: Number of temporal bins of the decay measure.
DECAY_BINS = 4


def _check_pair(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    pred, gt = np.asarray(pred, dtype=bool), np.asarray(gt, dtype=bool)
    if pred.shape != gt.shape or pred.ndim != 2:
        raise ValueError(f"masks must be 2-D and of one shape, got {pred.shape} and {gt.shape}")
    return pred, gt


def region_similarity(pred: np.ndarray, gt: np.ndarray) -> float:
    """J of one frame: IoU of two bool masks, 1.0 when both are empty."""
    pred, gt = _check_pair(pred, gt)
    union = np.logical_or(pred, gt).sum()
    if union == 0:
        return 1.0
    return float(np.logical_and(pred, gt).sum() / union)


def boundary_map(mask: np.ndarray) -> np.ndarray:
    """Boundary pixels of a bool mask, DAVIS ``seg2bmap`` definition at the mask's own resolution.

    A pixel is on the boundary when it differs from its right, lower or lower-right neighbour (pixels
    beyond the image count as equal to it along the last row/column; the bottom-right corner never
    is). So each label transition marks exactly one pixel: a one-pixel-thin boundary on the side of the
    upper/left pixel of each differing pair.
    """
    mask = np.asarray(mask, dtype=bool)
    right = np.zeros_like(mask)
    below = np.zeros_like(mask)
    below_right = np.zeros_like(mask)
    right[:, :-1] = mask[:, 1:]
    below[:-1, :] = mask[1:, :]
    below_right[:-1, :-1] = mask[1:, 1:]
    boundary = (mask != right) | (mask != below) | (mask != below_right)
    # beyond the last column/row: compare only with the neighbour that exists
    boundary[:, -1] = mask[:, -1] != below[:, -1]
    boundary[-1, :] = mask[-1, :] != right[-1, :]
    boundary[-1, -1] = False
    return boundary


def tolerance_pixels(shape: tuple[int, int], bound_th: float = DAVIS_BOUND_TH) -> int:
    """Matching radius in pixels: ``bound_th`` itself when >= 1, else ``ceil(bound_th * diagonal)``."""
    if bound_th >= 1:
        return int(bound_th)
    return int(math.ceil(bound_th * math.hypot(shape[0], shape[1])))


def _disc(radius: int) -> np.ndarray:
    offsets = np.arange(-radius, radius + 1)
    return offsets[:, None] ** 2 + offsets[None, :] ** 2 <= radius * radius


def contour_accuracy(pred: np.ndarray, gt: np.ndarray, bound_th: float = DAVIS_BOUND_TH) -> float:
    """F of one frame: boundary F-measure with a tolerance disc (see the module docstring)."""
    pred, gt = _check_pair(pred, gt)
    pred_boundary, gt_boundary = boundary_map(pred), boundary_map(gt)
    n_pred, n_gt = int(pred_boundary.sum()), int(gt_boundary.sum())
    if n_pred == 0 and n_gt == 0:
        return 1.0
    if n_pred == 0 or n_gt == 0:
        return 0.0
    disc = _disc(tolerance_pixels(pred.shape, bound_th))
    precision = np.logical_and(pred_boundary, ndimage.binary_dilation(gt_boundary, disc)).sum() / n_pred
    recall = np.logical_and(gt_boundary, ndimage.binary_dilation(pred_boundary, disc)).sum() / n_gt
    if precision + recall == 0:
        return 0.0
    return float(2 * precision * recall / (precision + recall))


def decay(values: Sequence[float], bins: int = DECAY_BINS) -> float:
    """Mean of the first minus mean of the last of ``bins`` temporal bins of per-frame scores.

    The bin edges are the frame positions ``round(linspace(0, n - 1, bins + 1))``; bin i holds frames
    ``edge[i] .. edge[i + 1]`` inclusive (neighbouring bins share their edge frame), so even a short
    sequence gives non-empty bins. NaN for an empty sequence, 0 for a single frame.
    """
    scores = np.asarray(values, dtype=np.float64)
    if scores.size == 0:
        return float("nan")
    edges = np.round(np.linspace(0, scores.size - 1, bins + 1)).astype(int)
    first = scores[edges[0] : edges[1] + 1].mean()
    last = scores[edges[-2] : edges[-1] + 1].mean()
    return float(first - last)


@dataclass(frozen=True)
class SequenceScores:
    """Scores of one tracked object: means and decays of the per-frame J and F over ``frames``."""

    name: str
    frames: int
    J: float
    F: float
    J_decay: float
    F_decay: float

    @property
    def JF(self) -> float:
        return (self.J + self.F) / 2.0

    def to_dict(self) -> dict[str, float | int | str]:
        return {**asdict(self), "JF": self.JF}


def score_sequence(
    name: str,
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    bound_th: float = DAVIS_BOUND_TH,
) -> SequenceScores:
    """J, F and their decays of one object over its scored frames (``preds[t]`` vs ``gts[t]``)."""
    j, f = frame_scores(name, preds, gts, bound_th)
    return sequence_scores(name, j, f)


def frame_scores(
    name: str,
    preds: Sequence[np.ndarray],
    gts: Sequence[np.ndarray],
    bound_th: float = DAVIS_BOUND_TH,
) -> tuple[list[float], list[float]]:
    """Per-frame J and F of one object (``preds[t]`` vs ``gts[t]``)."""
    if len(preds) != len(gts):
        raise ValueError(f"{name}: {len(preds)} predicted masks for {len(gts)} GT masks")
    if not gts:
        raise ValueError(f"{name}: no frame to score")
    j = [region_similarity(p, g) for p, g in zip(preds, gts, strict=True)]
    f = [contour_accuracy(p, g, bound_th) for p, g in zip(preds, gts, strict=True)]
    return j, f


def sequence_scores(name: str, j: Sequence[float], f: Sequence[float]) -> SequenceScores:
    """A sequence's means and decays of its per-frame J and F."""
    return SequenceScores(name, len(j), float(np.mean(j)), float(np.mean(f)), decay(j), decay(f))


def summarize(rows: Sequence[SequenceScores]) -> dict[str, float | int]:
    """Overall scores: means over sequences (DAVIS), plus the number of sequences and frames."""
    if not rows:
        raise ValueError("no sequence to summarize")

    def mean(key: str) -> float:
        return float(np.nanmean([getattr(r, key) for r in rows]))

    overall = {key: mean(key) for key in ("J", "F", "J_decay", "F_decay")}
    return {
        "J": overall["J"],
        "F": overall["F"],
        "JF": (overall["J"] + overall["F"]) / 2.0,
        "J_decay": overall["J_decay"],
        "F_decay": overall["F_decay"],
        "sequences": len(rows),
        "frames": int(sum(r.frames for r in rows)),
    }


def markdown_table(rows: Sequence[SequenceScores], overall: dict[str, float | int]) -> str:
    """Per-sequence rows and the overall line as a markdown table."""
    lines = [
        "| sequence | frames | J&F | J | F | J decay | F decay |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        scores = f"{r.JF:.3f} | {r.J:.3f} | {r.F:.3f} | {r.J_decay:+.3f} | {r.F_decay:+.3f}"
        lines.append(f"| {r.name} | {r.frames} | {scores} |")
    lines.append(
        f"| **overall** ({overall['sequences']}) | {overall['frames']} | {overall['JF']:.3f} | "
        f"{overall['J']:.3f} | {overall['F']:.3f} | {overall['J_decay']:+.3f} | {overall['F_decay']:+.3f} |"
    )
    return "\n".join(lines)
