"""Boxes from a tracker mask: the three strategies of the paper's single-object mode (§4, Table 4).

All three fit the largest external contour of the binary mask (what the released tracker uses), in frame
pixel coordinates, and return (4, 2) float32 corners; a mask whose largest contour is not larger than
``min_area`` gets the caller's fallback box instead.

* ``min_max``: the axis-aligned box of the contour (pixel centres of the extreme pixels);
* ``mbr``: the minimum-area rotated rectangle of the contour (``cv2.minAreaRect``, the released tracker);
* ``opt``: the rotated rectangle that best covers the mask: the highest IoU with the filled contour,
  mask pixels taken as unit squares (the idea of VOT-2016's automatic rotated ground truth, which fits a
  rectangle to the segmentation by optimising its overlap; VOT weighs the rectangle's background pixels,
  we weigh them 1, i.e. plain IoU). Nelder-Mead over centre, size and angle from the ``mbr`` rectangle;
  slower (a few ms to tens of ms per mask).

The starting corner of ``cv2.boxPoints`` varies between OpenCV 4.x releases: compare polygons as corner sets.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

BOX_STRATEGIES = ("min_max", "mbr", "opt")


def box_corners(box_xywh: Sequence[float]) -> np.ndarray:
    """(4, 2) float32 corners of an axis-aligned box: top-left, top-right, bottom-right, bottom-left."""
    x, y, w, h = (float(v) for v in box_xywh)
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], dtype=np.float32)


def largest_contour(region: np.ndarray, origin_xy: tuple[int, int], min_area: float) -> np.ndarray | None:
    """(N, 2) int32 frame coordinates of the largest external contour of a mask, if its area > min_area.

    ``region`` is the (h, w) bool part of an (H, W) frame mask at column, row ``origin_xy``; the frame is
    False elsewhere. The result equals ``cv2.findContours`` on the whole frame (which pads the image with one
    background pixel itself): the region is padded with one False pixel, the value the frame has there.
    """
    height, width = region.shape
    x0, y0 = origin_xy
    padded = np.zeros((height + 2, width + 2), dtype=np.uint8)
    padded[1:-1, 1:-1] = region
    contours, _ = cv2.findContours(padded, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    if not contours:
        return None
    # areas and rectangles on frame coordinates, so that every float operation matches a full-frame call
    points = [contour.reshape(-1, 2) + np.array([x0 - 1, y0 - 1], dtype=np.int32) for contour in contours]
    areas = [cv2.contourArea(p) for p in points]
    largest = int(np.argmax(areas))
    return points[largest] if areas[largest] > min_area else None


def min_max_corners(points: np.ndarray) -> np.ndarray:
    """Axis-aligned box of the points: corners at the extreme pixel centres, from the top-left, clockwise."""
    (x_min, y_min), (x_max, y_max) = points.min(axis=0), points.max(axis=0)
    return box_corners((x_min, y_min, x_max - x_min, y_max - y_min))


def mbr_corners(points: np.ndarray) -> np.ndarray:
    """Minimum-area rotated rectangle of the points (``cv2.boxPoints(cv2.minAreaRect(points))``)."""
    return cv2.boxPoints(cv2.minAreaRect(points)).astype(np.float32)


def _iou_fn(pixels: np.ndarray):
    """IoU of a rotated rectangle (cx, cy, w, h, angle in radians) with the unit-square pixels (N, 2)."""

    def iou(params: np.ndarray) -> float:
        center_x, center_y, box_w, box_h, angle = params
        if box_w <= 0 or box_h <= 0:
            return 0.0
        cos, sin = np.cos(angle), np.sin(angle)
        rel_x, rel_y = pixels[:, 0] - center_x, pixels[:, 1] - center_y
        along, across = rel_x * cos + rel_y * sin, -rel_x * sin + rel_y * cos
        inside = float(np.count_nonzero((np.abs(along) <= box_w / 2) & (np.abs(across) <= box_h / 2)))
        return inside / (len(pixels) + box_w * box_h - inside)

    return iou


def _best_aligned_rectangle(pixels: np.ndarray, angle: float) -> tuple[float, np.ndarray]:
    """Coarse IoU-best rectangle at ``angle``: pixels counted in 1-pixel bins of the rotated frame, each
    side moved in turn to its best bin position until none moves (prefix sums; from the full extent)."""
    cos, sin = np.cos(angle), np.sin(angle)
    along = pixels[:, 0] * cos + pixels[:, 1] * sin
    across = -pixels[:, 0] * sin + pixels[:, 1] * cos
    origin_u, origin_v = along.min() - 0.5, across.min() - 0.5
    bins_u = np.floor(along - origin_u).astype(np.int64)
    bins_v = np.floor(across - origin_v).astype(np.int64)
    counts = np.zeros((bins_v.max() + 1, bins_u.max() + 1))
    np.add.at(counts, (bins_v, bins_u), 1.0)
    prefix = np.zeros((counts.shape[0] + 1, counts.shape[1] + 1))
    prefix[1:, 1:] = counts.cumsum(0).cumsum(1)
    total = float(len(pixels))

    def iou(v0, v1, u0, u1):  # broadcasting over any one argument
        inside = prefix[v1, u1] - prefix[v0, u1] - prefix[v1, u0] + prefix[v0, u0]
        area = (np.asarray(v1) - v0) * (np.asarray(u1) - u0)
        return np.where(area > 0, inside / np.maximum(total + area - inside, 1e-9), 0.0)

    sides = [0, counts.shape[0], 0, counts.shape[1]]  # v0, v1, u0, u1 (bin edges)
    best = float(iou(*sides))
    for _ in range(20):
        moved = False
        for k, limit in enumerate((counts.shape[0], counts.shape[0], counts.shape[1], counts.shape[1])):
            candidates = np.arange(limit + 1)
            trial = [candidates if j == k else sides[j] for j in range(4)]
            scores = iou(*trial)
            choice = int(np.argmax(scores))
            if scores[choice] > best + 1e-12:
                best, sides[k], moved = float(scores[choice]), choice, True
        if not moved:
            break
    v0, v1, u0, u1 = sides
    center_u, center_v = origin_u + (u0 + u1) / 2, origin_v + (v0 + v1) / 2
    center = (center_u * cos - center_v * sin, center_u * sin + center_v * cos)
    return best, np.array([center[0], center[1], u1 - u0, v1 - v0, angle])


def opt_corners(points: np.ndarray) -> np.ndarray:
    """The rotated rectangle of maximum IoU with the filled contour ``points`` (mask pixels = unit squares).

    IoU(R, M) = |R n M| / (|M| + area(R) - |R n M|), |R n M| counting the mask pixel centres inside R.
    Search: for the minimum-area rectangle's angle and every 3 degrees of [0, 90), the best rectangle on a
    1-pixel grid of the rotated frame (``_best_aligned_rectangle``); then Nelder-Mead over centre, size
    and angle from the best of those, keeping whichever scores higher.
    """
    from scipy.optimize import minimize  # here: scipy.optimize costs ~0.3 s to import, only ``opt`` needs it

    x_min, y_min = points.min(axis=0)
    x_max, y_max = points.max(axis=0)
    filled = np.zeros((y_max - y_min + 1, x_max - x_min + 1), dtype=np.uint8)
    cv2.drawContours(filled, [points - np.array([x_min, y_min], dtype=np.int32)], 0, 1, thickness=cv2.FILLED)
    ys, xs = np.nonzero(filled)
    pixels = np.stack([xs + x_min, ys + y_min], axis=1).astype(np.float64)
    iou = _iou_fn(pixels)
    mbr_angle = np.deg2rad(cv2.minAreaRect(points)[2])
    angles = np.concatenate([[mbr_angle], np.deg2rad(np.arange(0.0, 90.0, 3.0))])
    _, start = max((_best_aligned_rectangle(pixels, angle) for angle in angles), key=lambda found: found[0])
    steps = np.array([1.0, 1.0, 0.05 * start[2] + 1.0, 0.05 * start[3] + 1.0, np.deg2rad(2.0)])
    result = minimize(
        lambda params: -iou(params),
        start,
        method="Nelder-Mead",
        options={"initial_simplex": np.vstack([start, start + np.diag(steps)]), "xatol": 0.05, "fatol": 1e-6},
    )
    best = result.x if -result.fun > iou(start) else start
    center_x, center_y, box_w, box_h, angle = best
    return cv2.boxPoints(((center_x, center_y), (box_w, box_h), float(np.rad2deg(angle)))).astype(np.float32)


def mask_box(
    region: np.ndarray,
    origin_xy: tuple[int, int],
    fallback_box_xywh: Sequence[float],
    min_area: float,
    strategy: str = "mbr",
) -> np.ndarray:
    """(4, 2) float32 box of a frame mask given as a region (see ``largest_contour``) by ``strategy``."""
    if strategy not in BOX_STRATEGIES:
        raise ValueError(f"box strategy must be one of {BOX_STRATEGIES}, got {strategy!r}")
    points = largest_contour(region, origin_xy, min_area)
    if points is None:
        return box_corners(fallback_box_xywh)
    if strategy == "min_max":
        return min_max_corners(points)
    if strategy == "mbr":
        return mbr_corners(points)
    return opt_corners(points)
