"""Detection-to-track association as pure functions over arrays (no hidden state).

Every affinity the multi-object step uses is shaped here, from the tracks' masks/labels and the
frame's :class:`~vis_pipeline.types.Detections`:

- :func:`gated_mask_affinity`: mask IoU between the tracks' predicted masks and the detections
  (pycocotools on compressed RLE, never full-frame float arrays), optionally zeroed across
  categories (``class_gate``);
- :func:`linear_assignment`: maximum-total-affinity assignment (scipy's Hungarian solver) keeping
  only pairs at or above a threshold;
- :func:`recovery_affinity` / :func:`recover_lost`: the optional second association of tracks that
  SiamMask lost against the detections left over;
- :func:`birth_candidates`: which unmatched detections start tracks (:func:`duplicate_of_live`
  blocks detections already covered by a live track's prediction).
"""

from __future__ import annotations

import typing
from dataclasses import dataclass, field, fields

import numpy as np
from scipy.optimize import linear_sum_assignment

from vis_pipeline.masks import RLE, decode_rle, encode_mask, rle_iou_matrix, rle_to_box_xywh
from vis_pipeline.types import Detections


@dataclass(frozen=True)
class AssociationConfig:
    """The association and track-lifecycle rules of ``configs/association/<preset>.yaml`` (the
    ``association`` config group; ``LifecycleConfig`` is its former name). The Python defaults are
    ``configs/association/default.yaml``'s (a test composes both); ``paper.yaml`` is the paper's
    rule alone. Each field's range/choices are in its metadata (checked on construction).

    iou_thr:           a track/detection pair counts as a match only at mask IoU >= iou_thr
    birth_score:       an unmatched detection starts a track only at score >= birth_score
    birth_max_iou:     ... and only if its IoU with every live track's predicted mask is below this
                       (otherwise it is a duplicate of a track the assignment already covered)
    max_lost:          a track unmatched for more than max_lost consecutive frames dies
    min_tracker_score: an unmatched frame whose SiamMask score is below this outputs nothing
                       (and still counts as lost)
    output_mask:       "tracker" | "detection" | "fused" mask for matched frames (see MultiObjectTracker)
    min_hits:          tracks with fewer matched detections are not reported
    full_score_hits:   number of matched detections at which a track's length factor reaches 1
    det_box_weight:    on a match, move SiamMask's target box this far towards the detection's box
                       (0 = pure SiamMask state, 1 = re-centre on the detection; the template is kept)
    recover_min_affinity: second association for tracks SiamMask lost: a leftover detection of the
                       track's category whose max(IoU, centre proximity) with the track's last matched
                       mask reaches this is linked to it (0 disables)
    bridge_gaps:       output SiamMask's masks for unmatched frames of a track that is matched again
                       (detector misses / occlusions bridged); false = only matched frames are output
    class_gate:        a track only matches detections of its (voted) category
    recover_radius:    centre proximity falls to 0 at this many box sizes from the last matched box
    stitch_max_gap:    offline tracklet stitching after the last frame (vis_pipeline.track.stitch):
                       a finished track continues an earlier one of its category that ended at most
                       this many frames before it started (0 disables)
    stitch_radius:     ... the constant-velocity prediction error between the two ends, in box sizes,
                       at which a link's affinity falls to 0
    stitch_min_affinity: ... links below this affinity are not made
    velocity_window:   a track's velocity (box centre px per frame) is measured over its last (first)
                       this many matched frames (motion term, stitching)
    motion_weight:     affinity = (1 - w) * IoU(SiamMask's mask) + w * IoU(the track's last detection
                       mask moved at the track's velocity to this frame); 0 = SiamMask's IoU alone
    backfill_frames:   backward pass: a track born on frame t runs SiamMask backwards from its birth
                       box over up to this many earlier frames (stopping below min_tracker_score); the
                       masks fill the frames before the track's first frame after stitching (0 disables)
    tail_frames:       when a track ends (death or the video's end), commit up to this many of its
                       pending SiamMask masks right after its last matched frame (needs bridge_gaps; 0 = off)
    """

    iou_thr: float = field(default=0.3, metadata={"range": "(0, 1]"})
    birth_score: float = field(default=0.5, metadata={"range": "[0, 1]"})
    birth_max_iou: float = field(default=0.5, metadata={"range": "(0, 1]"})
    max_lost: int = field(default=5, metadata={"range": "[0, inf)"})
    min_tracker_score: float = field(default=0.3, metadata={"range": "[0, 1]"})
    output_mask: str = field(default="detection", metadata={"choices": ("tracker", "detection", "fused")})
    min_hits: int = field(default=1, metadata={"range": "[0, inf)"})
    full_score_hits: int = field(default=3, metadata={"range": "[1, inf)"})
    det_box_weight: float = field(default=1.0, metadata={"range": "[0, 1]"})
    recover_min_affinity: float = field(default=0.3, metadata={"range": "[0, 1]"})
    recover_radius: float = field(default=4.0, metadata={"range": "(0, inf)"})
    class_gate: bool = True
    bridge_gaps: bool = True
    stitch_max_gap: int = field(default=24, metadata={"range": "[0, inf)"})
    stitch_radius: float = field(default=4.0, metadata={"range": "(0, inf)"})
    stitch_min_affinity: float = field(default=0.2, metadata={"range": "(0, 1]"})
    velocity_window: int = field(default=3, metadata={"range": "[2, inf)"})
    motion_weight: float = field(default=0.5, metadata={"range": "[0, 1]"})
    backfill_frames: int = field(default=0, metadata={"range": "[0, inf)"})
    tail_frames: int = field(default=0, metadata={"range": "[0, inf)"})

    def __post_init__(self) -> None:
        # Python callers get the same checks as the CLI (vis_pipeline.settings reads the metadata).
        from vis_pipeline.settings import check_value

        hints = typing.get_type_hints(type(self))
        for f in fields(self):
            check_value(f.name, getattr(self, f.name), hints[f.name], f.metadata)


@dataclass(frozen=True)
class Matches:
    """Result of one association.

    pairs:          (K, 2) int64, rows of (track index, detection index)
    ious:           (K,) float64, the affinity of each pair
    unmatched_tracks: (T - K,) int64 track indices, ascending
    unmatched_dets:   (D - K,) int64 detection indices, ascending
    """

    pairs: np.ndarray
    ious: np.ndarray
    unmatched_tracks: np.ndarray
    unmatched_dets: np.ndarray

    def without(self, pairs: np.ndarray) -> Matches:
        """These matches with ``pairs`` (track, detection) taken by a later stage removed from the
        unmatched sets (the later stage's pairs are not added to ``pairs``)."""
        pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
        return Matches(
            pairs=self.pairs,
            ious=self.ious,
            unmatched_tracks=np.setdiff1d(self.unmatched_tracks, pairs[:, 0]).astype(np.int64),
            unmatched_dets=np.setdiff1d(self.unmatched_dets, pairs[:, 1]).astype(np.int64),
        )


def linear_assignment(affinity: np.ndarray, min_affinity: float) -> Matches:
    """Maximum-total-affinity assignment keeping only pairs with ``affinity >= min_affinity``.

    affinity: (T, D) matrix between T tracks and D detections.
    Entries below the threshold are zeroed before solving, so the solver never trades a
    valid pair for an invalid one; pairs that still land on them are then dropped.
    """
    affinity = np.asarray(affinity, dtype=np.float64)
    n_tracks, n_dets = affinity.shape
    if n_tracks == 0 or n_dets == 0:
        return Matches(
            pairs=np.zeros((0, 2), dtype=np.int64),
            ious=np.zeros(0),
            unmatched_tracks=np.arange(n_tracks, dtype=np.int64),
            unmatched_dets=np.arange(n_dets, dtype=np.int64),
        )
    valid = np.where(affinity >= min_affinity, affinity, 0.0)
    rows, cols = linear_sum_assignment(valid, maximize=True)
    keep = valid[rows, cols] > 0.0
    rows, cols = rows[keep], cols[keep]
    order = np.argsort(rows, kind="stable")
    rows, cols = rows[order], cols[order]
    return Matches(
        pairs=np.stack([rows, cols], axis=1).astype(np.int64),
        ious=affinity[rows, cols],
        unmatched_tracks=np.setdiff1d(np.arange(n_tracks), rows).astype(np.int64),
        unmatched_dets=np.setdiff1d(np.arange(n_dets), cols).astype(np.int64),
    )


def same_class(track_labels: np.ndarray, det_labels: np.ndarray) -> np.ndarray:
    """(T, D) bool: track t's (voted) category equals detection d's label."""
    return (
        np.asarray(track_labels, dtype=np.int64)[:, None] == np.asarray(det_labels, dtype=np.int64)[None, :]
    )


def moved_mask(mask: RLE, offset_xy: np.ndarray) -> RLE:
    """``mask`` translated by ``offset_xy`` (x, y) px, rounded; pixels moved out of the frame are lost."""
    dx, dy = (int(round(float(v))) for v in offset_xy)
    if dx == 0 and dy == 0:
        return mask
    src = decode_rle(mask)
    out = np.zeros_like(src)
    h, w = src.shape
    if abs(dx) < w and abs(dy) < h:
        out[max(dy, 0) : h + min(dy, 0), max(dx, 0) : w + min(dx, 0)] = src[
            max(-dy, 0) : h + min(-dy, 0), max(-dx, 0) : w + min(-dx, 0)
        ]
    return encode_mask(out)


def gated_mask_affinity(
    pred_masks: list[RLE],
    track_labels: np.ndarray,
    dets: Detections,
    class_gate: bool,
    motion_masks: list[RLE] | None = None,
    motion_weight: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(raw affinity, affinity), both (T, D) float64.

    The raw affinity is the mask IoU of SiamMask's predicted masks with the detections, blended with
    ``motion_weight`` with the IoU of ``motion_masks`` (each track's last detection mask moved at its
    velocity: where the object should be if it kept moving; this separates two objects of one class
    that cross, which SiamMask's masks often do not). The affinity is the raw one, zeroed across
    categories when ``class_gate`` is on: a tracker that drifted onto another object must not steal
    that object's detection.
    """
    iou = rle_iou_matrix(pred_masks, dets.masks)
    if motion_weight > 0 and motion_masks is not None and iou.size:
        iou = (1 - motion_weight) * iou + motion_weight * rle_iou_matrix(motion_masks, dets.masks)
    if not class_gate or iou.size == 0:
        return iou, iou
    return iou, np.where(same_class(track_labels, dets.labels), iou, 0.0)


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


def recovery_affinity(
    last_masks: list[RLE], track_labels: np.ndarray, dets: Detections, radius: float
) -> np.ndarray:
    """(T, D) ``max(mask IoU, centre proximity)`` of each detection to each track's last matched
    mask; 0 across categories (a recovery never changes a track's class)."""
    if not last_masks or not len(dets):
        return np.zeros((len(last_masks), len(dets)))
    iou = rle_iou_matrix(last_masks, dets.masks)
    last_boxes = np.array([rle_to_box_xywh(m) for m in last_masks])
    near = proximity_matrix(last_boxes, dets.boxes_xywh_min(), radius)
    return np.where(same_class(track_labels, dets.labels), np.maximum(iou, near), 0.0)


def centre_distance(masks: list[RLE], dets: Detections) -> np.ndarray:
    """(T, D) pixel distance between each mask's box centre and each detection's box centre."""
    if not masks or not len(dets):
        return np.zeros((len(masks), len(dets)))
    boxes = np.array([rle_to_box_xywh(m) for m in masks])
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    det_boxes = dets.boxes_xywh_min()
    det_centres = det_boxes[:, :2] + det_boxes[:, 2:] / 2
    return np.linalg.norm(centres[:, None, :] - det_centres[None, :, :], axis=2)


def recover_lost(
    last_masks: list[RLE | None],
    track_labels: np.ndarray,
    dets: Detections,
    matches: Matches,
    min_affinity: float,
    radius: float,
    where_masks: list[RLE | None] | None = None,
) -> np.ndarray:
    """Second association: the tracks left unmatched by ``matches`` (that were ever matched) against
    the detections left over, by :func:`recovery_affinity`. Returns (K, 2) int64 pairs of
    (track index, detection index) in the original index spaces.

    ``where_masks`` (one per track: the mask of the detection each track matched on this frame, None
    for the others, which compete in the assignment itself): a pair is refused when the detection's
    centre is next to a matched track (within that track's size, sqrt(w * h)) and nearer to it than
    to the lost track's last mask (any class), so a lost track never takes a new object that
    appeared next to another track.
    """
    empty = np.zeros((0, 2), dtype=np.int64)
    if min_affinity <= 0 or not len(matches.unmatched_tracks) or not len(matches.unmatched_dets):
        return empty
    cand = np.array([t for t in matches.unmatched_tracks if last_masks[t] is not None], dtype=np.int64)
    if not len(cand):
        return empty
    leftover = matches.unmatched_dets
    left_dets = dets.select(leftover)
    affinity = recovery_affinity(
        [last_masks[t] for t in cand], np.asarray(track_labels)[cand], left_dets, radius
    )
    others = [m for m in where_masks or [] if m is not None]
    if others:
        to_others = centre_distance(others, left_dets)  # (O, D_left)
        sizes = np.array([np.sqrt(max(w * h, 1.0)) for _, _, w, h in (rle_to_box_xywh(m) for m in others)])
        to_others = np.where(to_others < sizes[:, None], to_others, np.inf)  # only "next to" counts
        to_lost = centre_distance([last_masks[t] for t in cand], left_dets)  # (C, D_left)
        affinity[to_others.min(axis=0)[None, :] < to_lost] = 0.0
    recovered = linear_assignment(affinity, min_affinity)
    return np.stack([cand[recovered.pairs[:, 0]], leftover[recovered.pairs[:, 1]]], axis=1).astype(np.int64)


def duplicate_of_live(live_affinity: np.ndarray, det_index: int, max_iou: float) -> bool:
    """Whether detection ``det_index`` overlaps some live track's predicted mask by ``max_iou`` or
    more (it is then a duplicate of a track the assignment already covers, not a new object)."""
    return bool(live_affinity.shape[0] and live_affinity[:, det_index].max() >= max_iou)


def birth_candidates(
    dets: Detections,
    unmatched_dets: np.ndarray,
    live_affinity: np.ndarray,
    birth_score: float,
    birth_max_iou: float,
) -> list[int]:
    """Unmatched detections that start tracks: score >= ``birth_score`` and not a duplicate of a
    live track (:func:`duplicate_of_live` on ``live_affinity``, (T, D))."""
    return [
        int(di)
        for di in unmatched_dets
        if dets.scores[di] >= birth_score and not duplicate_of_live(live_affinity, int(di), birth_max_iou)
    ]
