"""Track lifecycle: a small state machine per track plus the bookkeeping of its outputs.

States (ByteTrack-style): ``TRACKED`` (matched to a detection on its latest frame),
``LOST`` (unmatched for 1..max_lost frames; SiamMask keeps searching for it) and
``REMOVED`` (dead: no more tracking, no more output).

Output masks of unmatched frames are kept *pending*: they are committed when the track is
matched again (the object was occluded or missed by the detector and SiamMask bridged the
gap) and dropped when the track dies (SiamMask was drifting on background after the object
left). Memory per track is bounded by its number of output frames, stored as RLE.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from vis_pipeline.masks import RLE, rle_to_box_xywh
from vis_pipeline.track.association import AssociationConfig, moved_mask

#: The former name of :class:`~vis_pipeline.track.association.AssociationConfig`.
LifecycleConfig = AssociationConfig


def box_centre(box_xywh: np.ndarray) -> np.ndarray:
    """(2,) centre of an (x, y, w, h) box."""
    return np.asarray(box_xywh[:2], dtype=np.float64) + np.asarray(box_xywh[2:], dtype=np.float64) / 2


def velocity_over(boxes: dict[int, np.ndarray], frames: list[int]) -> np.ndarray:
    """(2,) mean box-centre motion in px per frame from the first to the last of ``frames`` (sorted
    keys of ``boxes``: frame -> xywh); 0 for fewer than two frames."""
    if len(frames) < 2:
        return np.zeros(2)
    return (box_centre(boxes[frames[-1]]) - box_centre(boxes[frames[0]])) / (frames[-1] - frames[0])


class TrackState(Enum):
    TRACKED = "tracked"
    LOST = "lost"
    REMOVED = "removed"


@dataclass
class Track:
    """One object hypothesis of a video. ``tracker_state`` is the SiamMask per-track state."""

    track_id: int
    start_frame: int
    tracker_state: object | None  # opaque: owned by the single-object tracker, only handed back to it
    state: TrackState = TrackState.TRACKED
    lost_frames: int = 0
    label_votes: dict[int, float] = field(default_factory=dict)
    det_scores: list[float] = field(default_factory=list)
    masks: dict[int, RLE] = field(default_factory=dict)
    pending: dict[int, RLE] = field(default_factory=dict)
    # frame -> (4,) float64 xywh of the detection matched there (motion term, stitching)
    det_boxes: dict[int, np.ndarray] = field(default_factory=dict)
    # frame -> SiamMask's mask tracked backwards from the birth (backfill_frames; committed after stitching)
    backfill: dict[int, RLE] = field(default_factory=dict)

    @property
    def is_alive(self) -> bool:
        return self.state is not TrackState.REMOVED

    last_det_mask: RLE | None = None

    @property
    def last_mask(self) -> RLE | None:
        """The output mask of the track's last matched frame (pending gap masks may be drift: not used)."""
        return self.masks[max(self.masks)] if self.masks else None

    def velocity(self, window: int) -> np.ndarray:
        """(2,) box-centre px per frame over the last ``window`` matched frames (:func:`velocity_over`)."""
        return velocity_over(self.det_boxes, sorted(self.det_boxes)[-window:])

    def motion_mask(self, frame_idx: int, window: int) -> RLE | None:
        """Where the object should be on ``frame_idx`` if it kept its velocity: the last matched
        detection's mask moved accordingly (None before the first match)."""
        if self.last_det_mask is None or not self.det_boxes:
            return None
        elapsed = frame_idx - max(self.det_boxes)
        return moved_mask(self.last_det_mask, self.velocity(window) * elapsed)

    @property
    def hits(self) -> int:
        return len(self.det_scores)

    @property
    def category_id(self) -> int:
        """Score-weighted vote over the matched detections' labels (ties: smallest id)."""
        if not self.label_votes:
            return -1
        return min(self.label_votes, key=lambda label: (-self.label_votes[label], label))

    def score(self, full_score_hits: int) -> float:
        """Mean matched detection score times a length factor ``min(1, hits / full_score_hits)``.

        The length factor ranks short-lived (often spurious) tracks below long ones of equal
        detection confidence, which is what the per-video top-k and AR1/AR10 reward.
        """
        if not self.det_scores:
            return 0.0
        mean_score = sum(self.det_scores) / len(self.det_scores)
        return mean_score * min(1.0, len(self.det_scores) / full_score_hits)

    def mark_matched(
        self, frame_idx: int, mask: RLE, det_score: float, det_label: int, det_mask: RLE | None = None
    ) -> None:
        """Matched on ``frame_idx``: commit pending gap frames, record the detection's vote (and its
        mask, ``det_mask``, where the object was last seen by the detector)."""
        self.last_det_mask = det_mask if det_mask is not None else mask
        self.det_boxes[frame_idx] = np.asarray(rle_to_box_xywh(self.last_det_mask), dtype=np.float64)
        self.masks.update(self.pending)
        self.pending.clear()
        self.masks[frame_idx] = mask
        self.det_scores.append(float(det_score))
        self.label_votes[int(det_label)] = self.label_votes.get(int(det_label), 0.0) + float(det_score)
        self.state = TrackState.TRACKED
        self.lost_frames = 0

    def mark_recovered(
        self, frame_idx: int, mask: RLE, det_score: float, det_label: int, det_mask: RLE | None = None
    ) -> None:
        """Re-linked to a detection after SiamMask had lost it: the pending gap frames were SiamMask's
        output while it was lost (likely drift), so they are dropped (null), not committed."""
        self.pending.clear()
        self.mark_matched(frame_idx, mask, det_score, det_label, det_mask)

    def mark_unmatched(self, frame_idx: int, mask: RLE | None, max_lost: int, tail_frames: int = 0) -> None:
        """Unmatched on ``frame_idx``: keep SiamMask's mask pending; die after ``max_lost`` frames."""
        if mask is not None:
            self.pending[frame_idx] = mask
        self.lost_frames += 1
        self.state = TrackState.LOST
        if self.lost_frames > max_lost:
            self.mark_removed(tail_frames)

    def commit_backfill(self) -> None:
        """Output the backward pass's masks on the frames before the track's first frame."""
        if self.masks:
            first = min(self.masks)
            self.masks.update({f: m for f, m in self.backfill.items() if f < first})
        self.backfill.clear()

    def mark_coasted(self, frame_idx: int, mask: RLE) -> None:
        """A frame without detector output (``detect_every``): SiamMask's mask is the track's output
        if the track is tracked, pending (kept only if matched again) if it is lost."""
        if self.state is TrackState.TRACKED:
            self.masks[frame_idx] = mask
        else:
            self.pending[frame_idx] = mask

    def absorb(self, other: Track) -> None:
        """Take over a dead track that is the same object on other frames (tracklet stitching): its
        frames, detection votes and scores become this track's."""
        if self.is_alive or other.is_alive or set(self.masks) & set(other.masks):
            raise ValueError(f"tracks {self.track_id} and {other.track_id} cannot be merged")
        self.masks.update(other.masks)
        self.det_boxes.update(other.det_boxes)
        self.det_scores.extend(other.det_scores)
        for label, votes in other.label_votes.items():
            self.label_votes[label] = self.label_votes.get(label, 0.0) + votes

    def mark_removed(self, tail_frames: int = 0) -> None:
        """Dead: drop the uncommitted gap (it was drift, not the object) and stop tracking; with
        ``tail_frames`` the first that many pending frames right after the last match are kept (the
        object was still there and the detector missed it as it left or the video ended)."""
        if tail_frames and self.masks:
            last = max(self.masks)
            for frame in range(last + 1, last + 1 + tail_frames):
                if frame not in self.pending:
                    break
                self.masks[frame] = self.pending[frame]
        self.pending.clear()
        self.tracker_state = None
        self.state = TrackState.REMOVED
