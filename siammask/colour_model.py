"""Colour model of the target (in the spirit of DAT, Possegger et al. 2015, and Staple, Bertinetto et al.
2016), an inference-only tracker option.

A small Siamese network may score another object or background clutter as high as the target, most of
all while the target is hidden. A colour histogram of the target against its surroundings is a cue the
network does not have to learn: each colour bin gets the probability that a pixel of that colour belongs
to the object,

    P(object | c) = H_fg(c) / (H_fg(c) + H_bg(c))      (0.5 for a colour seen in neither),

with H_fg the normalised histogram inside the target's box and H_bg the one of the rest of the search
crop. A candidate box's colour score is the mean of that probability inside it. The tracker may

* mix the colour score into the choice of the candidate: ``(1 - weight) * score + weight * colour``;
* call the target *not found* when the chosen box's colour score is below ``min_score`` (the step then
  holds like a weak one, and the result says so: ``TrackResult.found``);
* refit the model on found steps and blend it in at ``update_rate``;
* mix each pixel's colour probability into the pasted mask probability at ``mask_weight``, which
  sharpens the tiny network's coarse mask at the target's colour edges.

The reported score stays the network's raw foreground probability. Pure functions over arrays; the
tracker (``siammask.tracker``) owns when they run.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Added to both histograms so that a colour seen in neither gets probability 0.5, not 0 / 0.
_PRIOR = 1e-6


@dataclass(frozen=True)
class ColourRule:
    """weight: share of the colour score in the choice (0 = the network alone); min_score: a chosen box
    whose colour score is below this is *not found* (0 = never); update_rate: blend of the model refitted
    on each found step (0 = the init frame's model throughout); bins: histogram bins per BGR channel;
    mask_weight: share of the per-pixel colour probability in the mask probability (0 = the network's);
    min_init_side: a target whose init box is smaller than this across (``sqrt(w h)``, frame pixels)
    gets no colour model: a sliver's few pixels would call everything else not found."""

    weight: float = 0.0
    min_score: float = 0.0
    update_rate: float = 0.0
    bins: int = 16
    mask_weight: float = 0.0
    min_init_side: float = 0.0

    @property
    def enabled(self) -> bool:
        return self.weight > 0 or self.min_score > 0 or self.mask_weight > 0


@dataclass(frozen=True)
class ColourModel:
    """Normalised foreground and background histograms, (bins ** 3,) float64 each."""

    foreground: np.ndarray
    background: np.ndarray

    @property
    def bins(self) -> int:
        return round(len(self.foreground) ** (1 / 3))

    def object_probability(self) -> np.ndarray:
        """(bins ** 3,) float64: P(object | colour bin)."""
        fg, bg = self.foreground + _PRIOR, self.background + _PRIOR
        return fg / (fg + bg)


def bin_indices(patch_bgr: np.ndarray, bins: int) -> np.ndarray:
    """(H, W) int64 colour bin of each pixel of an (H, W, 3) uint8 patch (``bins`` per channel)."""
    if 256 % bins:
        raise ValueError(f"colour bins must divide 256, got {bins}")
    quantised = patch_bgr.astype(np.int64) // (256 // bins)
    return (quantised[..., 0] * bins + quantised[..., 1]) * bins + quantised[..., 2]


def _normalised(counts: np.ndarray) -> np.ndarray:
    total = counts.sum()
    return counts / total if total > 0 else counts


def box_edges(
    shape_hw: tuple[int, int], boxes_cxcywh: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Pixel edges (x0, x1, y0, y1), int64 (K,) each, of boxes (4, K) rows (cx, cy, w, h) given relative
    to the centre of a patch of ``shape_hw``, rounded (half to even) and clipped to the patch."""
    height, width = shape_hw
    cx, cy, w, h = (np.asarray(boxes_cxcywh[i], dtype=np.float64) for i in range(4))
    x0 = np.clip(np.round(width / 2 + cx - w / 2), 0, width).astype(np.int64)
    x1 = np.clip(np.round(width / 2 + cx + w / 2), 0, width).astype(np.int64)
    y0 = np.clip(np.round(height / 2 + cy - h / 2), 0, height).astype(np.int64)
    y1 = np.clip(np.round(height / 2 + cy + h / 2), 0, height).astype(np.int64)
    return x0, x1, y0, y1


def fit_colour_model(indices: np.ndarray, box_cxcywh: np.ndarray, bins: int) -> ColourModel:
    """Histograms of a patch's bin ``indices`` inside ``box_cxcywh`` (relative to the patch centre, patch
    pixels) and outside it."""
    x0, x1, y0, y1 = (int(edge[0]) for edge in box_edges(indices.shape, np.reshape(box_cxcywh, (4, 1))))
    inside = np.zeros(indices.shape, dtype=bool)
    inside[y0:y1, x0:x1] = True
    size = bins**3
    foreground = np.bincount(indices[inside], minlength=size).astype(np.float64)
    background = np.bincount(indices[~inside], minlength=size).astype(np.float64)
    return ColourModel(_normalised(foreground), _normalised(background))


def blend(model: ColourModel, new: ColourModel, rate: float) -> ColourModel:
    """``(1 - rate) * model + rate * new``, histogram by histogram."""
    return ColourModel(
        (1 - rate) * model.foreground + rate * new.foreground,
        (1 - rate) * model.background + rate * new.background,
    )


def box_colour_scores(probability_map: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Mean of an (H, W) probability map inside each of ``boxes`` (4, K) rows (cx, cy, w, h) relative to
    the map's centre (as ``siammask.anchors.decode_boxes`` gives them) -> (K,) float64; a box that
    leaves the map is clipped to it, an empty one scores 0."""
    height, width = probability_map.shape
    integral = np.zeros((height + 1, width + 1))
    integral[1:, 1:] = probability_map.cumsum(0).cumsum(1)
    x0, x1, y0, y1 = box_edges((height, width), boxes)
    total = integral[y1, x1] - integral[y0, x1] - integral[y1, x0] + integral[y0, x0]
    area = (x1 - x0) * (y1 - y0)
    return np.where(area > 0, total / np.maximum(area, 1), 0.0)


def mixed_scores(scores: np.ndarray, colour_scores: np.ndarray, weight: float) -> np.ndarray:
    """What the candidate is chosen by: ``(1 - weight) * scores + weight * colour_scores`` (float64)."""
    return (1 - weight) * scores.astype(np.float64) + weight * colour_scores


def fused_mask_region(
    region: np.ndarray, image_region_bgr: np.ndarray, model: ColourModel, weight: float
) -> np.ndarray:
    """``(1 - weight) * region + weight * P(object | colour)`` on the pasted mask region's pixels (the
    image pixels under it, same (h, w)); pixels outside the pasted square (-1) stay -1."""
    probability = model.object_probability()[bin_indices(image_region_bgr, model.bins)]
    fused = ((1 - weight) * region + weight * probability).astype(np.float32)
    return np.where(region < 0, region, fused)
