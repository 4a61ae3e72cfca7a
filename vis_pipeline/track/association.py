"""Detection-to-track association as pure functions over arrays (no hidden state).

The affinity is mask IoU between the tracks' predicted masks and the frame's detections,
computed on compressed RLE by pycocotools (never on full-frame float arrays). The
assignment maximises the total IoU with scipy's Hungarian solver; a pair only counts
when its IoU reaches ``iou_thr``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from vis_pipeline.masks import RLE, rle_iou_matrix


@dataclass(frozen=True)
class Matches:
    """Result of one association.

    pairs:          (K, 2) int64, rows of (track index, detection index)
    ious:           (K,) float64, the IoU of each pair
    unmatched_tracks: (T - K,) int64 track indices, ascending
    unmatched_dets:   (D - K,) int64 detection indices, ascending
    """

    pairs: np.ndarray
    ious: np.ndarray
    unmatched_tracks: np.ndarray
    unmatched_dets: np.ndarray


def linear_assignment(iou: np.ndarray, iou_thr: float) -> Matches:
    """Maximum-total-IoU assignment keeping only pairs with ``iou >= iou_thr``.

    iou: (T, D) affinity matrix between T tracks and D detections.
    Entries below the threshold are zeroed before solving, so the solver never trades a
    valid pair for an invalid one; pairs that still land on them are then dropped.
    """
    iou = np.asarray(iou, dtype=np.float64)
    n_tracks, n_dets = iou.shape
    if n_tracks == 0 or n_dets == 0:
        return Matches(
            pairs=np.zeros((0, 2), dtype=np.int64),
            ious=np.zeros(0),
            unmatched_tracks=np.arange(n_tracks, dtype=np.int64),
            unmatched_dets=np.arange(n_dets, dtype=np.int64),
        )
    valid = np.where(iou >= iou_thr, iou, 0.0)
    rows, cols = linear_sum_assignment(valid, maximize=True)
    keep = valid[rows, cols] > 0.0
    rows, cols = rows[keep], cols[keep]
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    return Matches(
        pairs=np.stack([rows, cols], axis=1).astype(np.int64),
        ious=iou[rows, cols],
        unmatched_tracks=np.setdiff1d(np.arange(n_tracks), rows).astype(np.int64),
        unmatched_dets=np.setdiff1d(np.arange(n_dets), cols).astype(np.int64),
    )


def associate(track_masks: list[RLE], det_masks: list[RLE], iou_thr: float) -> Matches:
    """Associate predicted track masks with detection masks by mask IoU (both compressed RLE)."""
    return linear_assignment(rle_iou_matrix(track_masks, det_masks), iou_thr)


def proximity_matrix(boxes_a_xywh: np.ndarray, boxes_b_xywh: np.ndarray, radius: float) -> np.ndarray:
    """How near each box b is to each box a: ``max(0, 1 - d / (radius * sqrt(w_a * h_a)))``.

    d is the distance between the box centres, measured in units of box a's size, so a fast
    object that jumped past its own extent still scores > 0 within ``radius`` sizes.
    boxes_*: (N, 4) x, y, w, h. Returns (len(a), len(b)) float64 in [0, 1].
    """
    a = np.asarray(boxes_a_xywh, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b_xywh, dtype=np.float64).reshape(-1, 4)
    ca = a[:, :2] + a[:, 2:] / 2
    cb = b[:, :2] + b[:, 2:] / 2
    dist = np.linalg.norm(ca[:, None, :] - cb[None, :, :], axis=2)
    scale = radius * np.sqrt(np.maximum(a[:, 2] * a[:, 3], 1.0))[:, None]
    return np.clip(1.0 - dist / scale, 0.0, 1.0)
