"""The size-independent crop and the region paste equal the released pad-then-resize crop and the
full-frame warpAffine paste bit for bit (property tests)."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest

from siammask.crops import (
    SPARSE_MIN_SIDE,
    _crop_reference,
    crop_subwindow,
    crop_window,
    paste_mask,
    paste_mask_region,
)
from siammask.opencv_exact import PaddedFrame, resize_window_sparse


def _resize_sparse(image, window, out, fill):
    return resize_window_sparse(image, window.x0, window.y0, window.size, out, fill)


def _padded_resize(image: np.ndarray, center: tuple[float, float], out: int, side: int, fill: np.ndarray):
    """Independent oracle: pad with cv2.copyMakeBorder (fast for big sides), then cv2.resize INTER_LINEAR."""
    window = crop_window(center, side)
    height, width = image.shape[:2]
    x0, y0 = max(window.x0, 0), max(window.y0, 0)
    x1, y1 = min(window.x0 + side, width), min(window.y0 + side, height)
    if x0 < x1 and y0 < y1:
        core, top, left = image[y0:y1, x0:x1], y0 - window.y0, x0 - window.x0
    else:  # the window misses the image: a 1x1 fill pixel grown by the border
        core, top, left = np.broadcast_to(fill, (1, 1, 3)).copy(), 0, 0
    bottom, right = side - top - core.shape[0], side - left - core.shape[1]
    padded = cv2.copyMakeBorder(core, top, bottom, left, right, cv2.BORDER_CONSTANT, value=fill.tolist())
    return padded if side == out else cv2.resize(padded, (out, out), interpolation=cv2.INTER_LINEAR)


def _random_image(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    noise = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    return noise if rng.random() < 0.5 else cv2.GaussianBlur(noise, (0, 0), 4.0)  # noisy or smooth


def test_crop_equals_pad_then_resize_on_random_cases() -> None:
    rng = np.random.default_rng(9001)
    paths = {"sparse": 0, "reference": 0}
    padded = PaddedFrame(margin=300)  # windows reaching further out take the gather path
    garbage = rng.integers(0, 256, (900, 900, 3), dtype=np.uint8)
    for _ in range(1200):
        height, width = (int(v) for v in rng.integers(1, 300, 2))
        image = _random_image(rng, height, width)
        side = int(np.exp(rng.uniform(np.log(10), np.log(4000))))  # crop sides 10 .. 4000, log-uniform
        out = int(rng.choice([255, 127]))
        center = (float(rng.uniform(-side, width + side)), float(rng.uniform(-side, height + side)))
        fill = rng.integers(0, 256, 3).astype(np.uint8)
        expected = _padded_resize(image, center, out, side, fill)
        got = crop_subwindow(image, center, out, side, fill)
        assert got.dtype == np.uint8 and got.flags.c_contiguous
        np.testing.assert_array_equal(got, expected, err_msg=f"{height}x{width} {center} {side}->{out}")
        padded.reset(image)  # the frame in a buffer whose margins hold garbage, reaching some windows
        padded._buffer = garbage[: height + 2 * padded.margin, : width + 2 * padded.margin]
        got = crop_subwindow(image, center, out, side, fill, padded)
        np.testing.assert_array_equal(
            got, expected, err_msg=f"padded {height}x{width} {center} {side}->{out}"
        )
        window = crop_window(center, side)
        inside = window.x0 >= 0 and window.y0 >= 0
        inside = inside and window.x0 + side <= width and window.y0 + side <= height
        if side > SPARSE_MIN_SIDE and not inside:
            paths["sparse"] += 1
        else:
            paths["reference"] += 1
            if side != out:  # the sparse path also where crop_subwindow does not choose it
                np.testing.assert_array_equal(_resize_sparse(image, window, out, fill), expected)
    assert min(paths.values()) > 250  # both paths of crop_subwindow were exercised


def test_padded_view_crops_equal_pad_then_resize() -> None:
    # windows of a few hundred pixels that leave a larger frame, where most of the crop comes from cv2.resize
    # of a view into the padded buffer (garbage outside the frame) and a band along the frame edge is gathered
    rng = np.random.default_rng(9008)
    padded = PaddedFrame(margin=400)
    garbage = rng.integers(0, 256, (1700, 1700, 3), dtype=np.uint8)
    views = 0
    for _ in range(300):
        height, width = (int(v) for v in rng.integers(100, 900, 2))
        image = _random_image(rng, height, width)
        side = int(rng.integers(401, 1300))
        out = int(rng.choice([255, 127]))
        center = (float(rng.uniform(-100, width + 100)), float(rng.uniform(-100, height + 100)))
        fill = rng.integers(0, 256, 3).astype(np.uint8)
        padded.reset(image)
        padded._buffer = garbage[: height + 2 * padded.margin, : width + 2 * padded.margin]
        window = crop_window(center, side)
        views += padded.view(window.x0, window.y0, side) is not None
        padded.reset(image)
        got = crop_subwindow(image, center, out, side, fill, padded)
        np.testing.assert_array_equal(got, _padded_resize(image, center, out, side, fill))
    assert views > 100


@pytest.mark.parametrize("side", [254, 510, 765, 1020, 256, 509, 511, 100, 127, 255])
def test_crop_special_scales(side: int) -> None:
    # exact 2x (OpenCV switches to INTER_AREA), 3x and 4x, near-2x, upscales and no resize at all
    rng = np.random.default_rng(9002)
    image = _random_image(rng, 200, 300)
    fill = np.array([7, 130, 250], dtype=np.uint8)
    for out in (255, 127):
        for center in [(150.0, 100.0), (-40.5, 20.0), (310.0, 230.0), (5.0, -300.0), (-2000.0, 50.0)]:
            expected = _padded_resize(image, center, out, side, fill)
            np.testing.assert_array_equal(crop_subwindow(image, center, out, side, fill), expected)
            np.testing.assert_array_equal(_crop_reference(image, center, out, side, fill), expected)
            if side != out:
                np.testing.assert_array_equal(
                    _resize_sparse(image, crop_window(center, side), out, fill), expected
                )


def test_crop_matches_the_released_implementation_on_a_full_frame() -> None:
    rng = np.random.default_rng(9003)
    frame = _random_image(rng, 720, 1280)
    for _ in range(15):
        side = int(rng.integers(300, 3200))
        center = (float(rng.uniform(-200, 1480)), float(rng.uniform(-200, 920)))
        fill = rng.integers(0, 256, 3).astype(np.uint8)
        np.testing.assert_array_equal(
            crop_subwindow(frame, center, 255, side, fill), _crop_reference(frame, center, 255, side, fill)
        )


def test_large_crop_cost_does_not_grow_with_the_side() -> None:
    # measured ~100x at side 3000 on a 1280x720 frame (scripts/bench_host.py); 5x leaves room for a busy CPU
    frame = _random_image(np.random.default_rng(9004), 720, 1280)
    fill = np.array([100, 110, 120], dtype=np.uint8)
    new, old = [], []
    for _ in range(5):
        started = time.perf_counter()
        crop_subwindow(frame, (640.0, 360.0), 255, 3000, fill)
        middle = time.perf_counter()
        _crop_reference(frame, (640.0, 360.0), 255, 3000, fill)
        new.append(middle - started)
        old.append(time.perf_counter() - middle)
    assert np.median(old) / np.median(new) > 5


def test_region_paste_equals_the_full_frame_warp_on_random_squares() -> None:
    rng = np.random.default_rng(9005)
    for _ in range(400):
        height, width = int(rng.integers(2, 800)), int(rng.integers(2, 1400))
        side = float(np.exp(rng.uniform(np.log(3), np.log(4000))))
        square = (float(rng.uniform(-side - 5, width + 5)), float(rng.uniform(-side - 5, height + 5)), side)
        mask_side = int(rng.choice([127, 63]))
        prob = rng.random((mask_side, mask_side)).astype(np.float32)
        expected = paste_mask(prob, square, (height, width))
        x0, y0, region = paste_mask_region(prob, square, (height, width))
        full = np.full((height, width), -1.0, dtype=np.float32)
        full[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]] = region
        assert full.tobytes() == expected.tobytes(), (height, width, square)
        if region.size:  # the region is tight: its border rows/columns are reached by the mask
            assert (region[[0, -1], :] != -1).any(axis=1).all() and (region[:, [0, -1]] != -1).any(
                axis=0
            ).all()
