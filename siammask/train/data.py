"""Exemplar/search pair sampling with the paper's augmentation (§4.1).

A pair is two annotated frames of one object track within ``frame_gap`` frames of each other (a COCO
instance gives the same image twice). Each frame is cropped around its own GT box with the tracker's
context rule, ``s_z = sqrt((w + p)(h + p))``, ``p = (w + h) / 2``, ``s_x = s_z * 255 / 127``, so the object
covers about the same number of pixels in both crops; then a random translation (±4 px exemplar,
±64 px search) and scale ([0.95, 1.05] / [0.82, 1.18]) are applied in the same affine warp. The search
crop's GT mask is warped with the SAME matrix (bilinear, thresholded at 0.5) and its GT box is the
annotated box mapped through the matrix.

Crops follow the released model's input convention: raw BGR 0..255 float32, CHW, no normalisation;
outside the image the crop is filled with the frame's per-channel mean (as the tracker pads).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from siammask.train.sources import AnnotationError, ObjectTrack, decode_segmentation, segmentation_area


@dataclass(frozen=True)
class PairConfig:
    """Crop sizes, context and augmentation ranges (shift in output pixels, scale as a ± fraction)."""

    exemplar_size: int = 127
    search_size: int = 255
    context_amount: float = 0.5
    frame_gap: int = 20
    exemplar_shift: float = 4.0
    exemplar_scale: float = 0.05
    search_shift: float = 64.0
    search_scale: float = 0.18
    distractor_prob: float = 0.0  # share of pairs whose search crop is centred on another object
    same_category_first: bool = True  # distractor: prefer an object of the exemplar's category
    occluded_prob: float = 0.0  # share of pairs whose search frame shows the object partly hidden
    occluded_ratio: float = 0.6  # "partly hidden": visible area < this fraction of the exemplar frame's
    absent_prob: float = 0.0  # share of pairs searching a frame where the object is not there at all

    def __post_init__(self) -> None:
        for name in ("distractor_prob", "occluded_prob", "absent_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"pairs.{name}={getattr(self, name)} must be in [0, 1]")
        if not 0.0 < self.occluded_ratio <= 1.0:
            raise ValueError(f"pairs.occluded_ratio={self.occluded_ratio} must be in (0, 1]")


def context_side(width: float, height: float, context_amount: float) -> float:
    """Side of the exemplar region in image pixels: ``sqrt((w + p)(h + p))`` with ``p = c (w + h)``."""
    pad = context_amount * (width + height)
    return math.sqrt((width + pad) * (height + pad))


def crop_matrix(
    centre_xy: tuple[float, float],
    region_side: float,
    out_size: int,
    shift_xy: tuple[float, float],
    scale: float,
) -> np.ndarray:
    """(2, 3) affine image -> crop: the square of side ``region_side`` centred on ``centre_xy`` fills the
    ``out_size`` crop (centre pixel ``(out_size - 1) / 2``), zoomed by ``scale`` and then shifted by
    ``shift_xy`` output pixels."""
    zoom = out_size / region_side * scale
    centre_out = (out_size - 1) / 2.0
    return np.array(
        [
            [zoom, 0.0, centre_out + shift_xy[0] - zoom * centre_xy[0]],
            [0.0, zoom, centre_out + shift_xy[1] - zoom * centre_xy[1]],
        ],
        dtype=np.float64,
    )


def warp_image(image: np.ndarray, matrix: np.ndarray, out_size: int) -> np.ndarray:
    """Bilinear warp of an (H, W, 3) uint8 BGR image into an (out, out, 3) float32 crop, mean-filled."""
    fill = tuple(float(v) for v in image.reshape(-1, image.shape[2]).mean(axis=0))
    crop = cv2.warpAffine(
        image,
        matrix,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=fill,
    )
    return crop.astype(np.float32)


def warp_mask(mask: np.ndarray, matrix: np.ndarray, out_size: int) -> np.ndarray:
    """Warp an (H, W) bool mask with the same matrix: bilinear on {0, 1} then threshold 0.5 -> (out, out)
    float32 in {0, 1}; zero outside the image."""
    warped = cv2.warpAffine(
        mask.astype(np.float32),
        matrix,
        (out_size, out_size),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0.0,
    )
    return (warped >= 0.5).astype(np.float32)


def transform_box(box_xywh: Sequence[float], matrix: np.ndarray) -> np.ndarray:
    """Map an (x, y, w, h) image box through a scale+translate matrix -> (4,) float32 ``xyxy`` in the crop."""
    x, y, w, h = box_xywh
    x1 = matrix[0, 0] * x + matrix[0, 2]
    y1 = matrix[1, 1] * y + matrix[1, 2]
    return np.array([x1, y1, x1 + matrix[0, 0] * w, y1 + matrix[1, 1] * h], dtype=np.float32)


def read_bgr(path: Path) -> np.ndarray:
    """Read a frame as (H, W, 3) uint8 BGR; a missing or unreadable file raises a one-line error."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise AnnotationError(f"{path}: frame image not found or unreadable")
    return image


def _augmented_crop_matrix(
    box_xywh: Sequence[float],
    out_size: int,
    context_amount: float,
    max_shift: float,
    max_scale: float,
    rng: np.random.Generator,
) -> np.ndarray:
    x, y, w, h = box_xywh
    region = context_side(w, h, context_amount) * out_size / 127.0  # s_z for 127, s_x = s_z 255/127
    shift = (float(rng.uniform(-max_shift, max_shift)), float(rng.uniform(-max_shift, max_shift)))
    scale = float(rng.uniform(1.0 - max_scale, 1.0 + max_scale))
    return crop_matrix((x + w / 2.0, y + h / 2.0), region, out_size, shift, scale)


def make_pair(
    track: ObjectTrack, exemplar_k: int, search_k: int, cfg: PairConfig, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """Crop one pair from frames ``exemplar_k`` and ``search_k`` of ``track``.

    Returns ``template`` (3, 127, 127) and ``search`` (3, 255, 255) float32 BGR 0..255, ``search_mask``
    (255, 255) float32 {0, 1} and ``search_box`` (4,) float32 ``xyxy`` in search-crop pixels.
    """
    template = _template_crop(track, exemplar_k, cfg, rng)
    return _search_sample(template, track, search_k, track, search_k, cfg, rng)


def make_distractor_pair(
    track: ObjectTrack,
    exemplar_k: int,
    distractor: ObjectTrack,
    distractor_k: int,
    cfg: PairConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """A pair whose search crop is centred on another object of the same scene (a hard negative).

    The targets are still those of ``track``: its box and mask at the distractor's frame if it is
    annotated there (wherever it falls in the crop), otherwise none: ``search_box`` is all zeros, which
    labels every anchor negative and gives no mask rows. This teaches the score branch to prefer the
    exemplar's object over a nearer look-alike, the failure that makes the tracker drift.
    """
    template = _template_crop(track, exemplar_k, cfg, rng)
    frame = distractor.frame_indices[distractor_k]
    target_k = track.frame_indices.index(frame) if frame in track.frame_indices else None
    return _search_sample(template, distractor, distractor_k, track, target_k, cfg, rng)


def make_absent_pair(
    track: ObjectTrack, exemplar_k: int, frame: int, cfg: PairConfig, rng: np.random.Generator
) -> dict[str, torch.Tensor]:
    """A pair whose search frame ``frame`` (a video position) does not show the object (hidden behind
    something or out of view): the crop is centred on its box in the nearest frame where it is annotated
    (where a tracker would look), and every anchor is negative, with no mask rows.

    Without such pairs the network only ever sees its object in a search crop, so once the object hides it
    scores whatever stands there (another object, 0.85-0.96 for the tiny tracker) as the target.
    """
    template = _template_crop(track, exemplar_k, cfg, rng)
    nearest = int(np.argmin(np.abs(np.asarray(track.frame_indices) - frame)))
    box = track.boxes_xywh[nearest]
    return _crop_search(template, track.video_frames[frame], (track.height, track.width), box, None, cfg, rng)


def _template_crop(track: ObjectTrack, k: int, cfg: PairConfig, rng: np.random.Generator) -> np.ndarray:
    image = read_bgr(track.image_paths[k])
    matrix = _augmented_crop_matrix(
        track.boxes_xywh[k], cfg.exemplar_size, cfg.context_amount, cfg.exemplar_shift,
        cfg.exemplar_scale, rng,
    )  # fmt: skip
    return warp_image(image, matrix, cfg.exemplar_size)


def _search_sample(
    template: np.ndarray,
    centre_track: ObjectTrack,
    centre_k: int,
    target_track: ObjectTrack,
    target_k: int | None,
    cfg: PairConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Search crop around ``centre_track``'s box at ``centre_k``; targets of ``target_track`` at
    ``target_k`` (same frame) or none when ``target_k`` is None."""
    target = None
    if target_k is not None:
        target = (target_track.segmentations[target_k], target_track.boxes_xywh[target_k])
    size = (centre_track.height, centre_track.width)
    path, box = centre_track.image_paths[centre_k], centre_track.boxes_xywh[centre_k]
    return _crop_search(template, path, size, box, target, cfg, rng)


def _crop_search(
    template: np.ndarray,
    image_path: Path,
    image_hw: tuple[int, int],
    centre_box: Sequence[float],
    target: tuple[Any, Sequence[float]] | None,
    cfg: PairConfig,
    rng: np.random.Generator,
) -> dict[str, torch.Tensor]:
    """Search crop of ``image_path`` around ``centre_box``; ``target`` = (segmentation, box) in that
    frame, or None for a pair without the object (all anchors negative)."""
    search_image = read_bgr(image_path)
    if search_image.shape[:2] != image_hw:
        raise AnnotationError(
            f"{image_path}: image is {search_image.shape[1]}x{search_image.shape[0]}, annotation says "
            f"{image_hw[1]}x{image_hw[0]}"
        )
    x_matrix = _augmented_crop_matrix(
        centre_box, cfg.search_size, cfg.context_amount, cfg.search_shift, cfg.search_scale, rng
    )
    search = warp_image(search_image, x_matrix, cfg.search_size)
    if target is None:
        mask = np.zeros((cfg.search_size, cfg.search_size), dtype=np.float32)
        box = np.zeros(4, dtype=np.float32)
    else:
        segmentation, target_box = target
        full = decode_segmentation(segmentation, image_hw[0], image_hw[1])
        mask = warp_mask(full, x_matrix, cfg.search_size)
        box = transform_box(target_box, x_matrix)
    return {
        "template": torch.from_numpy(np.ascontiguousarray(template.transpose(2, 0, 1))),
        "search": torch.from_numpy(np.ascontiguousarray(search.transpose(2, 0, 1))),
        "search_mask": torch.from_numpy(mask),
        "search_box": torch.from_numpy(box),
    }


class PairDataset(Dataset):
    """``pairs_per_epoch`` random pairs per epoch; pair i of epoch e is a pure function of (seed, e, i),
    so a resumed run sees the same data. Tracks are drawn uniformly, then the exemplar frame uniformly
    within the track, then the search frame uniformly among the track's frames within ``frame_gap``
    (with ``occluded_prob``: among those where the object shows less than ``occluded_ratio`` of the
    exemplar frame's visible area, when there is one)."""

    def __init__(self, tracks: list[ObjectTrack], cfg: PairConfig, pairs_per_epoch: int, seed: int) -> None:
        if not tracks:
            raise AnnotationError("no usable object track in the training annotations")
        self.tracks = tracks
        self.cfg = cfg
        self.pairs_per_epoch = pairs_per_epoch
        self.seed = seed
        self.epoch = 0
        by_scene: dict[str, list[int]] = {}
        for i, track in enumerate(tracks):
            by_scene.setdefault(track.scene, []).append(i)
        # other objects of the same scene (never scene "" = unknown), same category first when asked
        self.distractors: list[list[int]] = []
        for i, track in enumerate(tracks):
            others = [j for j in by_scene[track.scene] if j != i] if track.scene else []
            same = [j for j in others if tracks[j].category == track.category]
            self.distractors.append(same if (same and cfg.same_category_first) else others)
        # visible area per annotated frame, only when occluded search frames are asked for
        self.areas: list[np.ndarray] = []
        if cfg.occluded_prob > 0:
            self.areas = [
                np.array([segmentation_area(s, t.height, t.width) for s in t.segmentations]) for t in tracks
            ]

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose pairs ``__getitem__`` returns."""
        self.epoch = epoch

    def __len__(self) -> int:
        return self.pairs_per_epoch

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        rng = np.random.default_rng([self.seed, self.epoch, index])
        track_index = int(rng.integers(len(self.tracks)))
        track = self.tracks[track_index]
        exemplar_k = int(rng.integers(len(track.frame_indices)))
        frames = np.asarray(track.frame_indices)
        wants_distractor = self.cfg.distractor_prob > 0 and rng.random() < self.cfg.distractor_prob
        if wants_distractor and self.distractors[track_index]:
            other = self.tracks[int(rng.choice(self.distractors[track_index]))]
            other_frames = np.asarray(other.frame_indices)
            near = np.flatnonzero(np.abs(other_frames - frames[exemplar_k]) <= self.cfg.frame_gap)
            if len(near):
                return make_distractor_pair(track, exemplar_k, other, int(rng.choice(near)), self.cfg, rng)
        if self.cfg.absent_prob > 0 and rng.random() < self.cfg.absent_prob and track.video_frames:
            absent = np.asarray(track.absent_frames, dtype=np.int64)
            absent = absent[np.abs(absent - frames[exemplar_k]) <= self.cfg.frame_gap]
            if len(absent):
                return make_absent_pair(track, exemplar_k, int(rng.choice(absent)), self.cfg, rng)
        near = np.flatnonzero(np.abs(frames - frames[exemplar_k]) <= self.cfg.frame_gap)
        if self.cfg.occluded_prob > 0 and rng.random() < self.cfg.occluded_prob:
            # a hard positive: the object partly hidden (behind the pole, another object, the frame
            # edge) in the search frame, seen more fully in the exemplar; the failure the tiny
            # tracker's loss table blames most (it jumps to a neighbour and stays there)
            areas = self.areas[track_index]
            hidden = near[areas[near] < self.cfg.occluded_ratio * areas[exemplar_k]]
            if len(hidden):
                near = hidden
        search_k = int(rng.choice(near))
        return make_pair(track, exemplar_k, search_k, self.cfg, rng)
