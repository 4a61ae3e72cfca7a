"""Oracle detector: detections made from the ground truth, with controllable noise.

For ablations of association and tracking (how good is the tracker given perfect or degraded
detections?) and for tests. With all noise knobs at zero the detections of a frame are exactly
the GT masks of the objects visible in it (same RLE), score 1.0, label = GT category id, box =
the mask's tight box.

Noise is a pure function of (seed, video id, frame index, track index): the same frame gets the
same detections in any call order, and every knob uses its own random draws, so turning one
knob does not reshuffle the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import cv2
import numpy as np

from vis_pipeline.detect.base import DetectorConfigError, VideoRef, check_frames, stable_hash
from vis_pipeline.masks import RLE, decode_rle, encode_mask, rle_to_box_xywh
from vis_pipeline.types import Detections

if TYPE_CHECKING:
    from vis_pipeline.data import YTVISAnnotations

_FP_STREAM = 1_000_003  # RNG stream id of a frame's false positives (track streams are 0..n-1)


@dataclass(frozen=True)
class OracleNoise:
    """Noise knobs (``configs/detector/oracle.yaml``); all zero = perfect detections."""

    miss_rate: float = 0.0
    false_positives: float = 0.0
    fp_size: tuple[float, float] = (0.05, 0.25)
    fp_score: tuple[float, float] = (0.05, 0.6)
    morph_pixels: int = 0
    shift_pixels: int = 0
    score_noise: float = 0.0
    class_confusion: float = 0.0

    def __post_init__(self) -> None:
        for name in ("miss_rate", "class_confusion"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise DetectorConfigError(f"oracle: {name} must be in [0, 1], got {getattr(self, name)}")
        for name in ("false_positives", "morph_pixels", "shift_pixels", "score_noise"):
            if getattr(self, name) < 0:
                raise DetectorConfigError(f"oracle: {name} must be >= 0, got {getattr(self, name)}")


@dataclass(frozen=True)
class GTTrack:
    """One GT object track of a video: category id and one compressed RLE (or None) per frame."""

    track_id: int
    category_id: int
    masks: list[RLE | None]


class OracleDetector:
    """A :class:`Detector` that reads the answer from the ground truth and degrades it on request."""

    def __init__(
        self,
        tracks_by_video: Mapping[int, list[GTTrack]],
        category_ids: list[int],
        noise: OracleNoise,
        seed: int,
        gt_id: str,
    ) -> None:
        """tracks_by_video: GT tracks per video id; category_ids: the dataset's ids (for confusion
        and false positives); gt_id: a stable identifier of the GT content (part of the cache key)."""
        if not category_ids:
            raise DetectorConfigError("oracle: the ground truth has no categories")
        self.tracks_by_video = dict(tracks_by_video)
        self.category_ids = sorted(int(c) for c in category_ids)
        self.noise = noise
        self.seed = int(seed)
        self.gt_id = gt_id

    @classmethod
    def from_annotations(
        cls, gt: YTVISAnnotations, noise: OracleNoise, seed: int, gt_id: str
    ) -> OracleDetector:
        """Build from ground truth parsed by ``vis_pipeline.data.load_ytvis_annotations``."""
        tracks: dict[int, list[GTTrack]] = {vid: [] for vid in gt.videos}
        for track in gt.tracks:
            tracks[track.video_id].append(GTTrack(track.track_id, track.category_id, gt.track_masks(track)))
        category_ids = list(gt.categories) or sorted({t.category_id for t in gt.tracks})
        return cls(tracks, category_ids, noise, seed, gt_id)

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any], gt: Path | str | YTVISAnnotations) -> OracleDetector:
        """Build from ``configs/detector/oracle.yaml`` values and the YouTube-VIS GT (a JSON file or
        annotations already parsed by ``vis_pipeline.data.load_ytvis_annotations``).

        A bad GT file raises ``vis_pipeline.data.DataError`` (one line naming the file).
        """
        from vis_pipeline.data import load_ytvis_annotations

        annotations = load_ytvis_annotations(gt)
        if annotations.sha256 is None:
            raise DetectorConfigError(
                "oracle: the GT must come from a file (its content hash keys the cache)"
            )
        fields = OracleNoise.__dataclass_fields__
        values = {k: (tuple(cfg[k]) if k in ("fp_size", "fp_score") else cfg[k]) for k in fields if k in cfg}
        return cls.from_annotations(
            annotations, OracleNoise(**values), int(cfg.get("seed", 0)), annotations.sha256[:16]
        )

    def cache_key(self) -> str:
        return stable_hash({"oracle": asdict(self.noise), "seed": self.seed, "gt": self.gt_id})

    def detect(
        self,
        frames: list[np.ndarray],
        video: VideoRef | None = None,
        frame_indices: list[int] | None = None,
    ) -> list[Detections]:
        """Detections of ``frames`` = frames ``frame_indices`` of ``video`` (both required)."""
        if video is None or frame_indices is None:
            raise DetectorConfigError("oracle.detect needs video= and frame_indices= (it reads the GT)")
        if len(frame_indices) != len(frames):
            raise ValueError(f"oracle.detect: {len(frames)} frames but {len(frame_indices)} frame indices")
        height, width = check_frames(frames, "oracle.detect")
        return [self.detect_frame(int(video.video_id), i, height, width) for i in frame_indices]

    def detect_frame(self, video_id: int, frame_index: int, height: int, width: int) -> Detections:
        """Detections of one frame (H, W) of a GT video; deterministic in (seed, video, frame)."""
        if video_id not in self.tracks_by_video:
            raise DetectorConfigError(f"oracle: video id {video_id} is not in the ground truth")
        boxes: list[list[float]] = []
        scores: list[float] = []
        labels: list[int] = []
        masks: list[RLE] = []
        for track_index, track in enumerate(self.tracks_by_video[video_id]):
            if frame_index >= len(track.masks) or track.masks[frame_index] is None:
                continue
            rng = self._rng(video_id, frame_index, track_index)
            # every draw happens unconditionally so each knob has its own, fixed random numbers
            u_miss, u_morph, u_dx, u_dy, u_confuse, u_other = rng.random(6)
            z_score = abs(float(rng.standard_normal()))
            if u_miss < self.noise.miss_rate:
                continue
            rle = track.masks[frame_index]
            if list(rle["size"]) != [height, width]:
                raise DetectorConfigError(
                    f"oracle: GT mask size {rle['size']} of video {video_id} != frame size {[height, width]}"
                )
            morph = int(round((2 * u_morph - 1) * self.noise.morph_pixels))
            dx = int(round((2 * u_dx - 1) * self.noise.shift_pixels))
            dy = int(round((2 * u_dy - 1) * self.noise.shift_pixels))
            if morph or dx or dy:
                mask = _shift(_morph(decode_rle(rle), morph), dx, dy)
                if not mask.any():
                    continue
                rle = encode_mask(mask)
            label = track.category_id
            if u_confuse < self.noise.class_confusion and len(self.category_ids) > 1:
                others = [c for c in self.category_ids if c != label]
                label = others[min(int(u_other * len(others)), len(others) - 1)]
            boxes.append(_xyxy(rle))
            scores.append(float(np.clip(1.0 - self.noise.score_noise * z_score, 0.01, 1.0)))
            labels.append(label)
            masks.append(rle)
        self._add_false_positives(video_id, frame_index, height, width, boxes, scores, labels, masks)
        order = np.argsort(-np.asarray(scores, dtype=np.float32), kind="stable")
        return Detections(
            np.asarray(boxes, dtype=np.float32).reshape(-1, 4)[order],
            np.asarray(scores, dtype=np.float32)[order],
            np.asarray(labels, dtype=np.int64)[order],
            [masks[i] for i in order],
        )

    def _rng(self, video_id: int, frame_index: int, stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, video_id, frame_index, stream])

    def _add_false_positives(
        self,
        video_id: int,
        frame_index: int,
        height: int,
        width: int,
        boxes: list[list[float]],
        scores: list[float],
        labels: list[int],
        masks: list[RLE],
    ) -> None:
        """Append Poisson(false_positives) random ellipses with random category and low score."""
        if self.noise.false_positives <= 0:
            return
        rng = self._rng(video_id, frame_index, _FP_STREAM)
        short_side = min(height, width)
        for _ in range(int(rng.poisson(self.noise.false_positives))):
            axes = rng.uniform(*self.noise.fp_size, size=2) * short_side / 2
            center = (int(rng.uniform(0, width)), int(rng.uniform(0, height)))
            angle = float(rng.uniform(0, 180))
            category = self.category_ids[int(rng.integers(len(self.category_ids)))]
            score = float(rng.uniform(*self.noise.fp_score))
            mask = np.zeros((height, width), dtype=np.uint8)
            cv2.ellipse(mask, center, (max(1, int(axes[0])), max(1, int(axes[1]))), angle, 0, 360, 1, -1)
            if not mask.any():
                continue
            rle = encode_mask(mask)
            boxes.append(_xyxy(rle))
            scores.append(score)
            labels.append(category)
            masks.append(rle)


def _xyxy(rle: RLE) -> list[float]:
    x, y, w, h = rle_to_box_xywh(rle)
    return [x, y, x + w, y + h]


def _morph(mask: np.ndarray, pixels: int) -> np.ndarray:
    """Dilate (pixels > 0) or erode (pixels < 0) an (H, W) bool mask with a disc of that radius."""
    if pixels == 0:
        return mask
    radius = abs(pixels)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))
    op = cv2.dilate if pixels > 0 else cv2.erode
    return op(mask.astype(np.uint8), kernel).astype(bool)


def _shift(mask: np.ndarray, dx: int, dy: int) -> np.ndarray:
    """Translate an (H, W) bool mask by (dx, dy) pixels; what leaves the frame is lost."""
    if dx == 0 and dy == 0:
        return mask
    height, width = mask.shape
    out = np.zeros_like(mask)
    src_x, dst_x = (
        (slice(0, width - dx), slice(dx, width)) if dx >= 0 else (slice(-dx, width), slice(0, width + dx))
    )
    src_y, dst_y = (
        (slice(0, height - dy), slice(dy, height)) if dy >= 0 else (slice(-dy, height), slice(0, height + dy))
    )
    out[dst_y, dst_x] = mask[src_y, src_x]
    return out
