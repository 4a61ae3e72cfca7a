"""Offline tracklet stitching: after the online pass, join tracks that are one object seen twice.

The online pass fragments an object whenever it loses it for longer than ``max_lost`` frames or
SiamMask misses it right after a birth (a pole hides it, it leaves the frame and comes back): a
new track is born and the object ends up split into tracks that never share a frame. YouTube-VIS
scores whole tracks (one spatio-temporal IoU per track), so every fragment costs AP.

Two tracks of the same category may merge when they share no frame and one lies after the other
or inside one of its gaps, each gap at most ``max_gap`` frames. Every *junction* (where one piece
ends and the other begins) must be plausible: its affinity is a centre distance in units of the
object's size (the larger of the two tracks' median box sizes: the boxes at a junction are often
slivers, half behind a pole or the frame edge), falling to 0 at ``radius``:

- motion: the box before the junction moved forward at its velocity to the first frame after it,
  and that box moved backward at its own velocity to the frame before, the mean of the two errors
  (an object that passed behind an occluder);
- return: when the piece before went out of the frame and the piece after came from outside it,
  the distance between the two boxes (an object that left the frame and came back: extrapolating
  its motion over the time it was outside says nothing), in units of ``radius`` sizes plus the
  distance its speed could take it while outside.

The pair with the highest affinity (the minimum over its junctions) is merged first, then the
affinities are recomputed, until none reaches ``min_affinity``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from vis_pipeline.track.lifecycle import box_centre, velocity_over


@dataclass(frozen=True)
class StitchParams:
    """``stitch_*`` / ``velocity_window`` of :class:`~vis_pipeline.track.association.AssociationConfig`."""

    max_gap: int
    radius: float
    min_affinity: float
    window: int


@dataclass(frozen=True)
class Tracklet:
    """What stitching needs of one finished track.

    frames:   sorted frames with an output mask
    boxes:    frame -> (4,) float64 xywh of the detection matched there (matched frames only)
    category: the track's (voted) category
    """

    frames: tuple[int, ...]
    boxes: dict[int, np.ndarray]
    category: int

    @property
    def size(self) -> float:
        """Median sqrt(w * h) of the matched boxes (px)."""
        boxes = np.array(list(self.boxes.values()))
        return float(np.median(np.sqrt(np.maximum(boxes[:, 2] * boxes[:, 3], 1.0))))

    def merged(self, other: Tracklet) -> Tracklet:
        return Tracklet(
            tuple(sorted(self.frames + other.frames)), {**self.boxes, **other.boxes}, self.category
        )


def at_border(box_xywh: np.ndarray, frame_hw: tuple[int, int]) -> bool:
    """The box touches (within a pixel) an edge of a frame of ``frame_hw`` (height, width)."""
    x, y, w, h = (float(v) for v in box_xywh)
    height, width = frame_hw
    return x <= 1 or y <= 1 or x + w >= width - 1 or y + h >= height - 1


def _moved(box_xywh: np.ndarray, offset_xy: np.ndarray) -> np.ndarray:
    return np.concatenate([box_xywh[:2] + offset_xy, box_xywh[2:]])


def junction_affinity(
    before: Tracklet, after: Tracklet, end: int, start: int, params: StitchParams, frame_hw: tuple[int, int]
) -> float:
    """Affinity of ``after`` continuing ``before`` from ``before``'s matched frames up to ``end`` to
    ``after``'s from ``start`` on (0 when either side has no matched frame there)."""
    ends = [f for f in sorted(before.boxes) if f <= end][-params.window :]
    starts = [f for f in sorted(after.boxes) if f >= start][: params.window]
    if not ends or not starts:
        return 0.0
    end_box, start_box = before.boxes[ends[-1]], after.boxes[starts[0]]
    v_end, v_start = velocity_over(before.boxes, ends), velocity_over(after.boxes, starts)
    elapsed = starts[0] - ends[-1]
    forward = np.linalg.norm(box_centre(_moved(end_box, v_end * elapsed)) - box_centre(start_box))
    backward = np.linalg.norm(box_centre(_moved(start_box, -v_start * elapsed)) - box_centre(end_box))
    scale = params.radius * max(before.size, after.size)
    affinity = 1.0 - (forward + backward) / 2 / scale
    if at_border(_moved(end_box, v_end), frame_hw) and at_border(_moved(start_box, -v_start), frame_hw):
        # outside the frame it may have moved anywhere its speed took it (along the edge)
        reach = scale + max(np.linalg.norm(v_end), np.linalg.norm(v_start)) * elapsed
        affinity = max(affinity, 1.0 - np.linalg.norm(box_centre(start_box) - box_centre(end_box)) / reach)
    return max(0.0, float(affinity))


def pair_affinity(a: Tracklet, b: Tracklet, params: StitchParams, frame_hw: tuple[int, int]) -> float:
    """Affinity of merging ``a`` and ``b`` (``a`` starts first): the minimum over the junctions, 0
    when the merge is not allowed (category, shared frame, interleaving, a gap over ``max_gap``)."""
    if a.category != b.category or not a.boxes or not b.boxes:
        return 0.0
    a_frames = np.array(a.frames)
    if np.any((a_frames >= b.frames[0]) & (a_frames <= b.frames[-1])):
        return 0.0  # shared frame, or b is not inside one gap of a
    before = a_frames[a_frames < b.frames[0]].max()
    after = a_frames[a_frames > b.frames[-1]]
    junctions = [(a, b, int(before), b.frames[0])]
    if len(after):
        junctions.append((b, a, b.frames[-1], int(after.min())))
    if any(start - end > params.max_gap for _, _, end, start in junctions):
        return 0.0
    return min(junction_affinity(x, y, end, start, params, frame_hw) for x, y, end, start in junctions)


def stitch_groups(
    tracklets: list[Tracklet], params: StitchParams, frame_hw: tuple[int, int]
) -> list[list[int]]:
    """Groups of tracklet indices that are one object (greedy: best pair first, then re-scored);
    every index appears in exactly one group, groups sorted by their first index."""
    groups = {i: [i] for i in range(len(tracklets))}
    merged = {i: t for i, t in enumerate(tracklets) if t.frames}
    while True:
        best, pair = params.min_affinity, None
        for i in merged:
            for j in merged:
                if i != j and merged[i].frames[0] <= merged[j].frames[0]:
                    affinity = pair_affinity(merged[i], merged[j], params, frame_hw)
                    if affinity >= best and (pair is None or affinity > best):
                        best, pair = affinity, (i, j)
        if pair is None:
            return sorted(sorted(g) for g in groups.values())
        keep, gone = sorted(pair)
        merged[keep] = merged[keep].merged(merged.pop(gone))
        groups[keep] += groups.pop(gone)
