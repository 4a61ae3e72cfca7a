"""YouTube-VIS ground truth and results normalised for evaluation.

The GT is read by the project's one reader (:func:`vis_pipeline.data.load_ytvis_annotations`);
every mask, of the GT and of the results, is normalised once by
:func:`vis_pipeline.masks.normalize_segmentation` to compressed RLE with ``str`` counts
(pycocotools accepts ``str`` counts directly), whatever the file used: compressed RLE,
uncompressed RLE (``counts`` a list of ints, as in the real train.json) or polygons. Bad input
raises :class:`~vis_pipeline.data.DataError` (``YTVISFormatError`` is the same class) with one
line naming the file and the problem.

Official semantics kept here (youtubevos/cocoapi ``ytvos.py`` / ``ytvoseval.py``):

- a frame counts as absent when its segmentation is falsy (``null``, ``[]``, ``{}``);
- the GT ``avg_area`` is the mean of the *truthy* entries of the annotation's ``areas`` field
  (null and 0 skipped; 0 if none), not of the decoded masks; a GT without ``areas`` falls back
  to the mask areas (the official code would crash);
- a result's ``avg_area`` is the mean of its non-zero mask areas (empty masks are skipped);
- result ids are 1 + the index in the results list (file order breaks score ties).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.ytvis import (
    VideoInfo,
    YTVISAnnotations,
    as_int,
    load_ytvis_annotations,
    parse_videos,
    read_json_source,
)
from vis_pipeline.masks import RLE, SegmentationError, normalize_segmentation

RESULT_KEYS = ("video_id", "category_id", "score", "segmentations")

#: The evaluation's error type is the data layer's (one error type for the same problems).
YTVISFormatError = DataError

__all__ = [
    "RESULT_KEYS",
    "GroundTruth",
    "TrackMasks",
    "VideoInfo",
    "YTVISFormatError",
    "gt_to_results",
    "load_ground_truth",
    "load_results",
    "parse_videos",
    "read_json",
]


@dataclass
class TrackMasks:
    """One GT or predicted track with normalised masks.

    masks:    ``length`` entries, compressed RLE (str counts, size [H, W]) or None (absent frame)
    areas:    ``length`` entries, pixel count of each mask or None
    avg_area: area used for the area ranges (see module docstring)
    """

    track_id: int
    video_id: int
    category_id: int
    masks: list[RLE | None]
    areas: list[int | None]
    avg_area: float
    score: float = 1.0
    iscrowd: bool = False


@dataclass
class GroundTruth:
    """A YouTube-VIS annotation file, normalised. ``categories`` sorted by id."""

    source: str
    videos: dict[int, VideoInfo]
    categories: list[dict] = field(default_factory=list)
    tracks: list[TrackMasks] = field(default_factory=list)


def read_json(source: str | Path | Any, what: str) -> tuple[Any, str]:
    """Load JSON from a path, or pass an already-loaded object through; returns (data, label)."""
    data, label, _ = read_json_source(source, what)
    return data, label


def _track_masks(raw: list, video: VideoInfo, where: str) -> tuple[list[RLE | None], list[int | None]]:
    masks: list[RLE | None] = []
    for frame, segmentation in enumerate(raw):
        try:
            masks.append(normalize_segmentation(segmentation, video.height, video.width))
        except SegmentationError as exc:
            raise DataError(f"{where} frame {frame}: {exc}") from None
    present = [m for m in masks if m is not None]
    present_areas = iter(int(a) for a in mask_utils.area(present)) if present else iter(())
    areas = [next(present_areas) if m is not None else None for m in masks]
    return masks, areas


def _mean_truthy(values: list[Any]) -> float:
    """Mean of the truthy entries (null and 0 skipped), 0.0 if none: the official ``avg_area``."""
    kept = [float(v) for v in values if v]
    return sum(kept) / len(kept) if kept else 0.0


def load_ground_truth(gt: str | Path | dict | YTVISAnnotations) -> GroundTruth:
    """Read a YouTube-VIS annotation file (path, loaded dict or parsed annotations) and normalise
    its masks. Videos recorded as broken by a non-strict read are not part of it."""
    annotations = load_ytvis_annotations(gt)
    source = annotations.source
    categories = [
        {"id": c.id, "name": c.name} for c in sorted(annotations.categories.values(), key=lambda c: c.id)
    ]
    tracks = []
    for track in annotations.tracks:
        video = annotations.videos[track.video_id]
        where = f"{source}: annotation {track.track_id} of video {track.video_id}"
        masks, areas = _track_masks(track.segmentations, video, where)
        avg_area = _mean_truthy(track.areas) if isinstance(track.areas, list) else _mean_truthy(areas)
        tracks.append(
            TrackMasks(
                track_id=track.track_id,
                video_id=track.video_id,
                category_id=track.category_id,
                masks=masks,
                areas=areas,
                avg_area=avg_area,
                iscrowd=bool(track.iscrowd),
            )
        )
    if not categories:  # no category list (the official code would crash): use the annotated ids
        categories = [{"id": c, "name": str(c)} for c in sorted({t.category_id for t in tracks})]
    return GroundTruth(source=source, videos=dict(annotations.videos), categories=categories, tracks=tracks)


def load_results(results: str | Path | list, videos: dict[int, VideoInfo]) -> list[TrackMasks]:
    """Read a results list (path or loaded list), check it against ``videos``, normalise masks.

    Raises :class:`YTVISFormatError` for: not a list, missing keys, an unknown video id, a
    non-finite score, a segmentation count != video length, an RLE of the wrong size.
    """
    data, source = read_json(results, "results")
    if not isinstance(data, list):
        raise YTVISFormatError(f"{source}: results must be a JSON list, got {type(data).__name__}")
    tracks = []
    for index, entry in enumerate(data):
        where = f"{source}: result #{index}"
        if not isinstance(entry, dict) or not set(RESULT_KEYS) <= entry.keys():
            raise YTVISFormatError(f"{where}: needs keys {', '.join(RESULT_KEYS)}")
        video_id = as_int(entry["video_id"], where, "video_id")
        if video_id not in videos:
            raise YTVISFormatError(
                f"{where}: unknown video_id {video_id} (not in the GT's {len(videos)} videos)"
            )
        where = f"{where} (video_id {video_id})"
        score = entry["score"]
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not math.isfinite(score):
            raise YTVISFormatError(f"{where}: score must be a finite number, got {score!r}")
        video = videos[video_id]
        segmentations = entry["segmentations"]
        if not isinstance(segmentations, list) or len(segmentations) != video.length:
            n = len(segmentations) if isinstance(segmentations, list) else "no"
            raise YTVISFormatError(f"{where}: {n} segmentations for a video of length {video.length}")
        masks, areas = _track_masks(segmentations, video, where)
        tracks.append(
            TrackMasks(
                track_id=index + 1,
                video_id=video_id,
                category_id=as_int(entry["category_id"], where, "category_id"),
                masks=masks,
                areas=areas,
                avg_area=_mean_truthy(areas),
                score=float(score),
            )
        )
    return tracks


def gt_to_results(gt: str | Path | dict) -> list[dict]:
    """One result per non-crowd GT track (score 1.0, compressed RLE): scores AP = 1.0 on its GT."""
    ground_truth = load_ground_truth(gt)
    return [
        {"video_id": t.video_id, "category_id": t.category_id, "score": 1.0, "segmentations": t.masks}
        for t in ground_truth.tracks
        if not t.iscrowd
    ]
