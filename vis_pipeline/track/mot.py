"""The paper's multi-object step (SiamMask §5): per frame, every live track predicts a mask
with SiamMask, the detector's masks are assigned to the tracks by mask IoU (Hungarian),
matched tracks continue, unmatched detections start tracks, long-unmatched tracks die.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from vis_pipeline.masks import RLE, decode_rle, encode_mask, encode_mask_region
from vis_pipeline.results import topk_per_video, track_result
from vis_pipeline.track.association import (
    AssociationConfig,
    birth_candidates,
    gated_mask_affinity,
    linear_assignment,
    recover_lost,
)
from vis_pipeline.track.lifecycle import Track
from vis_pipeline.track.stitch import StitchParams, Tracklet, stitch_groups
from vis_pipeline.types import Detections


class TrackPrediction(Protocol):
    mask: np.ndarray  # bool HxW
    score: float
    found: bool  # False: the tracker says the object is not there (SiamMask's colour gate, off by default)


class SingleObjectTracker(Protocol):
    """What the loop needs from SiamMask (``siammask.SiamMaskTracker`` satisfies it). The per-track
    state is the tracker's own: the loop only hands it back (to track, or to re-centre it)."""

    def init_many(self, image_bgr: np.ndarray, boxes_xywh: Sequence[Sequence[float]]) -> list[Any]: ...

    def track_many(self, image_bgr: np.ndarray, states: list[Any]) -> list[TrackPrediction]: ...

    def recenter(self, state: Any, box_xywh: Sequence[float], weight: float) -> None: ...


def usable(pred: TrackPrediction, min_score: float) -> bool:
    """Whether a tracker mask may stand in for a missing detection: found and scored >= ``min_score``."""
    return pred.found and pred.score >= min_score


def prediction_rle(pred: TrackPrediction) -> RLE:
    """RLE of a tracker's frame mask. SiamMask's ``TrackResult`` knows the region its pasted mask reaches
    (``mask_region`` at ``mask_origin``): only that region is encoded, to the same RLE as the full frame
    (``masks.encode_mask_region``), so the cost follows the object, not the frame.
    Other trackers: their ``mask``."""
    region = getattr(pred, "mask_region", None)
    if region is None:
        return encode_mask(pred.mask)
    return encode_mask_region(region, pred.mask_origin, pred.image_hw)


def _union(a: RLE, b: RLE) -> RLE:
    return encode_mask(decode_rle(a) | decode_rle(b))


class MultiObjectTracker:
    """Tracks of one video. Call :meth:`step` once per frame in order, then :meth:`results`.

    Output mask of a matched frame (``cfg.output_mask``):
    - ``tracker`` (``association=paper``): SiamMask's mask, as in the paper, whose Table 14 measures
      exactly this mask (one- vs two-stage); detections decide births, deaths and the class.
    - ``detection`` (the default preset): the matched detection's mask (SiamMask's on bridged frames).
    - ``fused``: the union of both (they overlap by at least ``iou_thr`` when matched).
    """

    def __init__(self, tracker: SingleObjectTracker, cfg: AssociationConfig) -> None:
        self.tracker = tracker
        self.cfg = cfg
        self.tracks: list[Track] = []
        self.num_frames = 0
        self.frame_hw = (0, 0)  # (height, width) of the video's frames
        self._next_id = 1  # per video, deterministic
        # the last backfill_frames frames (index, BGR image), for the backward pass at births
        self._recent: deque[tuple[int, np.ndarray]] = deque(maxlen=cfg.backfill_frames)

    @property
    def live_tracks(self) -> list[Track]:
        return [t for t in self.tracks if t.is_alive]

    def step(self, frame_idx: int, image_bgr: np.ndarray, dets: Detections) -> None:
        cfg, live = self.cfg, self.live_tracks
        self.num_frames = max(self.num_frames, frame_idx + 1)
        self.frame_hw = (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        labels = np.array([t.category_id for t in live], dtype=np.int64)

        # 1. SiamMask predicts every live track's mask on this frame (one batched forward).
        preds = self.tracker.track_many(image_bgr, [t.tracker_state for t in live]) if live else []
        pred_masks = [prediction_rle(p) for p in preds]

        # 2. Hungarian assignment on mask IoU (blended with the motion prediction's, class-gated, on request).
        motion = [t.motion_mask(frame_idx, cfg.velocity_window) for t in live] if cfg.motion_weight else None
        iou, affinity = gated_mask_affinity(
            pred_masks, labels, dets, cfg.class_gate, motion, cfg.motion_weight
        )
        matches = linear_assignment(affinity, cfg.iou_thr)

        # 3. Matched tracks continue; the detection votes for the class and the score.
        for ti, di in matches.pairs:
            mask = self._output_mask(pred_masks[ti], dets.masks[di])
            live[ti].mark_matched(frame_idx, mask, dets.scores[di], dets.labels[di], dets.masks[di])
            if cfg.det_box_weight > 0:
                self.tracker.recenter(live[ti].tracker_state, dets.boxes_xywh[di], cfg.det_box_weight)

        # 3b. Recovery (optional): tracks SiamMask lost vs the detections left over, near the
        #     track's last matched mask and nearer to it than to any other live track.
        last = [t.last_det_mask for t in live]
        where: list[RLE | None] = [None] * len(live)  # matched tracks are where their detection is
        for ti, di in matches.pairs:
            where[ti] = dets.masks[di]
        recovered = recover_lost(
            last, labels, dets, matches, cfg.recover_min_affinity, cfg.recover_radius, where
        )
        if len(recovered):
            self._recover(frame_idx, image_bgr, dets, [live[ti] for ti in recovered[:, 0]], recovered[:, 1])
        matches = matches.without(recovered)

        # 4. Unmatched tracks are lost for a frame (SiamMask's mask kept pending), or die.
        for ti in matches.unmatched_tracks:
            keep = cfg.bridge_gaps and usable(preds[ti], cfg.min_tracker_score)
            mask = pred_masks[ti] if keep else None
            live[ti].mark_unmatched(frame_idx, mask, cfg.max_lost, cfg.tail_frames)

        # 5. Births: confident unmatched detections not covered by any live prediction (raw IoU,
        #    whatever the class: a class flip of the detector must not duplicate a track).
        born = birth_candidates(dets, matches.unmatched_dets, iou, cfg.birth_score, cfg.birth_max_iou)
        if born:
            self._births(frame_idx, image_bgr, dets, born)
        if cfg.backfill_frames:
            self._recent.append((frame_idx, image_bgr.copy()))

    def _recover(
        self,
        frame_idx: int,
        image_bgr: np.ndarray,
        dets: Detections,
        tracks: list[Track],
        det_indices: np.ndarray,
    ) -> None:
        """Re-link tracks SiamMask lost to their detections: SiamMask is re-centred on the detection's
        box and, unless only detection masks are output, searches again there, so ``output_mask``
        means the same as for a match; the gap frames before are dropped (``mark_recovered``)."""
        boxes = dets.boxes_xywh
        for track, di in zip(tracks, det_indices, strict=True):
            self.tracker.recenter(track.tracker_state, boxes[di], 1.0)
        tracker_masks: list[RLE | None] = [None] * len(tracks)
        if self.cfg.output_mask != "detection":
            preds = self.tracker.track_many(image_bgr, [t.tracker_state for t in tracks])
            tracker_masks = [prediction_rle(p) for p in preds]
        for track, di, tracker_mask in zip(tracks, det_indices, tracker_masks, strict=True):
            det_mask = dets.masks[di]
            mask = det_mask if tracker_mask is None else self._output_mask(tracker_mask, det_mask)
            track.mark_recovered(frame_idx, mask, dets.scores[di], dets.labels[di], det_mask)

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
        all_boxes = dets.boxes_xywh_min()
        boxes = [[float(v) for v in all_boxes[di]] for di in det_indices]
        states = self.tracker.init_many(image_bgr, boxes)
        new = []
        for di, state in zip(det_indices, states, strict=True):
            track = Track(track_id=self._next_id, start_frame=frame_idx, tracker_state=state)
            self._next_id += 1
            track.mark_matched(frame_idx, dets.masks[di], dets.scores[di], dets.labels[di], dets.masks[di])
            self.tracks.append(track)
            new.append(track)
        if self._recent:
            self._backward(image_bgr, boxes, new)

    def _backward(self, image_bgr: np.ndarray, boxes: list[list[float]], tracks: list[Track]) -> None:
        """Backward pass (``backfill_frames``): SiamMask initialised again on the birth boxes tracks
        through the buffered earlier frames, newest first; a track stops at its first frame below
        ``min_tracker_score``. The masks are kept aside (``Track.backfill``) until the end of the video."""
        states = self.tracker.init_many(image_bgr, boxes)
        active = list(range(len(tracks)))
        for frame_idx, frame in reversed(self._recent):
            if not active:
                break
            preds = self.tracker.track_many(frame, [states[i] for i in active])
            still = []
            for i, pred in zip(active, preds, strict=True):
                if usable(pred, self.cfg.min_tracker_score) and pred.mask.any():
                    tracks[i].backfill[frame_idx] = prediction_rle(pred)
                    still.append(i)
            active = still

    def coast(self, frame_idx: int, image_bgr: np.ndarray) -> None:
        """A frame the detector skips by design (``detect_every``): every live track outputs SiamMask's
        mask (pending while the track is lost); no association, births or deaths, and the lost
        counters do not move (``max_lost`` counts detector frames)."""
        self.num_frames = max(self.num_frames, frame_idx + 1)
        live = self.live_tracks
        if not live:
            return
        preds = self.tracker.track_many(image_bgr, [t.tracker_state for t in live])
        for track, pred in zip(live, preds, strict=True):
            track.mark_coasted(frame_idx, prediction_rle(pred))
        if self.cfg.backfill_frames:
            self._recent.append((frame_idx, image_bgr.copy()))

    def finish(self) -> None:
        """End of video: uncommitted gaps are dropped, as at a death; then, with ``stitch_max_gap``,
        tracks that continue an earlier track of the same object are merged into it."""
        for track in self.live_tracks:
            track.mark_removed(self.cfg.tail_frames)
        if self.cfg.stitch_max_gap > 0:
            self._stitch()
        for track in self.tracks:
            track.commit_backfill()

    def _stitch(self) -> None:
        cfg = self.cfg
        params = StitchParams(
            cfg.stitch_max_gap, cfg.stitch_radius, cfg.stitch_min_affinity, cfg.velocity_window
        )
        tracklets = [Tracklet(tuple(sorted(t.masks)), t.det_boxes, t.category_id) for t in self.tracks]
        groups = stitch_groups(tracklets, params, self.frame_hw)
        for group in groups:
            for other in group[1:]:
                self.tracks[group[0]].absorb(self.tracks[other])
        self.tracks = [self.tracks[group[0]] for group in groups]

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
        return topk_per_video(entries, topk)
