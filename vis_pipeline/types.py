"""Small typed containers passed between pipeline stages."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from vis_pipeline.masks import RLE


@dataclass
class Detections:
    """Detector output for one frame, at the frame's original resolution.

    boxes:  (N, 4) float32, xyxy in pixels
    scores: (N,) float32 in [0, 1]
    labels: (N,) int64, dataset category ids (1-based, after class mapping)
    masks:  N compressed RLE dicts (``vis_pipeline.masks``), size == [H, W]
    """

    boxes: np.ndarray
    scores: np.ndarray
    labels: np.ndarray
    masks: list[RLE] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.boxes = np.asarray(self.boxes, dtype=np.float32).reshape(-1, 4)
        self.scores = np.asarray(self.scores, dtype=np.float32).reshape(-1)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        n = len(self.boxes)
        if not (len(self.scores) == len(self.labels) == len(self.masks) == n):
            raise ValueError(
                f"Detections: inconsistent lengths boxes={n} scores={len(self.scores)} "
                f"labels={len(self.labels)} masks={len(self.masks)}"
            )

    def __len__(self) -> int:
        return len(self.boxes)

    @property
    def boxes_xywh(self) -> np.ndarray:
        """(N, 4) float64 ``x, y, w, h`` of the xyxy boxes, w = x1 - x0 and h = y1 - y0 as they are
        (see :meth:`boxes_xywh_min` for boxes that must have a positive size)."""
        boxes = self.boxes.astype(np.float64)
        return np.concatenate([boxes[:, :2], boxes[:, 2:] - boxes[:, :2]], axis=1)

    def boxes_xywh_min(self, min_size: float = 1.0) -> np.ndarray:
        """:attr:`boxes_xywh` with w and h raised to ``min_size`` (SiamMask's init needs a size)."""
        xywh = self.boxes_xywh
        xywh[:, 2:] = np.maximum(xywh[:, 2:], min_size)
        return xywh

    @classmethod
    def empty(cls) -> Detections:
        return cls(np.zeros((0, 4)), np.zeros(0), np.zeros(0), [])

    def select(self, keep: np.ndarray | list[int]) -> Detections:
        """Subset by integer indices or a boolean mask."""
        idx = np.arange(len(self))[np.asarray(keep)] if len(self) else np.zeros(0, dtype=np.int64)
        return Detections(self.boxes[idx], self.scores[idx], self.labels[idx], [self.masks[i] for i in idx])
