"""YouTube-VIS video annotations -> COCO-style per-frame instance annotations for detector training.

Every kept frame becomes a COCO image whose ``file_name`` is the video's ``file_names`` entry
(``"<video_dir>/<frame>.jpg"``, relative to the dataset's ``JPEGImages`` folder); every non-null
segmentation of a track in that frame becomes one COCO annotation (compressed RLE, area and box
recomputed from the mask). The annotations are read with the project's one YouTube-VIS reader, so
compressed/uncompressed RLE and polygons (2019, 2021, the synthetic sets) all work.

Kept frames are frames ``0, stride, 2*stride, ...`` of each video's annotated (listed) frames.
A listed frame without any object stays an image without annotations: it counts for validation
(false positives), and mmdet's ``filter_empty_gt`` leaves it out of training.

:func:`prepare_coco_split` is what ``vis-train-detector`` uses: it checks the input (annotations
present, categories equal to the detector's classes, frames on disk), holds out videos for
validation, and caches the converted files keyed by content (the annotation file's bytes, the
stride and the split), never by path.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.ytvis import YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.detect.base import stable_hash
from vis_pipeline.fileio import atomic_write_text
from vis_pipeline.masks import rle_area, rle_to_box_xywh

#: Bump when the output of the conversion changes for the same input (invalidates cached files).
CONVERSION_VERSION = 2


class ConversionError(DataError):
    """The YouTube-VIS JSON cannot be converted or does not fit the detector (one line naming the file)."""


def ytvis_to_coco(
    ytvis: dict[str, Any] | YTVISAnnotations | str | Path,
    frame_stride: int = 1,
    source: str | None = None,
    video_ids: Iterable[int] | None = None,
) -> dict[str, Any]:
    """Convert YouTube-VIS annotations to a COCO instance-segmentation dict.

    Args:
        ytvis: a parsed or raw YouTube-VIS JSON (or its path), with annotations.
        frame_stride: keep annotated frames ``0, stride, 2*stride, ...`` of each video
            (neighbouring frames are nearly identical, so a stride > 1 gives more varied images).
        source: file name used in error messages (default: the reader's).
        video_ids: convert only these videos (default: all), in ascending id order.

    Returns:
        COCO dict; image ids are ``1..N`` in (video id, frame) order; each image carries
        ``video_id`` and ``frame_index`` so predictions can be mapped back to the video.
    """
    gt = _read(ytvis)
    source = source or gt.source
    if frame_stride < 1:
        raise ConversionError(f"{source}: frame_stride must be >= 1, got {frame_stride}")
    if not gt.tracks:
        raise ConversionError(
            f"{source}: no annotations (missing or empty 'annotations'); nothing to train on"
        )
    wanted = sorted(gt.videos) if video_ids is None else sorted(video_ids)
    masks = {t.track_id: _masks(gt, t) for t in gt.tracks if t.video_id in set(wanted)}
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for video_id in wanted:
        video = gt.videos[video_id]
        for frame_index in range(0, video.length, frame_stride):
            image_id = len(images) + 1
            images.append(
                {
                    "id": image_id,
                    "file_name": video.file_names[frame_index],
                    "height": video.height,
                    "width": video.width,
                    "video_id": video_id,
                    "frame_index": frame_index,
                }
            )
            for track in gt.tracks_of(video_id):
                rle = masks[track.track_id][frame_index]
                area = rle_area(rle) if rle is not None else 0
                if area == 0:  # null or empty mask: the object is not in this frame
                    continue
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": track.category_id,
                        "segmentation": rle,
                        "area": float(area),
                        "bbox": rle_to_box_xywh(rle),
                        "iscrowd": track.iscrowd,
                        "track_id": track.track_id,
                    }
                )
    categories = [
        {"id": c.id, "name": c.name, **({"supercategory": c.supercategory} if c.supercategory else {})}
        for c in sorted(gt.categories.values(), key=lambda c: c.id)
    ]
    return {
        "info": {"description": f"frames of {source} (stride {frame_stride})"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }


def _read(ytvis: dict[str, Any] | YTVISAnnotations | str | Path) -> YTVISAnnotations:
    try:
        return load_ytvis_annotations(ytvis)
    except DataError as err:
        raise ConversionError(str(err)) from None


def _masks(gt: YTVISAnnotations, track: Any) -> list[Any]:
    try:
        return gt.track_masks(track)
    except DataError as err:
        raise ConversionError(str(err)) from None


def convert_file(ytvis_json: Path, coco_json: Path, frame_stride: int = 1) -> dict[str, int]:
    """Convert a YouTube-VIS JSON file to a COCO JSON file; returns image/annotation counts."""
    coco = ytvis_to_coco(Path(ytvis_json), frame_stride)
    atomic_write_text(Path(coco_json), json.dumps(coco, separators=(",", ":")))
    return {"images": len(coco["images"]), "annotations": len(coco["annotations"])}


@dataclass(frozen=True)
class CocoSplit:
    """Frame-level COCO files of a training run (``val_json`` None without held-out videos)."""

    train_json: Path
    val_json: Path | None
    frames_root: Path
    train_videos: tuple[int, ...]
    val_videos: tuple[int, ...]
    counts: dict[str, int]


def split_videos(video_ids: Sequence[int], val_videos: int | Sequence[int], seed: int) -> tuple[list, list]:
    """(train ids, val ids): ``val_videos`` ids as given, or that many drawn with ``seed``."""
    ids = sorted(int(v) for v in video_ids)
    if isinstance(val_videos, int):
        if not 0 <= val_videos < len(ids):
            raise ValueError(f"data.val_videos={val_videos}: need 0 <= N < {len(ids)} (the set's videos)")
        held = sorted(int(v) for v in np.random.default_rng(seed).choice(ids, size=val_videos, replace=False))
    else:
        held = sorted(int(v) for v in val_videos)
        unknown = sorted(set(held) - set(ids))
        if unknown:
            raise ValueError(f"data.val_videos: video ids {unknown[:5]} are not in the set")
        if len(held) >= len(ids):
            raise ValueError("data.val_videos holds out every video; none is left to train on")
    return [v for v in ids if v not in set(held)], held


def check_categories(gt: YTVISAnnotations, classes: Sequence[str]) -> None:
    """The set's categories must be ids 1..N named like the detector's N classes, in order.

    mmdet's CocoDataset finds a class's annotations by name and vis-run maps label i to category
    id i + 1, so any other layout would train or report the wrong classes without a word.
    """
    names = [gt.categories[k].name for k in sorted(gt.categories)]
    if len(names) != len(classes):
        raise ConversionError(
            f"{gt.source}: {len(names)} categories, the detector config has {len(classes)} classes"
        )
    if sorted(gt.categories) != list(range(1, len(names) + 1)):
        raise ConversionError(
            f"{gt.source}: category ids must be 1..{len(names)}, got {sorted(gt.categories)}"
        )
    for position, (name, expected) in enumerate(zip(names, classes, strict=True)):
        if name != expected:
            raise ConversionError(
                f"{gt.source}: category {position + 1} is {name!r}, the detector config's class "
                f"{position} is {expected!r}"
            )


def check_frames_exist(coco: dict[str, Any], frames_root: Path, source: str) -> None:
    """Every image of ``coco`` must exist under ``frames_root``."""
    missing = [im["file_name"] for im in coco["images"] if not (frames_root / im["file_name"]).is_file()]
    if missing:
        raise ConversionError(
            f"{frames_root}: {len(missing)} frames of {source} missing on disk (first: {missing[0]})"
        )


def prepare_coco_split(
    ann: Path,
    frames_root: Path,
    classes: Sequence[str],
    frame_stride: int,
    val_videos: int | Sequence[int],
    seed: int,
    cache_dir: Path,
) -> CocoSplit:
    """Check a YouTube-VIS training set and write (or reuse) its train/val COCO frame files.

    The cache folder is ``cache_dir/<key>/`` with key = hash of the annotation bytes, the stride,
    the held-out video ids and the conversion version; an interrupted write never leaves a
    partial file (atomic writes). Raises ConversionError (one line naming the file) on bad input.
    """
    gt = _read(Path(ann))
    if not gt.tracks:
        raise ConversionError(
            f"{gt.source}: no annotations (missing or empty 'annotations'); nothing to train on"
        )
    check_categories(gt, classes)
    try:
        train_ids, val_ids = split_videos(list(gt.videos), val_videos, seed)
    except ValueError as err:
        raise ConversionError(f"{gt.source}: {err}") from None
    key = stable_hash(
        {"ann": gt.sha256, "stride": frame_stride, "val": val_ids, "version": CONVERSION_VERSION}
    )
    folder = Path(cache_dir) / key
    files = {"train": folder / "train.json", "val": folder / "val.json" if val_ids else None}
    counts: dict[str, int] = {}
    for split, ids in (("train", train_ids), ("val", val_ids)):
        path = files[split]
        if path is None:
            continue
        coco = (
            json.loads(path.read_text()) if path.is_file() else ytvis_to_coco(gt, frame_stride, video_ids=ids)
        )
        check_frames_exist(coco, Path(frames_root), gt.source)
        if split == "train" and not coco["annotations"]:
            raise ConversionError(f"{gt.source}: the training videos have no object in any kept frame")
        if not path.is_file():
            atomic_write_text(path, json.dumps(coco, separators=(",", ":")))
        counts[f"{split}_images"] = len(coco["images"])
        counts[f"{split}_images_with_objects"] = len({a["image_id"] for a in coco["annotations"]})
        counts[f"{split}_instances"] = len(coco["annotations"])
    return CocoSplit(
        files["train"], files["val"], Path(frames_root), tuple(train_ids), tuple(val_ids), counts
    )
