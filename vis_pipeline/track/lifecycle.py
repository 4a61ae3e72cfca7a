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

from vis_pipeline.masks import RLE
from vis_pipeline.track.association import AssociationConfig

#: The former name of :class:`~vis_pipeline.track.association.AssociationConfig`.
LifecycleConfig = AssociationConfig


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

    @property
    def is_alive(self) -> bool:
        return self.state is not TrackState.REMOVED

    last_det_mask: RLE | None = None

    @property
    def last_mask(self) -> RLE | None:
        """The output mask of the track's last matched frame (pending gap masks may be drift: not used)."""
        return self.masks[max(self.masks)] if self.masks else None

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

    def mark_unmatched(self, frame_idx: int, mask: RLE | None, max_lost: int) -> None:
        """Unmatched on ``frame_idx``: keep SiamMask's mask pending; die after ``max_lost`` frames."""
        if mask is not None:
            self.pending[frame_idx] = mask
        self.lost_frames += 1
        self.state = TrackState.LOST
        if self.lost_frames > max_lost:
            self.mark_removed()

    def mark_removed(self) -> None:
        """Dead: drop the uncommitted gap (it was drift, not the object) and stop tracking."""
        self.pending.clear()
        self.tracker_state = None
        self.state = TrackState.REMOVED
