"""Anchors, cosine window, box decoding and the penalised best-candidate choice of the SiamMask tracker.

Candidate index order everywhere: ``i = a * S * S + y * S + x`` (anchor-major, then response row, then
column; S = score_size = 25), matching the network's cls/loc channel layout (SPEC §1.4, §2.2).

Dtypes follow the reference tracker under numpy 2 promotion rules, so that the chosen candidate and the
state update are bit-identical to it: decoded boxes and raw scores are float32 (they come from the
network); everything that mixes in the float64 target size (penalty, pscore, update) is float64.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch


def anchor_shapes(ratios: Sequence[float], scales: Sequence[float], stride: int) -> np.ndarray:
    """Anchor (w, h) in search-crop pixels, shape (A, 2) float32, A = len(ratios) * len(scales).

    Base area stride**2; per ratio r: ``w = int(sqrt(area / r))``, ``h = int(w * r)`` (both truncated),
    then each scale multiplies both. For ratios (0.33, 0.5, 1, 2, 3), scale 8, stride 8 this gives
    (104, 32), (88, 40), (64, 64), (40, 80), (32, 96).
    """
    base_area = stride * stride
    shapes = []
    for ratio in ratios:
        width = int(math.sqrt(base_area / ratio))
        height = int(width * ratio)
        for scale in scales:
            shapes.append((width * scale, height * scale))
    return np.asarray(shapes, dtype=np.float32)


def anchor_grid(ratios: Sequence[float], scales: Sequence[float], stride: int, score_size: int) -> np.ndarray:
    """All anchors as (cx, cy, w, h), shape (A * S * S, 4) float32, index a*S*S + y*S + x.

    Centres are relative to the search-crop centre: ``((x - S // 2) * stride, (y - S // 2) * stride)``.
    """
    shapes = anchor_shapes(ratios, scales, stride)
    offsets = (np.arange(score_size) - score_size // 2) * stride
    grid_y, grid_x = np.meshgrid(offsets, offsets, indexing="ij")  # (S, S), row = y
    num_anchors = len(shapes)
    anchors = np.empty((num_anchors, score_size * score_size, 4), dtype=np.float32)
    anchors[:, :, 0] = grid_x.reshape(-1)
    anchors[:, :, 1] = grid_y.reshape(-1)
    anchors[:, :, 2] = shapes[:, 0:1]
    anchors[:, :, 3] = shapes[:, 1:2]
    return anchors.reshape(-1, 4)


def score_window(score_size: int, num_anchors: int, windowing: str) -> np.ndarray:
    """Motion prior over candidates, shape (A * S * S,) float64.

    'cosine': outer(hanning(S), hanning(S)) (zero at the borders, 1 near the centre), tiled per anchor;
    'uniform': all ones.
    """
    if windowing == "cosine":
        window = np.outer(np.hanning(score_size), np.hanning(score_size))
    elif windowing == "uniform":
        window = np.ones((score_size, score_size))
    else:
        raise ValueError(f"unknown windowing {windowing!r} (use 'cosine' or 'uniform')")
    return np.tile(window.reshape(-1), num_anchors)


def foreground_scores(cls_logits: torch.Tensor) -> np.ndarray:
    """Softmax foreground probability per candidate, (N, 2A, S, S) logits -> (N, A*S*S) float32 numpy.

    Channel a is the background logit of anchor a and channel A + a its foreground logit. The softmax is
    taken per sample over a (A*S*S, 2) view exactly as the reference does, so values are bit-identical.
    """
    rows = []
    for sample in cls_logits.split(1, dim=0):
        pairs = sample.permute(1, 2, 3, 0).contiguous().view(2, -1).permute(1, 0)  # (K, 2): (bg, fg)
        rows.append(torch.softmax(pairs, dim=1)[:, 1])
    return torch.stack(rows).detach().cpu().numpy()


def loc_deltas(loc: torch.Tensor) -> np.ndarray:
    """Regression output (N, 4A, S, S) -> (N, 4, A*S*S) float32 numpy; rows (dx, dy, dw, dh)."""
    return loc.detach().reshape(loc.shape[0], 4, -1).cpu().numpy()


def decode_boxes(deltas: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    """Apply deltas (4, K) float32 to anchors (K, 4) float32 -> boxes (4, K) float32 rows (cx, cy, w, h).

    ``cx = dx * aw + acx``, ``cy = dy * ah + acy``, ``w = exp(dw) * aw``, ``h = exp(dh) * ah``, in
    search-crop pixels relative to the crop centre.
    """
    boxes = np.empty_like(deltas)
    boxes[0] = deltas[0] * anchors[:, 2] + anchors[:, 0]
    boxes[1] = deltas[1] * anchors[:, 3] + anchors[:, 1]
    boxes[2] = np.exp(deltas[2]) * anchors[:, 2]
    boxes[3] = np.exp(deltas[3]) * anchors[:, 3]
    return boxes


def _padded_side(width: np.ndarray | float, height: np.ndarray | float) -> np.ndarray | float:
    """Side of the square with the area of the box padded by (w + h) / 2: sqrt((w + p)(h + p))."""
    pad = (width + height) * 0.5
    return np.sqrt((width + pad) * (height + pad))


def _change(ratio: np.ndarray) -> np.ndarray:
    return np.maximum(ratio, 1.0 / ratio)


@dataclass(frozen=True)
class Candidate:
    """The chosen candidate of one response map.

    index: a*S*S + y*S + x; anchor, pos_yx: the same index unravelled; box_in_crop: (cx, cy, w, h) float32
    in crop pixels relative to the crop centre; score: raw softmax foreground probability (float32);
    penalty: the scale/aspect penalty of this candidate (float64).
    """

    index: int
    anchor: int
    pos_yx: tuple[int, int]
    box_in_crop: np.ndarray
    score: np.float32
    penalty: np.float64


def choose_candidate(
    scores: np.ndarray,
    boxes: np.ndarray,
    target_size_in_crop: np.ndarray,
    window: np.ndarray,
    penalty_k: float,
    window_influence: float,
    score_size: int,
    selection_scores: np.ndarray | None = None,
) -> Candidate:
    """Pick the best candidate: argmax of ``penalty * score * (1 - wi) + window * wi`` (first index on ties).

    scores (K,) float32, boxes (4, K) float32 decoded, target_size_in_crop (2,) float64 = previous (w, h) in
    crop pixels, window (K,) float64. The penalty ``exp(-(r_c * s_c - 1) * k)`` punishes change of the
    padded size (s_c) and of the aspect ratio (r_c) relative to the previous target.
    ``selection_scores`` (K,) replaces ``scores`` in the choice only (e.g. distractor-suppressed scores);
    the candidate's ``score`` is always the raw one.
    """
    target_w = np.float64(target_size_in_crop[0])
    target_h = np.float64(target_size_in_crop[1])
    # float32 box terms divided by the float64 target terms give float64, as in the reference
    size_change = _change(
        _padded_side(boxes[2], boxes[3]).astype(np.float64) / _padded_side(target_w, target_h)
    )
    aspect_change = _change((target_w / target_h) / (boxes[2] / boxes[3]).astype(np.float64))
    penalty = np.exp(-(aspect_change * size_change - 1) * penalty_k)
    chosen_by = scores if selection_scores is None else selection_scores
    pscore = penalty * chosen_by.astype(np.float64)
    pscore = pscore * (1 - window_influence) + window * window_influence
    best = int(np.argmax(pscore))
    anchor, rest = divmod(best, score_size * score_size)
    return Candidate(
        index=best,
        anchor=anchor,
        pos_yx=divmod(rest, score_size),
        box_in_crop=boxes[:, best].copy(),
        score=scores[best],
        penalty=penalty[best],
    )
