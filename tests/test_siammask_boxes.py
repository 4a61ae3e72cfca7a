"""Box strategies from a mask (min_max, mbr, opt) on masks whose answer is known by hand, and the
region-based contour against the whole-frame OpenCV call."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from siammask.boxes import box_corners, largest_contour, mask_box

FRAME_HW = (130, 160)


def _box(mask: np.ndarray, strategy: str) -> np.ndarray:
    return mask_box(mask, (0, 0), (0.0, 0.0, 1.0, 1.0), 100.0, strategy)


def _corner_set(polygon: np.ndarray) -> set[tuple[int, int]]:
    return {tuple(p) for p in np.round(polygon).astype(int).tolist()}


def _rect_params(polygon: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, sorted side lengths and the angle (degrees, mod 90) of the long side of a 4-corner box."""
    sides = [polygon[(i + 1) % 4] - polygon[i] for i in range(2)]
    lengths = np.array([np.hypot(*side) for side in sides])
    long_side = sides[int(np.argmax(lengths))]
    angle = float(np.degrees(np.arctan2(long_side[1], long_side[0]))) % 180
    return polygon.mean(axis=0), np.sort(lengths), angle


def _iou_with(polygon: np.ndarray, mask: np.ndarray) -> float:
    drawn = np.zeros(mask.shape, np.uint8)
    cv2.fillPoly(drawn, [np.round(polygon * 8).astype(np.int32)], 1, shift=3)
    return float((drawn.astype(bool) & mask).sum() / (drawn.astype(bool) | mask).sum())


def test_axis_aligned_rectangle() -> None:
    mask = np.zeros(FRAME_HW, bool)
    mask[20:50, 10:60] = True  # rows 20..49, columns 10..59
    expected = {(10, 20), (59, 20), (59, 49), (10, 49)}  # through the extreme pixel centres
    assert _corner_set(_box(mask, "min_max")) == expected
    assert _box(mask, "min_max").tolist() == [[10, 20], [59, 20], [59, 49], [10, 49]]
    assert _corner_set(_box(mask, "mbr")) == expected
    # opt covers the pixels as unit squares: sides on the pixel edges 9.5 .. 59.5, 19.5 .. 49.5
    center, sides, _ = _rect_params(_box(mask, "opt"))
    np.testing.assert_allclose(center, [34.5, 34.5], atol=0.5)
    np.testing.assert_allclose(sides, [30, 50], atol=1.0)


def test_rotated_rectangle() -> None:
    mask = np.zeros(FRAME_HW, np.uint8)
    drawn = cv2.boxPoints(((80.0, 65.0), (70.0, 26.0), 30.0))
    cv2.fillPoly(mask, [np.round(drawn).astype(np.int32)], 1)
    mask = mask.astype(bool)
    # min_max: the axis-aligned extent, half sides 35 cos 30 + 13 sin 30 = 36.8, 35 sin 30 + 13 cos 30 = 28.8
    center, sides, angle = _rect_params(_box(mask, "min_max"))
    np.testing.assert_allclose(center, [80, 65], atol=1.0)
    np.testing.assert_allclose(sides, [2 * 28.76, 2 * 36.81], atol=2.0)
    assert angle in (0.0, 90.0)
    for strategy in ("mbr", "opt"):  # both recover the drawn rectangle
        polygon = _box(mask, strategy)
        center, sides, angle = _rect_params(polygon)
        np.testing.assert_allclose(center, [80, 65], atol=1.0)
        np.testing.assert_allclose(sides, [26, 70], atol=2.0)
        assert abs(angle - 30.0) < 3.0, (strategy, angle)
        assert _iou_with(polygon, mask) > 0.9


def test_l_shape() -> None:
    mask = np.zeros(FRAME_HW, bool)
    mask[10:110, 20:30] = True  # the bar: 10 x 100 pixels
    mask[100:110, 30:70] = True  # the foot: 40 x 10 pixels
    assert _corner_set(_box(mask, "min_max")) == {(20, 10), (69, 10), (69, 109), (20, 109)}
    # mbr: the smallest enclosing rectangle, no larger than the axis-aligned one, holding every pixel
    mbr = _box(mask, "mbr")
    _, sides, _ = _rect_params(mbr)
    assert sides[0] * sides[1] <= 49 * 99 + 1e-3
    points = np.argwhere(mask)[:, ::-1].astype(np.float32)
    inside = [cv2.pointPolygonTest(mbr.reshape(-1, 1, 2), tuple(map(float, p)), True) >= -0.5 for p in points]
    assert all(inside)
    # opt: widening the bar by a columns gives IoU (1000 + 10a) / (1400 + 90a), falling in a; the foot alone
    # or the whole box score 0.29 and 0.28: the best cover is the bar, IoU 1000 / 1400
    opt = _box(mask, "opt")
    center, sides, angle = _rect_params(opt)
    np.testing.assert_allclose(center, [24.5, 59.5], atol=1.5)
    np.testing.assert_allclose(sides, [10, 100], atol=2.0)
    assert _iou_with(opt, mask) > 0.69


def test_small_or_empty_masks_fall_back_to_the_given_box() -> None:
    mask = np.zeros(FRAME_HW, bool)
    mask[20:30, 40:50] = True  # contour area 81 <= 100
    fallback = (5.5, 6.0, 20.0, 10.0)
    for strategy in ("min_max", "mbr", "opt"):
        polygon = mask_box(mask, (0, 0), fallback, 100.0, strategy)
        np.testing.assert_array_equal(polygon, box_corners(fallback))
    with pytest.raises(ValueError, match="box strategy"):
        mask_box(mask, (0, 0), fallback, 100.0, "ellipse")


def test_region_contour_equals_the_whole_frame_contour() -> None:
    rng = np.random.default_rng(9007)
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(5, 80, 2))
        frame = np.zeros((height, width), bool)
        y0, x0 = int(rng.integers(0, height)), int(rng.integers(0, width))
        y1, x1 = int(rng.integers(y0 + 1, height + 1)), int(rng.integers(x0 + 1, width + 1))
        frame[y0:y1, x0:x1] = rng.random((y1 - y0, x1 - x0)) < rng.uniform(
            0.3, 0.95
        )  # touches frame edges too
        contours, _ = cv2.findContours(frame.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
        areas = [cv2.contourArea(c) for c in contours]
        expected = contours[int(np.argmax(areas))].reshape(-1, 2) if contours and max(areas) > 2 else None
        got = largest_contour(frame[y0:y1, x0:x1], (x0, y0), 2.0)
        if expected is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, expected)
