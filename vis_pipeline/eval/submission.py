"""Checking a YouTube-VIS results list against what the challenge server accepts, and zipping it.

Problems (the server rejects or mis-scores them; each broken rule is one string):

- the results are a JSON list of dicts with ``video_id``, ``category_id``, ``score``, ``segmentations``;
- every ``video_id`` is a video of the set (val/test annotation file or a plain video list);
- ``len(segmentations) == length`` of the video;
- each non-null frame is compressed RLE: ``counts`` a str, ``size == [height, width]`` of the
  original video (uncompressed RLE and polygons are rejected: the official ``loadRes`` cannot read them);
- ``category_id`` is one of the dataset's categories;
- ``score`` is a finite number (NaN breaks the evaluator's sort).

Warnings (the server accepts them, but they are usually a mistake; ``strict`` makes them problems):

- more than ``topk`` entries in a video (the server's evaluation keeps up to 100 per video; AR1/AR10
  are per video and common practice submits 10);
- a track whose segmentations are all ``null`` (it can only lower AP);
- a score outside ``score_range`` (default [0, 1]: logits or an unnormalised sum written by mistake).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import zipfile
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from vis_pipeline import categories as category_tables
from vis_pipeline.data.ytvis import YTVISAnnotations
from vis_pipeline.eval.ytvis_io import RESULT_KEYS, VideoInfo, YTVISFormatError, parse_videos, read_json


def load_video_set(
    path: str | Path | YTVISAnnotations,
) -> tuple[dict[int, VideoInfo], list[dict] | None]:
    """Videos (and categories, if present) of a YTVIS annotation file (or one already parsed) or a
    plain JSON video list."""
    if isinstance(path, YTVISAnnotations):
        categories = [{"id": c.id, "name": c.name} for c in path.categories.values()]
        return dict(path.videos), categories or None
    data, source = read_json(path, "GT/video list")
    if isinstance(data, list):
        return parse_videos(data, source), None
    if isinstance(data, dict) and "videos" in data:
        return parse_videos(data["videos"], source), data.get("categories")
    raise YTVISFormatError(f"{source}: expected a YouTube-VIS annotation file or a JSON list of videos")


def resolve_category_ids(dataset: str, gt_categories: list[dict] | None) -> set[int]:
    """Valid category ids: ``dataset`` "ytvis2019"/"ytvis2021", or "gt" = the GT file's own
    ``categories`` (ytvis2019 when the file has none)."""
    if dataset == "gt":
        if gt_categories:
            return {int(c["id"]) for c in gt_categories}
        dataset = "ytvis2019"
    return {c["id"] for c in category_tables.category_table(dataset)}


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _segmentation_problem(segmentations: list, video: VideoInfo) -> str | None:
    """First problem of one entry's segmentation list (one message per entry), or None."""
    bad_frames = []
    first = ""
    for frame, seg in enumerate(segmentations):
        if seg is None:
            continue
        problem = ""
        if not isinstance(seg, dict) or "counts" not in seg or "size" not in seg:
            problem = f"is {type(seg).__name__}, not an RLE dict (polygons are not accepted)"
        elif not isinstance(seg["counts"], str):
            problem = "counts is not a str (uncompressed RLE; compress it with pycocotools)"
        elif not isinstance(seg["size"], list) or seg["size"] != [video.height, video.width]:
            problem = f"RLE size {seg['size']} != video size [{video.height}, {video.width}]"
        if problem:
            bad_frames.append(frame)
            first = first or f"frame {frame} {problem}"
    if bad_frames:
        more = f" ({len(bad_frames)} bad frames)" if len(bad_frames) > 1 else ""
        return first + more
    return None


def check_results(
    results: Any,
    videos: dict[int, VideoInfo] | list[dict],
    categories: Iterable[int] | list[dict],
    topk: int | None,
    score_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of ``results`` (see the module docstring): problems are what the server
    rejects or mis-scores, warnings what it accepts but is suspicious.

    videos: {id: VideoInfo} or the raw ``videos`` list; categories: ids or ``{"id": ...}`` dicts;
    topk: the number of entries per video above which a video is warned about (None: no limit).
    """
    if not isinstance(results, list):
        return [f"results must be a JSON list of track dicts, got {type(results).__name__}"], []
    if isinstance(videos, list):
        videos = parse_videos(videos, "video list")
    valid_categories = {int(c["id"]) if isinstance(c, dict) else int(c) for c in categories}
    problems: list[str] = []
    warnings: list[str] = []
    per_video: Counter[int] = Counter()
    for index, entry in enumerate(results):
        if not isinstance(entry, dict) or not set(RESULT_KEYS) <= entry.keys():
            problems.append(f"result #{index}: needs keys {', '.join(RESULT_KEYS)}")
            continue
        video_id = entry["video_id"]
        where = f"result #{index} (video_id {video_id})"
        if not _is_number(video_id) or video_id not in videos:
            problems.append(f"{where}: unknown video id (not one of the {len(videos)} videos of the set)")
            continue
        video = videos[int(video_id)]
        per_video[video.video_id] += 1
        category_id = entry["category_id"]
        if not _is_number(category_id) or category_id not in valid_categories:
            problems.append(f"{where}: category_id {category_id!r} is not a category of the dataset")
        score = entry["score"]
        if not _is_number(score) or not math.isfinite(score):
            problems.append(f"{where}: score {score!r} is not a finite number")
        elif not score_range[0] <= score <= score_range[1]:
            warnings.append(f"{where}: score {score!r} outside [{score_range[0]}, {score_range[1]}]")
        segmentations = entry["segmentations"]
        if not isinstance(segmentations, list) or len(segmentations) != video.length:
            count = len(segmentations) if isinstance(segmentations, list) else type(segmentations).__name__
            problems.append(f"{where}: {count} segmentations, the video has {video.length} frames")
            continue
        if all(s is None for s in segmentations):
            warnings.append(f"{where}: every segmentation is null (an empty track)")
            continue
        problem = _segmentation_problem(segmentations, video)
        if problem:
            problems.append(f"{where}: {problem}")
    if topk is not None:
        for video_id, count in sorted(per_video.items()):
            if count > topk:
                warnings.append(f"video_id {video_id}: {count} tracks, more than topk={topk}")
    return problems, warnings


def validate_results(
    results: Any,
    videos: dict[int, VideoInfo] | list[dict],
    categories: Iterable[int] | list[dict],
    topk: int | None,
    score_range: tuple[float, float] = (0.0, 1.0),
    strict: bool = False,
) -> list[str]:
    """Every problem of :func:`check_results`, and with ``strict`` its warnings too; [] if valid."""
    problems, warnings = check_results(results, videos, categories, topk, score_range)
    return problems + warnings if strict else problems


def submission_problems(
    results: list[dict],
    gt_path: Path | str | YTVISAnnotations,
    topk: int | None = 10,
    dataset: str = "gt",
    score_range: tuple[float, float] = (0.0, 1.0),
) -> tuple[list[str], list[str]]:
    """(problems, warnings) of ``results`` for the video set of ``gt_path`` (a YouTube-VIS annotation
    file or a JSON list of videos); categories: ``dataset`` (see :func:`resolve_category_ids`)."""
    videos, categories = load_video_set(gt_path)
    return check_results(results, videos, resolve_category_ids(dataset, categories), topk, score_range)


def write_submission(results: list[dict], out_zip: str | Path) -> Path:
    """Zip ``results`` as ``results.json`` at the archive root; atomic (temp file + os.replace)."""
    out_zip = Path(out_zip)
    out_zip.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{out_zip.name}.", suffix=".tmp", dir=out_zip.parent)
    os.close(fd)
    try:
        # Byte-reproducible: a fixed timestamp and mode, one member (the same results -> the same zip).
        member = zipfile.ZipInfo("results.json", date_time=(1980, 1, 1, 0, 0, 0))
        member.compress_type = zipfile.ZIP_DEFLATED
        member.external_attr = 0o644 << 16
        with zipfile.ZipFile(tmp, "w") as archive:
            archive.writestr(member, json.dumps(results, separators=(",", ":")))
        os.replace(tmp, out_zip)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return out_zip


def read_submission(zip_path: str | Path) -> list[dict]:
    """The results list of a submission zip (``results.json`` at its root)."""
    zip_path = Path(zip_path)
    try:
        with zipfile.ZipFile(zip_path) as archive:
            if "results.json" not in archive.namelist():
                raise YTVISFormatError(
                    f"{zip_path}: no results.json at the zip root (found {archive.namelist()[:3]})"
                )
            return json.loads(archive.read("results.json"))
    except (zipfile.BadZipFile, OSError) as exc:
        raise YTVISFormatError(f"{zip_path}: unreadable zip ({exc})") from None
    except json.JSONDecodeError as exc:
        raise YTVISFormatError(f"{zip_path}: results.json is not valid JSON ({exc})") from None
