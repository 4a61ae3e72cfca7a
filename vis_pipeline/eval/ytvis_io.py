"""Reading and checking YouTube-VIS ground truth and results for evaluation.

Every mask is normalised once to compressed RLE with ``str`` counts (pycocotools accepts
``str`` counts directly), whatever the file used: compressed RLE, uncompressed RLE (``counts``
a list of ints, as in the real train.json) or polygons. Bad input raises
:class:`YTVISFormatError` with one line naming the file and the problem.

Official semantics kept here (youtubevos/cocoapi ``ytvos.py`` / ``ytvoseval.py``):

- a frame counts as absent when its segmentation is falsy (``null``, ``[]``, ``{}``);
- the GT ``avg_area`` is the mean of the *truthy* entries of the annotation's ``areas`` field
  (null and 0 skipped; 0 if none), not of the decoded masks; a GT without ``areas`` falls back
  to the mask areas (the official code would crash);
- a result's ``avg_area`` is the mean of its non-zero mask areas (empty masks are skipped);
- result ids are 1 + the index in the results list (file order breaks score ties).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pycocotools import mask as mask_utils

from vis_pipeline.masks import RLE

RESULT_KEYS = ("video_id", "category_id", "score", "segmentations")


class YTVISFormatError(ValueError):
    """A GT or results file that cannot be evaluated; the message is one line naming the file."""


@dataclass(frozen=True)
class VideoInfo:
    """One video of the GT: frame size (pixels) and number of (annotated) frames."""

    video_id: int
    height: int
    width: int
    length: int


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
    if not isinstance(source, (str, Path)):
        return source, f"<{what} object>"
    path = Path(source)
    if not path.is_file():
        raise YTVISFormatError(f"{path}: {what} file not found")
    try:
        return json.loads(path.read_text()), str(path)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise YTVISFormatError(f"{path}: not valid JSON ({exc})") from None


def _as_int(value: Any, where: str, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
        raise YTVISFormatError(f"{where}: {what} must be an integer, got {value!r}")
    return int(value)


def parse_videos(raw_videos: Any, source: str) -> dict[int, VideoInfo]:
    """``videos`` list (dicts with id, height, width and length or file_names) -> {id: VideoInfo}."""
    if not isinstance(raw_videos, list):
        raise YTVISFormatError(f"{source}: 'videos' must be a list of video dicts")
    videos: dict[int, VideoInfo] = {}
    for index, video in enumerate(raw_videos):
        where = f"{source}: video #{index}"
        if not isinstance(video, dict) or not {"id", "height", "width"} <= video.keys():
            raise YTVISFormatError(f"{where}: needs keys id, height, width (and length or file_names)")
        if "length" in video:
            length = _as_int(video["length"], where, "length")
        elif isinstance(video.get("file_names"), list):
            length = len(video["file_names"])
        else:
            raise YTVISFormatError(f"{where}: has neither 'length' nor 'file_names'")
        video_id = _as_int(video["id"], where, "id")
        if video_id in videos:
            raise YTVISFormatError(f"{where}: duplicate video id {video_id}")
        videos[video_id] = VideoInfo(
            video_id,
            _as_int(video["height"], where, "height"),
            _as_int(video["width"], where, "width"),
            length,
        )
    return videos


def normalize_segmentation(segmentation: Any, video: VideoInfo, where: str) -> RLE | None:
    """One frame's segmentation -> compressed RLE (str counts) of size [H, W], or None if absent."""
    if not segmentation:  # null, [] and {} are absent frames, as in the official `if seg:`
        return None
    height, width = video.height, video.width
    try:
        if isinstance(segmentation, list):  # polygons: a list of flat [x0, y0, x1, y1, ...] lists
            if not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation):
                raise YTVISFormatError(f"{where}: polygons must be lists of >= 3 (x, y) pairs")
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
            size = [int(v) for v in segmentation["size"]]
            if size != [height, width]:
                raise YTVISFormatError(f"{where}: RLE size {size} != video size [{height}, {width}]")
            counts = segmentation["counts"]
            if isinstance(counts, list):  # uncompressed RLE
                if sum(counts) != height * width:
                    raise YTVISFormatError(
                        f"{where}: uncompressed RLE counts sum to {sum(counts)}, expected {height * width}"
                    )
                rle = mask_utils.frPyObjects(segmentation, height, width)
            elif isinstance(counts, (str, bytes)):
                rle = {"size": size, "counts": counts}
            else:
                raise YTVISFormatError(f"{where}: RLE counts must be a string or a list of ints")
        else:
            raise YTVISFormatError(
                f"{where}: segmentation must be null, RLE or polygons, got {type(segmentation).__name__}"
            )
    except (TypeError, ValueError) as exc:
        if isinstance(exc, YTVISFormatError):
            raise
        raise YTVISFormatError(f"{where}: unreadable segmentation ({exc})") from None
    counts = rle["counts"]
    return {
        "size": [height, width],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def _track_masks(raw: list, video: VideoInfo, where: str) -> tuple[list[RLE | None], list[int | None]]:
    masks = [normalize_segmentation(s, video, f"{where} frame {t}") for t, s in enumerate(raw)]
    present = [m for m in masks if m is not None]
    present_areas = iter(int(a) for a in mask_utils.area(present)) if present else iter(())
    areas = [next(present_areas) if m is not None else None for m in masks]
    return masks, areas


def _mean_truthy(values: list[Any]) -> float:
    """Mean of the truthy entries (null and 0 skipped), 0.0 if none: the official ``avg_area``."""
    kept = [float(v) for v in values if v]
    return sum(kept) / len(kept) if kept else 0.0


def load_ground_truth(gt: str | Path | dict) -> GroundTruth:
    """Read a YouTube-VIS annotation file (path or loaded dict) and normalise its masks."""
    data, source = read_json(gt, "GT")
    if not isinstance(data, dict) or "videos" not in data:
        raise YTVISFormatError(f"{source}: not a YouTube-VIS annotation file (no 'videos' key)")
    videos = parse_videos(data["videos"], source)
    categories = []
    for index, cat in enumerate(data.get("categories") or []):
        if not isinstance(cat, dict) or "id" not in cat:
            raise YTVISFormatError(f"{source}: category #{index} has no 'id'")
        cat_id = _as_int(cat["id"], f"{source}: category #{index}", "id")
        categories.append({"id": cat_id, "name": str(cat.get("name", cat_id))})
    categories.sort(key=lambda c: c["id"])
    tracks = []
    for index, ann in enumerate(data.get("annotations") or []):
        where = f"{source}: annotation #{index}"
        if not isinstance(ann, dict) or not {"id", "video_id", "category_id", "segmentations"} <= ann.keys():
            raise YTVISFormatError(f"{where}: needs keys id, video_id, category_id, segmentations")
        video_id = _as_int(ann["video_id"], where, "video_id")
        if video_id not in videos:
            raise YTVISFormatError(f"{where}: unknown video_id {video_id}")
        video = videos[video_id]
        if not isinstance(ann["segmentations"], list) or len(ann["segmentations"]) != video.length:
            n = len(ann["segmentations"]) if isinstance(ann["segmentations"], list) else "no"
            raise YTVISFormatError(f"{where}: {n} segmentations for a video of length {video.length}")
        masks, areas = _track_masks(ann["segmentations"], video, where)
        avg_area = _mean_truthy(ann["areas"]) if isinstance(ann.get("areas"), list) else _mean_truthy(areas)
        tracks.append(
            TrackMasks(
                track_id=_as_int(ann["id"], where, "id"),
                video_id=video_id,
                category_id=_as_int(ann["category_id"], where, "category_id"),
                masks=masks,
                areas=areas,
                avg_area=avg_area,
                iscrowd=bool(ann.get("iscrowd", 0)),
            )
        )
    if not categories:  # no category list (the official code would crash): use the annotated ids
        categories = [{"id": c, "name": str(c)} for c in sorted({t.category_id for t in tracks})]
    return GroundTruth(source=source, videos=videos, categories=categories, tracks=tracks)


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
        video_id = _as_int(entry["video_id"], where, "video_id")
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
                category_id=_as_int(entry["category_id"], where, "category_id"),
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
