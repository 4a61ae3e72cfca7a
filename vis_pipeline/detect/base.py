"""The detector interface shared by the mmdet HTC adapter and the oracle detector.

A detector turns a list of frames (BGR uint8, HxWx3, all of one video) into one
:class:`~vis_pipeline.types.Detections` per frame, at the frames' original resolution, with
labels already mapped to the dataset's category ids. ``cache_key()`` is a stable string that
changes whenever anything that changes the detections changes (config, weights, test scale,
thresholds, class map); the detection cache stores files under it.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Protocol, runtime_checkable

import numpy as np

from siammask.checkpoint import (
    CheckpointError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    UntrustedCheckpointError,
)
from vis_pipeline.types import Detections


class DetectorError(RuntimeError):
    """Base class of the detector layer's errors (one-line messages)."""


# Checkpoint problems are the same for every network: one definition, in ``siammask.checkpoint``
# (the lowest layer), re-exported here for the detector code.
__all__ = [
    "CheckpointError",
    "CheckpointMismatchError",
    "CheckpointNotFoundError",
    "Detector",
    "DetectorConfigError",
    "DetectorError",
    "UntrustedCheckpointError",
    "VideoRef",
    "check_frames",
    "stable_hash",
]


class DetectorConfigError(DetectorError, ValueError):
    """A detector config value is missing or invalid."""


@runtime_checkable
class VideoRef(Protocol):
    """What the detector layer needs to know about a video (``vis_pipeline.data.Video`` fits)."""

    video_id: int
    name: str
    width: int
    height: int

    @property
    def length(self) -> int: ...


@runtime_checkable
class Detector(Protocol):
    """Frames in, per-frame detections out.

    ``detect(frames)`` takes frames of one video, each a BGR uint8 array of shape (H, W, 3),
    and returns ``len(frames)`` :class:`Detections`. Detectors that need to know which frames
    they see (the oracle) use ``video`` and ``frame_indices``; image detectors ignore them.
    """

    def detect(
        self,
        frames: list[np.ndarray],
        video: VideoRef | None = None,
        frame_indices: list[int] | None = None,
    ) -> list[Detections]: ...

    def cache_key(self) -> str: ...


def stable_hash(payload: Any, length: int = 16) -> str:
    """Short sha256 hex digest of a JSON-serialisable payload (sorted keys, so order-free)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def check_frames(frames: list[np.ndarray], where: str) -> tuple[int, int]:
    """Validate a batch of frames (each (H, W, 3) uint8, one size); returns (H, W)."""
    if not frames:
        raise ValueError(f"{where}: empty frame list")
    shape = frames[0].shape
    for i, frame in enumerate(frames):
        if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
            raise ValueError(
                f"{where}: frame {i} must be BGR uint8 (H, W, 3), got {frame.dtype} {frame.shape}"
            )
        if frame.shape != shape:
            raise ValueError(f"{where}: frame {i} has shape {frame.shape}, frame 0 has {shape}")
    return int(shape[0]), int(shape[1])
