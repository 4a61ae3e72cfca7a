"""Readers for the training annotations: YouTube-VIS-format videos and COCO-format images.

Both are turned into a flat list of :class:`ObjectTrack` (one object, the frames where it is annotated).
A COCO instance is a one-frame track, so the pair sampler uses the same image as exemplar and search.
Segmentations are kept as given (compressed / uncompressed RLE or polygons) and decoded on demand.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils


class AnnotationError(ValueError):
    """A training annotation file is missing or malformed (the message names the file and the problem)."""


@dataclass
class ObjectTrack:
    """One object with its annotated frames (only frames where it is present).

    image_paths[k], frame_indices[k], boxes_xywh[k] (x, y, w, h in pixels) and segmentations[k]
    describe the k-th annotated frame; frame_indices are positions in the video (for the frame gap).
    video_frames: every frame of the video and absent_frames: the positions where the object has no
    segmentation (hidden or out of view), for pairs that search a frame without it (empty for COCO).
    """

    image_paths: list[Path]
    frame_indices: list[int]
    boxes_xywh: list[tuple[float, float, float, float]]
    segmentations: list[Any]
    height: int
    width: int
    scene: str = ""  # video (or COCO image) the object lives in: its other objects are its distractors
    category: int = 0
    video_frames: tuple[Path, ...] = ()
    absent_frames: tuple[int, ...] = ()


def _compressed_rle(segmentation: Any, height: int, width: int) -> dict[str, Any]:
    """Any COCO/YouTube-VIS segmentation (RLE with str/bytes/list counts, or polygons) as one
    compressed RLE, without decoding the mask; anything else is a one-line AnnotationError."""
    if isinstance(segmentation, list):
        return mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        return mask_utils.frPyObjects(segmentation, height, width)
    if isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        counts = segmentation["counts"]
        return {
            "size": list(segmentation["size"]),
            "counts": counts.encode() if isinstance(counts, str) else counts,
        }
    raise AnnotationError(f"unsupported segmentation of type {type(segmentation).__name__}")


def decode_segmentation(segmentation: Any, height: int, width: int) -> np.ndarray:
    """Decode any COCO/YouTube-VIS segmentation to a bool (height, width) mask."""
    rle = _compressed_rle(segmentation, height, width)
    return mask_utils.decode([rle])[:, :, 0].astype(bool)  # list form: no numpy-2 copy warning


def _segmentation_box(segmentation: Any, height: int, width: int) -> tuple[float, float, float, float]:
    """Tight (x, y, w, h) box of a segmentation, computed on the RLE without decoding the mask."""
    x, y, w, h = (float(v) for v in mask_utils.toBbox(_compressed_rle(segmentation, height, width)))
    return x, y, w, h


def segmentation_area(segmentation: Any, height: int, width: int) -> float:
    """Visible area in pixels of a segmentation, counted on the RLE without decoding the mask."""
    return float(mask_utils.area(_compressed_rle(segmentation, height, width)))


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise AnnotationError(f"{path}: annotation file not found")
    try:
        with path.open() as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise AnnotationError(f"{path}: not valid JSON ({error.msg}, line {error.lineno})") from None
    if not isinstance(data, dict):
        raise AnnotationError(f"{path}: expected a JSON object at the top level")
    return data


def _require(record: dict[str, Any], keys: tuple[str, ...], path: Path, what: str) -> None:
    missing = [key for key in keys if key not in record]
    if missing:
        raise AnnotationError(f"{path}: {what} lacks {', '.join(repr(k) for k in missing)}")


def load_ytvis_tracks(ann_path: str | Path, frames_dir: str | Path, min_box_size: float) -> list[ObjectTrack]:
    """Object tracks of a YouTube-VIS-format annotation file (``videos`` + per-track ``segmentations``).

    Frames are ``frames_dir / video['file_names'][t]``. Frames where the object is null or its box is
    smaller than ``min_box_size`` pixels on a side are dropped; tracks with no frame left are dropped.
    """
    ann_path, frames_dir = Path(ann_path), Path(frames_dir)
    data = _read_json(ann_path)
    _require(data, ("videos", "annotations"), ann_path, "the file")
    videos: dict[int, dict[str, Any]] = {}
    for video in data["videos"]:
        _require(video, ("id", "width", "height", "file_names"), ann_path, f"video {video.get('id')}")
        videos[video["id"]] = video
    tracks: list[ObjectTrack] = []
    for ann in data["annotations"]:
        _require(ann, ("id", "video_id", "segmentations"), ann_path, f"annotation {ann.get('id')}")
        video = videos.get(ann["video_id"])
        if video is None:
            raise AnnotationError(
                f"{ann_path}: annotation {ann['id']} refers to unknown video {ann['video_id']}"
            )
        if len(ann["segmentations"]) != len(video["file_names"]):
            raise AnnotationError(
                f"{ann_path}: annotation {ann['id']} has {len(ann['segmentations'])} segmentations "
                f"for {len(video['file_names'])} frames"
            )
        if ann.get("iscrowd", 0):
            continue
        height, width = int(video["height"]), int(video["width"])
        boxes = ann.get("bboxes") or [None] * len(ann["segmentations"])
        track = ObjectTrack(
            [],
            [],
            [],
            [],
            height,
            width,
            f"{ann_path}:{video['id']}",
            int(ann.get("category_id", 0)),
            tuple(frames_dir / name for name in video["file_names"]),
            tuple(t for t, segmentation in enumerate(ann["segmentations"]) if segmentation is None),
        )
        for t, segmentation in enumerate(ann["segmentations"]):
            if segmentation is None:
                continue
            box = boxes[t] if boxes[t] is not None else _segmentation_box(segmentation, height, width)
            if min(box[2], box[3]) < min_box_size:
                continue
            track.image_paths.append(frames_dir / video["file_names"][t])
            track.frame_indices.append(t)
            track.boxes_xywh.append(tuple(float(v) for v in box))
            track.segmentations.append(segmentation)
        if track.image_paths:
            tracks.append(track)
    return tracks


def load_coco_tracks(ann_path: str | Path, images_dir: str | Path, min_box_size: float) -> list[ObjectTrack]:
    """One-frame tracks from a COCO instance file (``images`` + ``annotations`` with ``segmentation``);
    crowd regions and boxes smaller than ``min_box_size`` are skipped."""
    ann_path, images_dir = Path(ann_path), Path(images_dir)
    data = _read_json(ann_path)
    _require(data, ("images", "annotations"), ann_path, "the file")
    images = {image["id"]: image for image in data["images"]}
    tracks: list[ObjectTrack] = []
    for ann in data["annotations"]:
        _require(ann, ("id", "image_id", "segmentation"), ann_path, f"annotation {ann.get('id')}")
        if ann.get("iscrowd", 0):
            continue
        image = images.get(ann["image_id"])
        if image is None:
            raise AnnotationError(
                f"{ann_path}: annotation {ann['id']} refers to unknown image {ann['image_id']}"
            )
        height, width = int(image["height"]), int(image["width"])
        box = ann.get("bbox") or _segmentation_box(ann["segmentation"], height, width)
        if min(box[2], box[3]) < min_box_size:
            continue
        tracks.append(
            ObjectTrack(
                image_paths=[images_dir / image["file_name"]],
                frame_indices=[0],
                boxes_xywh=[tuple(float(v) for v in box)],
                segmentations=[ann["segmentation"]],
                height=height,
                width=width,
                scene=f"{ann_path}:{image['id']}",
                category=int(ann.get("category_id", 0)),
            )
        )
    return tracks
