"""Building and writing YouTube-VIS results files.

This module owns the results list: one entry per track (:func:`track_result`), the best
``topk`` per video (:func:`topk_per_video`), the order of a whole run (:func:`merge_results`: by
video id, then score) and the file (:func:`write_results_json`), for ``vis-run`` and ``vis-merge``
alike.

A results file is a JSON list with one entry per predicted track::

    {"video_id": int, "category_id": int, "score": float,
     "segmentations": [RLE | null, ...]}   # one entry per frame, null where the track is absent

RLEs are compressed (``counts`` a str) at the video's *original* resolution: the challenge
server rejects anything else, and masks at the resized test scale score near zero.
"""

from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from vis_pipeline.fileio import atomic_write_text, dump_json
from vis_pipeline.masks import RLE, to_compressed_rle


class ResultsError(ValueError):
    """A track or results list that cannot be written as YouTube-VIS results."""


def track_result(
    video_id: int,
    category_id: int,
    score: float,
    per_frame_rles: list[RLE | None],
    expected_size: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """One results entry. ``per_frame_rles`` has one RLE (any COCO RLE form, size [H, W]) or None
    per frame of the video; all masks must share one size, ``expected_size`` (H, W) if given."""
    if not math.isfinite(float(score)):
        raise ResultsError(f"track of video {video_id}: score {score!r} is not finite")
    segmentations: list[RLE | None] = []
    sizes = set()
    for frame, rle in enumerate(per_frame_rles):
        if rle is None:
            segmentations.append(None)
            continue
        if not isinstance(rle, dict) or "size" not in rle or "counts" not in rle:
            raise ResultsError(
                f"track of video {video_id}: frame {frame} is not an RLE dict with size and counts"
            )
        height, width = (int(v) for v in rle["size"])
        sizes.add((height, width))
        if expected_size is not None and (height, width) != tuple(expected_size):
            raise ResultsError(
                f"track of video {video_id}: frame {frame} mask is {height}x{width}, "
                f"expected the original size {expected_size[0]}x{expected_size[1]}"
            )
        segmentations.append(to_compressed_rle(rle, height, width))
    if len(sizes) > 1:
        raise ResultsError(f"track of video {video_id}: masks of different sizes {sorted(sizes)}")
    return {
        "video_id": int(video_id),
        "category_id": int(category_id),
        "score": float(score),
        "segmentations": segmentations,
    }


def _order_key(entry: dict[str, Any]) -> tuple[int, float]:
    return int(entry["video_id"]), -float(entry["score"])


def topk_per_video(results: list[dict[str, Any]], k: int = 10) -> list[dict[str, Any]]:
    """The ``k`` best-scored entries of each video, ordered by video id then score (descending).
    The sort is stable, so equal scores keep their input order (the evaluator's tie order)."""
    if k < 0:
        raise ResultsError(f"topk must be >= 0, got {k}")
    by_video: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for entry in sorted(results, key=_order_key):
        if len(by_video[int(entry["video_id"])]) < k:
            by_video[int(entry["video_id"])].append(entry)
    return [entry for video_id in sorted(by_video) for entry in by_video[video_id]]


def merge_results(per_video_results: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Concatenate per-video lists, sorted by video id then score descending (stable)."""
    return sorted((entry for entries in per_video_results for entry in entries), key=_order_key)


def write_results_json(results: list[dict[str, Any]], path: str | Path) -> Path:
    """Write the results list atomically (temp file + os.replace): readers never see half a file.
    Deterministic bytes (sorted keys, compact): identical runs give identical files."""
    path = Path(path)
    atomic_write_text(path, dump_json(results))
    return path
