"""Synthetic YouTube-VIS benchmark: textured shapes on moving backgrounds, with exact masks.

``generate_dataset(out_dir, seed, videos, cfg)`` writes a real YouTube-VIS dataset::

    out_dir/JPEGImages/<video>/<frame>.jpg     e.g. synth00001/00000.jpg
    out_dir/annotations.json                   info, licenses, videos, annotations, categories

Determinism: video ``k`` (0-based) is drawn from ``numpy.random.default_rng([seed, k])`` only,
so it is the same whatever the number of videos; JPEGs use a fixed quality and the JSON is
written with sorted keys and fixed separators, without time stamps: the same seed and config
give byte-identical files (with the same OpenCV/libjpeg build). Video ids are ``k + 1`` and the
folder names ``synth<k+1:05d>`` sort naturally in id order, so frame folders read without the
JSON get the same ids. Track ids count up over videos in order.

Masks are the visible part of each object after occlusion (see ``synth_render``); a frame where
nothing of an object is visible has ``null`` segmentation, area and box. ``encoding`` picks
compressed RLE (default, exact), uncompressed RLE (``counts`` a list, exact, like the real
train.json) or polygons (outer contours of the mask, exact except that holes such as the
ring's are filled; areas/boxes are computed from the decoded polygons so the file stays
self-consistent; meant to exercise readers).
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from tqdm import tqdm

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.synth_config import KNOWN_SHAPES, SynthConfig
from vis_pipeline.data.synth_render import render_frames
from vis_pipeline.data.synth_scene import SceneSpec, sample_scene
from vis_pipeline.data.synth_shapes import palette_array
from vis_pipeline.masks import encode_mask, rle_area, rle_to_box_xywh, to_compressed_rle

__all__ = ["SynthConfig", "generate_dataset", "video_name", "video_rng", "synthesize_video"]

_STAGING = ".vis-synth-partial"  # generation goes here first, then moves into place


def video_name(index: int) -> str:
    """Folder name of 0-based video ``index`` (id ``index + 1``)."""
    return f"synth{index + 1:05d}"


def video_rng(seed: int, index: int) -> np.random.Generator:
    """The only randomness of video ``index``: independent of how many videos are generated."""
    return np.random.default_rng([int(seed), int(index)])


def synthesize_video(seed: int, index: int, cfg: SynthConfig) -> tuple[SceneSpec, Any]:
    """(scene layout, iterator of ``RenderedFrame``) of video ``index`` -- frames render lazily."""
    rng = video_rng(seed, index)
    scene = sample_scene(rng, cfg, palette_array(KNOWN_SHAPES))
    return scene, render_frames(scene, rng)


def uncompressed_rle(mask: np.ndarray) -> dict[str, Any]:
    """COCO uncompressed RLE of an (H, W) bool mask: column-major run lengths, starting with zeros."""
    flat = mask.ravel(order="F").astype(np.int8)
    boundaries = np.flatnonzero(np.diff(flat)) + 1
    runs = np.diff(np.concatenate([[0], boundaries, [flat.size]]))
    if flat.size and flat[0]:
        runs = np.concatenate([[0], runs])
    return {"size": [int(mask.shape[0]), int(mask.shape[1])], "counts": [int(r) for r in runs]}


def polygons_of(mask: np.ndarray) -> list[list[float]]:
    """Outer contours of an (H, W) bool mask as COCO polygons (flat [x0, y0, ...], >= 3 points).

    Contours are traced on the mask upsampled 2x and mapped back with ``(p + 0.5) / 2``, so the
    vertices lie a quarter pixel inside the pixel edges: pycocotools then rasterises them back
    to exactly the same pixels (checked in tests). Holes cannot be expressed and are filled.
    """
    upsampled = cv2.resize(mask.astype(np.uint8), None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(upsampled, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [((c.reshape(-1, 2) + 0.5) / 2).reshape(-1).tolist() for c in contours if len(c) >= 3]


def encode_segmentation(mask: np.ndarray | None, encoding: str) -> tuple[Any, int | None, list | None]:
    """(segmentation, area, bbox) of one frame in the chosen encoding; all None when empty."""
    if mask is None:
        return None, None, None
    height, width = mask.shape
    if encoding == "polygon":
        segmentation: Any = polygons_of(mask)
        if not segmentation:
            return None, None, None
        rle = to_compressed_rle(segmentation, height, width)
    else:
        rle = encode_mask(mask)
        segmentation = uncompressed_rle(mask) if encoding == "uncompressed" else rle
    area = rle_area(rle)
    if area == 0:
        return None, None, None
    return segmentation, area, rle_to_box_xywh(rle)


def _write_video(
    video_dir: Path, seed: int, index: int, cfg: SynthConfig, first_track_id: int
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Render, write the JPEGs of one video; return its JSON video entry and track entries."""
    scene, frames = synthesize_video(seed, index, cfg)
    video_dir.mkdir(parents=True, exist_ok=True)
    tracks = [{"segmentations": [], "areas": [], "bboxes": []} for _ in scene.objects]
    file_names: list[str] = []
    params = [cv2.IMWRITE_JPEG_QUALITY, int(cfg.jpeg_quality)]
    for t, frame in enumerate(frames):
        ok, data = cv2.imencode(".jpg", frame.image, params)
        if not ok:
            raise DataError(f"{video_dir}: JPEG encoding of frame {t} failed")
        (video_dir / f"{t:05d}.jpg").write_bytes(data.tobytes())
        file_names.append(f"{video_dir.name}/{t:05d}.jpg")
        for track, mask in zip(tracks, frame.visible, strict=True):
            segmentation, area, bbox = encode_segmentation(mask, cfg.encoding)
            track["segmentations"].append(segmentation)
            track["areas"].append(area)
            track["bboxes"].append(bbox)
    video_id = index + 1
    video = {
        "id": video_id,
        "width": cfg.width,
        "height": cfg.height,
        "length": len(file_names),
        "file_names": file_names,
    }
    annotations = []
    for obj, track in zip(scene.objects, tracks, strict=True):
        if all(s is None for s in track["segmentations"]):
            continue  # never visible (e.g. hidden behind others all along): not a track
        annotations.append(
            {
                "id": first_track_id + len(annotations),
                "video_id": video_id,
                "category_id": obj.category + 1,
                "iscrowd": 0,
                **track,
            }
        )
    return video, annotations


def generate_dataset(
    out_dir: Path, seed: int, videos: int, cfg: SynthConfig, overwrite: bool = False, progress: bool = True
) -> Path:
    """Write ``videos`` synthetic videos to ``out_dir``; returns the annotation JSON path.

    Frames go to a staging folder inside ``out_dir`` first and move into place at the end, so an
    interrupted run leaves no half dataset. Existing ``JPEGImages``/``annotations.json`` in
    ``out_dir`` raise :class:`DataError` unless ``overwrite`` (then they are replaced).
    """
    if videos < 1:
        raise DataError(f"{out_dir}: videos must be >= 1, got {videos}")
    out_dir = Path(out_dir)
    frames_dir, ann_path = out_dir / "JPEGImages", out_dir / "annotations.json"
    existing = [p for p in (frames_dir, ann_path) if p.exists()]
    if existing and not overwrite:
        raise DataError(f"{existing[0]}: already exists; pass overwrite=true to replace it")
    staging = out_dir / _STAGING
    if staging.exists():
        shutil.rmtree(staging)  # left over by an interrupted run of ours
    staging_frames = staging / "JPEGImages"
    staging_frames.mkdir(parents=True)

    all_videos: list[dict[str, Any]] = []
    all_tracks: list[dict[str, Any]] = []
    for index in tqdm(range(videos), desc="vis-synth", unit="video", disable=not progress):
        video, tracks = _write_video(
            staging_frames / video_name(index), seed, index, cfg, len(all_tracks) + 1
        )
        all_videos.append(video)
        all_tracks.extend(tracks)
    dataset = {
        "info": {
            "description": "vis-synth synthetic YouTube-VIS benchmark",
            "version": "1",
            "seed": int(seed),
            "config": asdict(cfg),
        },
        "licenses": [],
        "videos": all_videos,
        "annotations": all_tracks,
        "categories": [
            {"id": i + 1, "name": n, "supercategory": "shape"} for i, n in enumerate(cfg.categories)
        ],
    }
    (staging / "annotations.json").write_text(json.dumps(dataset, sort_keys=True, separators=(",", ":")))
    for path in existing:
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    os.replace(staging_frames, frames_dir)
    os.replace(staging / "annotations.json", ann_path)
    staging.rmdir()
    return ann_path


def summarize(ann_path: Path) -> str:
    """One line: videos, frames, tracks and where the dataset is."""
    data = json.loads(Path(ann_path).read_text())
    frames = sum(v["length"] for v in data["videos"])
    return (
        f"vis-synth: {len(data['videos'])} videos, {frames} frames, {len(data['annotations'])} tracks, "
        f"{len(data['categories'])} categories -> {ann_path.parent} (annotations.json, JPEGImages/)"
    )
