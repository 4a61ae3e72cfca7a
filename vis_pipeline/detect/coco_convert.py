"""YouTube-VIS video annotations -> COCO-style per-frame instance annotations.

Used to train and evaluate an image detector (the tiny HTC) on frames of a YouTube-VIS-format
dataset such as the synthetic benchmark. Every kept frame becomes a COCO image whose
``file_name`` is the video's ``file_names`` entry (``"<video_dir>/<frame>.jpg"``, relative to
the dataset's ``JPEGImages`` folder); every non-null segmentation of a track in that frame
becomes one COCO annotation (compressed RLE, area and box recomputed from the mask).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from vis_pipeline.masks import rle_area, rle_to_box_xywh, to_compressed_rle


class ConversionError(ValueError):
    """The YouTube-VIS JSON cannot be converted (one-line message naming the file)."""


def ytvis_to_coco(ytvis: dict[str, Any], frame_stride: int = 1, source: str = "<json>") -> dict[str, Any]:
    """Convert a YouTube-VIS annotation dict to a COCO instance-segmentation dict.

    Args:
        ytvis: parsed YouTube-VIS JSON (``videos``, ``annotations``, ``categories``).
        frame_stride: keep frames ``0, stride, 2*stride, ...`` of each video (neighbouring
            frames are nearly identical, so a stride > 1 gives more varied training images).
        source: file name used in error messages.

    Returns:
        COCO dict; image ids are ``1..N`` in (video order, frame order); each image carries
        ``video_id`` and ``frame_index`` so predictions can be mapped back to the video.
    """
    if frame_stride < 1:
        raise ConversionError(f"{source}: frame_stride must be >= 1, got {frame_stride}")
    try:
        videos = ytvis["videos"]
        tracks = ytvis["annotations"]
        categories = ytvis["categories"]
    except (KeyError, TypeError) as err:
        raise ConversionError(f"{source}: not a YouTube-VIS annotation file (missing {err})") from None
    tracks_by_video: dict[int, list[dict[str, Any]]] = {}
    for track in tracks:
        tracks_by_video.setdefault(int(track["video_id"]), []).append(track)

    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    for video in videos:
        height, width = int(video["height"]), int(video["width"])
        for frame_index in range(0, len(video["file_names"]), frame_stride):
            image_id = len(images) + 1
            images.append(
                {
                    "id": image_id,
                    "file_name": video["file_names"][frame_index],
                    "height": height,
                    "width": width,
                    "video_id": int(video["id"]),
                    "frame_index": frame_index,
                }
            )
            for track in tracks_by_video.get(int(video["id"]), []):
                segmentations = track["segmentations"]
                if len(segmentations) != len(video["file_names"]):
                    raise ConversionError(
                        f"{source}: track {track.get('id')} has {len(segmentations)} segmentations, "
                        f"video {video['id']} has {len(video['file_names'])} frames"
                    )
                segmentation = segmentations[frame_index]
                if segmentation is None:
                    continue
                rle = to_compressed_rle(segmentation, height, width)
                area = rle_area(rle)
                if area == 0:
                    continue
                annotations.append(
                    {
                        "id": len(annotations) + 1,
                        "image_id": image_id,
                        "category_id": int(track["category_id"]),
                        "segmentation": rle,
                        "area": float(area),
                        "bbox": rle_to_box_xywh(rle),
                        "iscrowd": int(track.get("iscrowd", 0)),
                        "track_id": int(track["id"]),
                    }
                )
    return {
        "info": {"description": f"frames of {source} (stride {frame_stride})"},
        "licenses": [],
        "images": images,
        "annotations": annotations,
        "categories": [dict(c) for c in categories],
    }


def convert_file(ytvis_json: Path, coco_json: Path, frame_stride: int = 1) -> dict[str, int]:
    """Convert a YouTube-VIS JSON file to a COCO JSON file; returns image/annotation counts."""
    try:
        ytvis = json.loads(Path(ytvis_json).read_text())
    except (OSError, ValueError) as err:
        raise ConversionError(f"{ytvis_json}: cannot read YouTube-VIS JSON ({err})") from None
    coco = ytvis_to_coco(ytvis, frame_stride, source=str(ytvis_json))
    Path(coco_json).parent.mkdir(parents=True, exist_ok=True)
    Path(coco_json).write_text(json.dumps(coco, separators=(",", ":")))
    return {"images": len(coco["images"]), "annotations": len(coco["annotations"])}
