"""The paper's multi-object step (SiamMask §5): per frame, every live track predicts a mask
with SiamMask, the detector's masks are assigned to the tracks by mask IoU (Hungarian),
matched tracks continue, unmatched detections start tracks, long-unmatched tracks die.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from vis_pipeline.masks import RLE, decode_rle, encode_mask, rle_iou_matrix, rle_to_box_xywh
from vis_pipeline.results import track_result
from vis_pipeline.track.association import linear_assignment, proximity_matrix
from vis_pipeline.track.lifecycle import LifecycleConfig, Track
from vis_pipeline.types import Detections


class TrackPrediction(Protocol):
    mask: np.ndarray  # bool HxW
    score: float


class SingleObjectTracker(Protocol):
    """What the loop needs from SiamMask (``siammask.SiamMaskTracker`` satisfies it)."""

    def init_many(self, image_bgr: np.ndarray, boxes_xywh: Sequence[Sequence[float]]) -> list[Any]: ...

    def track_many(self, image_bgr: np.ndarray, states: list[Any]) -> list[TrackPrediction]: ...


def xyxy_to_xywh(box: np.ndarray) -> list[float]:
    x0, y0, x1, y1 = (float(v) for v in box)
    return [x0, y0, max(x1 - x0, 1.0), max(y1 - y0, 1.0)]


def pull_towards_box(state: Any, box_xyxy: np.ndarray, weight: float) -> None:
    """Move a SiamMask state's ``target_pos``/``target_sz`` towards a detection box (in place).

    Detections are usually better localised than a drifting tracker; correcting the search
    centre and scale (not the template) keeps SiamMask looking in the right place.
    """
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    size = np.array([max(x1 - x0, 1.0), max(y1 - y0, 1.0)])
    state.target_pos = (1 - weight) * np.asarray(state.target_pos, dtype=np.float64) + weight * center
    state.target_sz = (1 - weight) * np.asarray(state.target_sz, dtype=np.float64) + weight * size


def _union(a: RLE, b: RLE) -> RLE:
    return encode_mask(decode_rle(a) | decode_rle(b))


class MultiObjectTracker:
    """Tracks of one video. Call :meth:`step` once per frame in order, then :meth:`results`.

    Output mask of a matched frame (``cfg.output_mask``):
    - ``tracker`` (default): SiamMask's mask, as in the paper, whose Table 14 measures exactly
      this mask (one- vs two-stage); detections decide births, deaths and the class.
    - ``detection``: the matched detection's mask.
    - ``fused``: the union of both (they overlap by at least ``iou_thr`` when matched).
    """

    def __init__(self, tracker: SingleObjectTracker, cfg: LifecycleConfig) -> None:
        self.tracker = tracker
        self.cfg = cfg
        self.tracks: list[Track] = []
        self.num_frames = 0
        self._next_id = 1  # per video, deterministic

    @property
    def live_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.is_alive]

    def step(self, frame_idx: int, image_bgr: np.ndarray, dets: Detections) -> None:
        cfg = self.cfg
        self.num_frames = max(self.num_frames, frame_idx + 1)
        live = self.live_tracks

        # 1. SiamMask predicts every live track's mask on this frame (one batched forward).
        preds = self.tracker.track_many(image_bgr, [t.tracker_state for t in live]) if live else []
        pred_masks = [encode_mask(p.mask) for p in preds]

        # 2. Hungarian assignment on mask IoU.
        iou = rle_iou_matrix(pred_masks, dets.masks)
        affinity = iou
        if cfg.class_gate and live and len(dets):
            # A tracker that drifted onto another object must not steal that object's detection.
            same_class = np.array([t.category_id for t in live])[:, None] == dets.labels[None, :]
            affinity = np.where(same_class, iou, 0.0)
        matches = linear_assignment(affinity, cfg.iou_thr)

        # 3. Matched tracks continue; the detection votes for the class and the score.
        for ti, di in matches.pairs:
            mask = self._output_mask(pred_masks[ti], dets.masks[di])
            live[ti].mark_matched(frame_idx, mask, dets.scores[di], dets.labels[di])
            if cfg.det_box_weight > 0:
                pull_towards_box(live[ti].tracker_state, dets.boxes[di], cfg.det_box_weight)

        # 3b. Recovery: tracks SiamMask lost this frame vs the detections left over, by how well a
        #     detection agrees with the track's last matched mask (IoU, or centre proximity for
        #     objects that moved past their own size), same category only. A recovered track takes
        #     the detection's mask and box: the tracker's own guess did not overlap the object.
        unmatched_tracks, unmatched_dets = matches.unmatched_tracks, matches.unmatched_dets
        if cfg.recover_min_affinity > 0 and len(unmatched_tracks) and len(unmatched_dets):
            cand = [ti for ti in unmatched_tracks if live[ti].last_mask is not None]
            rec_affinity = self._recovery_affinity([live[ti] for ti in cand], dets, unmatched_dets)
            recovered = linear_assignment(rec_affinity, cfg.recover_min_affinity)
            for ci, dj in recovered.pairs:
                ti, di = cand[ci], unmatched_dets[dj]
                live[ti].mark_matched(frame_idx, dets.masks[di], dets.scores[di], dets.labels[di])
                pull_towards_box(live[ti].tracker_state, dets.boxes[di], 1.0)
            taken_tracks = {cand[ci] for ci in recovered.pairs[:, 0]}
            taken_dets = {unmatched_dets[dj] for dj in recovered.pairs[:, 1]}
            unmatched_tracks = np.array(
                [t for t in unmatched_tracks if t not in taken_tracks], dtype=np.int64
            )
            unmatched_dets = np.array([d for d in unmatched_dets if d not in taken_dets], dtype=np.int64)

        # 4. Unmatched tracks are lost for a frame (SiamMask's mask kept pending), or die.
        for ti in unmatched_tracks:
            confident = preds[ti].score >= cfg.min_tracker_score
            keep = confident and cfg.bridge_gaps
            live[ti].mark_unmatched(frame_idx, pred_masks[ti] if keep else None, cfg.max_lost)

        # 5. Births: confident unmatched detections not already covered by a live track.
        born = [
            int(di)
            for di in unmatched_dets
            if dets.scores[di] >= cfg.birth_score
            and not (len(live) and affinity[:, di].max() >= cfg.birth_max_iou)
        ]
        if born:
            self._births(frame_idx, image_bgr, dets, born)

    def _recovery_affinity(
        self, tracks: list[Track], dets: Detections, det_indices: np.ndarray
    ) -> np.ndarray:
        """(T, D) max(mask IoU, centre proximity) to each track's last matched mask; 0 across categories."""
        if not tracks:
            return np.zeros((0, len(det_indices)))
        last = [t.last_mask for t in tracks]
        det_masks = [dets.masks[d] for d in det_indices]
        iou = rle_iou_matrix(last, det_masks)
        last_boxes = np.array([rle_to_box_xywh(m) for m in last])
        det_boxes = np.array([xyxy_to_xywh(dets.boxes[d]) for d in det_indices])
        near = proximity_matrix(last_boxes, det_boxes, self.cfg.recover_radius)
        same_class = np.array([t.category_id for t in tracks])[:, None] == dets.labels[det_indices][None, :]
        return np.where(same_class, np.maximum(iou, near), 0.0)

    def _output_mask(self, tracker_mask: RLE, det_mask: RLE) -> RLE:
        if self.cfg.output_mask == "tracker":
            return tracker_mask
        if self.cfg.output_mask == "detection":
            return det_mask
        return _union(tracker_mask, det_mask)

    def _births(
        self, frame_idx: int, image_bgr: np.ndarray, dets: Detections, det_indices: list[int]
    ) -> None:
        """New tracks from detections, SiamMask initialised on their boxes (one batched template pass)."""
        states = self.tracker.init_many(image_bgr, [xyxy_to_xywh(dets.boxes[di]) for di in det_indices])
        for di, state in zip(det_indices, states, strict=True):
            track = Track(track_id=self._next_id, start_frame=frame_idx, tracker_state=state)
            self._next_id += 1
            track.mark_matched(frame_idx, dets.masks[di], dets.scores[di], dets.labels[di])
            self.tracks.append(track)

    def finish(self) -> None:
        """End of video: uncommitted gaps are dropped, as at a death."""
        for track in self.live_tracks:
            track.mark_removed()

    def results(self, video_id: int, num_frames: int | None = None, topk: int = 10) -> list[dict]:
        """YouTube-VIS result entries of this video: reported tracks, best ``topk`` by score."""
        length = num_frames if num_frames is not None else self.num_frames
        entries = []
        for track in self.tracks:
            if track.hits < max(self.cfg.min_hits, 1) or not track.masks:
                continue
            segmentations = [track.masks.get(f) for f in range(length)]
            score = track.score(self.cfg.full_score_hits)
            entries.append(track_result(video_id, track.category_id, score, segmentations))
        entries.sort(key=lambda e: -e["score"])
        return entries[:topk]
