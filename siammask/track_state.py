"""What the tracker keeps per track (``TrackerState``) and returns per step (``TrackResult``)."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from siammask.boxes import mask_box
from siammask.colour_model import ColourModel
from siammask.model import TemplateKernels


class TrackerInputError(ValueError):
    """A frame or box handed to the tracker is unusable (wrong shape/dtype, empty box, frame size change)."""


def check_frame(image: np.ndarray) -> None:
    """TrackerInputError unless ``image`` is an (H, W, 3) uint8 BGR frame."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        desc = f"{image.dtype} {image.shape}" if isinstance(image, np.ndarray) else type(image).__name__
        raise TrackerInputError(f"tracker: expected an HxWx3 uint8 BGR frame, got {desc}")


def model_device(model: torch.nn.Module) -> torch.device:
    """Device of a network's first parameter (CPU for a network without parameters)."""
    for tensor in model.parameters():
        return tensor.device
    return torch.device("cpu")


@dataclass
class TrackerState:
    """Per-track state, updated in place by the tracker (``track``, ``recenter``); callers only read it.

    target_pos: (2,) float64 centre (x, y) in frame pixels; target_sz: (2,) float64 (w, h);
    kernels: this track's cached template kernels (length 1), computed once at init;
    avg_chans: (3,) float64 per-channel BGR mean of the init frame (crop padding colour);
    image_hw: frame size at init; score: raw foreground probability of the last step (1.0 after init);
    distractors: (M, C, 5, 5) cls kernels of remembered distractors (``siammask.distractors``), or None;
    velocity: (2,) float64 smoothed centre displacement per confident step (px/frame), for coasting;
    colour: the target's colour model (``siammask.colour_model``), or None when that option is off or the
    init box was under ``colour_min_init_side`` across.
    """

    target_pos: np.ndarray
    target_sz: np.ndarray
    kernels: TemplateKernels
    avg_chans: np.ndarray
    image_hw: tuple[int, int]
    score: float = 1.0
    frames_tracked: int = 0
    distractors: torch.Tensor | None = None
    velocity: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(2))
    colour: ColourModel | None = None

    @property
    def box_xywh(self) -> np.ndarray:
        """(4,) float64 axis-aligned box (x, y, w, h) of the current state."""
        return np.concatenate([self.target_pos - self.target_sz / 2, self.target_sz])

    def move_towards(self, box_xywh: Sequence[float], weight: float) -> None:
        """Move centre and size towards a box (x, y, w, h) by ``weight`` in [0, 1], in place.

        w, h are the RAW extents x1 - x0, y1 - y0 computed in float64 (not clamped): the centre is taken as
        (x + (x + w)) / 2, which equals the corner midpoint (x0 + x1) / 2 bit for bit whenever x + w gives
        back x1 (always for float32 corners), and the size is max(w, 1) x max(h, 1).
        """
        if not 0.0 <= weight <= 1.0:
            raise TrackerInputError(f"tracker recenter: weight must be in [0, 1], got {weight}")
        x, y, w, h = (float(v) for v in box_xywh)
        if not np.isfinite([x, y, w, h]).all():
            raise TrackerInputError(f"tracker recenter: box must be finite, got {list(box_xywh)}")
        center = np.array([(x + (x + w)) / 2, (y + (y + h)) / 2])
        size = np.array([max(w, 1.0), max(h, 1.0)])
        self.target_pos = (1 - weight) * np.asarray(self.target_pos, dtype=np.float64) + weight * center
        self.target_sz = (1 - weight) * np.asarray(self.target_sz, dtype=np.float64) + weight * size

    def copy(self) -> TrackerState:
        """Independent copy (arrays copied; kernels, distractors and the colour model are never changed in
        place: shared)."""
        return dataclasses.replace(
            self,
            target_pos=self.target_pos.copy(),
            target_sz=self.target_sz.copy(),
            avg_chans=self.avg_chans.copy(),
            velocity=self.velocity.copy(),
        )


@dataclass(frozen=True)
class PolygonRule:
    """How ``TrackResult.polygon`` is fitted: strategy (siammask.boxes), the minimum contour area, and the
    box used below it (the unclipped new box, as the released tracker)."""

    strategy: str
    min_area: float
    fallback_box_xywh: tuple[float, float, float, float]


@dataclass(eq=False)
class TrackResult:
    """Output of one step for one track.

    The mask is kept as the region of the frame the pasted mask reaches (the frame is -1 / False outside):
    mask_prob_region: (h, w) float32 probabilities at column, row ``mask_origin``; ``mask_region`` /
    ``mask_box`` give the thresholded region and its (x0, y0, x1, y1) bounds, so a caller can encode or
    compare masks without touching the whole frame. ``mask`` ((H, W) bool = mask_prob > seg_thr),
    ``mask_prob`` ((H, W) float32, -1 outside the pasted square) and ``polygon`` ((4, 2) float32 corners by
    the tracker's box strategy) are computed on first access.
    box: (4,) float64 axis-aligned (x, y, w, h) of the clipped updated state; score: raw foreground
    probability of the stage-1 best candidate; best_index: its index a*625 + y*25 + x;
    mask_pos_yx / mask_score: response cell the mask was refined at and its raw foreground probability
    (stage 2's in the two-stage cascade, else the stage-1 best cell). found: False when the colour model
    (``colour_min_score``, off in the released presets) says the target is not in view: the mask is then
    where the target would be, and a caller may read the frame as empty.
    """

    mask_prob_region: np.ndarray
    mask_origin: tuple[int, int]
    image_hw: tuple[int, int]
    seg_thr: float
    box: np.ndarray
    score: float
    best_index: int
    mask_pos_yx: tuple[int, int]
    mask_score: float
    polygon_rule: PolygonRule
    found: bool = True

    @property
    def mask_box(self) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1), ends exclusive: the frame region outside which the mask is False."""
        x0, y0 = self.mask_origin
        return x0, y0, x0 + self.mask_prob_region.shape[1], y0 + self.mask_prob_region.shape[0]

    @functools.cached_property
    def mask_region(self) -> np.ndarray:
        """(h, w) bool: mask_prob_region > seg_thr."""
        return self.mask_prob_region > self.seg_thr

    @functools.cached_property
    def mask_prob(self) -> np.ndarray:
        """(H, W) float32 pasted probabilities, -1 outside the region."""
        full = np.full(self.image_hw, -1.0, dtype=np.float32)
        x0, y0, x1, y1 = self.mask_box
        full[y0:y1, x0:x1] = self.mask_prob_region
        return full

    @functools.cached_property
    def mask(self) -> np.ndarray:
        """(H, W) bool frame mask."""
        full = np.zeros(self.image_hw, dtype=bool)
        x0, y0, x1, y1 = self.mask_box
        full[y0:y1, x0:x1] = self.mask_region
        return full

    @functools.cached_property
    def polygon(self) -> np.ndarray:
        """(4, 2) float32 box of the mask by the rule's strategy, or the fallback box's corners."""
        rule = self.polygon_rule
        return mask_box(
            self.mask_region,
            self.mask_origin,
            rule.fallback_box_xywh,
            rule.min_area,
            rule.strategy,
        )
