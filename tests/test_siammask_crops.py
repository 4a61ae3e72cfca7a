"""Pure geometry of the SiamMask tracker: crops, anchors, window, decoding, best candidate, paste, polygon."""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest
import torch

from siammask.anchors import anchor_grid, anchor_shapes, choose_candidate, decode_boxes, score_window
from siammask.boxes import box_corners, mask_box
from siammask.crops import (
    clip_box,
    crop_subwindow,
    crop_window,
    crops_to_tensor,
    mask_square,
    pad_fill_value,
    paste_mask,
    round_half_even,
    search_crop,
    template_crop_size,
)
from siammask.hparams import TrackerConfigError, TrackerHParams, load_tracker_hparams, load_tracker_preset


def _coordinate_image(height: int = 120, width: int = 160) -> np.ndarray:
    """uint8 BGR image whose channel 0 = column, channel 1 = row, channel 2 = 200 (positions readable)."""
    image = np.empty((height, width, 3), dtype=np.uint8)
    image[:, :, 0] = np.arange(width)[None, :]
    image[:, :, 1] = np.arange(height)[:, None]
    image[:, :, 2] = 200
    return image


# ----------------------------------------------------------------------------- crops
def test_round_half_even_differs_from_floor_plus_half() -> None:
    assert [round_half_even(v) for v in (0.5, 1.5, 2.5, -0.5, -1.5, 2.4999)] == [0, 2, 2, 0, -2, 2]
    assert round_half_even(2.5) != math.floor(2.5 + 0.5)


def test_crop_corner_rounds_half_to_even() -> None:
    # crop_size 4: corner = centre - 2.5; centre x 5.0 -> 2.5 -> 2 (floor(x + .5) would give 3);
    # centre y 6.0 -> 3.5 -> 4 (both rules agree there)
    window = crop_window((5.0, 6.0), 4)
    assert (window.x0, window.y0, window.size) == (2, 4, 4)
    patch = crop_subwindow(_coordinate_image(), (5.0, 6.0), 4, 4, np.zeros(3, np.uint8))
    assert patch.shape == (4, 4, 3) and patch.dtype == np.uint8
    assert patch[0, :, 0].tolist() == [2, 3, 4, 5]  # columns
    assert patch[:, 0, 1].tolist() == [4, 5, 6, 7]  # rows


def test_pad_fill_truncates_channel_means() -> None:
    fill = pad_fill_value(np.array([127.9, 0.99, 254.5]))
    assert fill.dtype == np.uint8 and fill.tolist() == [127, 0, 254]


def test_crop_at_image_borders_matches_padded_canvas() -> None:
    image = _coordinate_image(40, 50)
    fill = pad_fill_value(np.array([10.7, 20.2, 30.9]))
    canvas_pad = 60  # independent formulation: pad the whole image with the fill colour, then slice
    canvas = cv2.copyMakeBorder(image, *(canvas_pad,) * 4, cv2.BORDER_CONSTANT, value=fill.tolist())
    for center, size in [((2.0, 3.0), 21), ((48.3, 39.9), 30), ((-20.0, 70.0), 15), ((25.0, 20.0), 101)]:
        window = crop_window(center, size)
        expected = canvas[
            window.y0 + canvas_pad : window.y0 + canvas_pad + size,
            window.x0 + canvas_pad : window.x0 + canvas_pad + size,
        ]
        patch = crop_subwindow(image, center, size, size, fill)
        np.testing.assert_array_equal(patch, expected)
    top_left = crop_subwindow(image, (2.0, 3.0), 21, 21, fill)
    assert top_left[0, 0].tolist() == [10, 20, 30]  # out-of-image pixel carries the truncated mean
    outside = crop_subwindow(image, (-20.0, 70.0), 15, 15, fill)  # window entirely outside the frame
    assert (outside == fill).all()


def test_crop_resize_is_opencv_linear_on_uint8() -> None:
    rng = np.random.default_rng(3)
    image = rng.integers(0, 256, (120, 160, 3), dtype=np.uint8)
    patch = crop_subwindow(image, (80.0, 60.0), 25, 51, np.zeros(3, np.uint8))
    window = crop_window((80.0, 60.0), 51)
    source = image[window.y0 : window.y0 + 51, window.x0 : window.x0 + 51]
    np.testing.assert_array_equal(patch, cv2.resize(source, (25, 25), interpolation=cv2.INTER_LINEAR))


def test_template_and_search_crop_sizes() -> None:
    # 30x20 box, context 0.5: side sqrt(55 * 45) = 49.75 -> template 50; search 49.75 * 255/127 = 99.89 -> 100
    assert template_crop_size((30.0, 20.0), 0.5) == 50
    assert template_crop_size((1.25, 1.25), 0.5) == 2  # side exactly 2.5: half to even (floor(x+.5) gives 3)
    crop = search_crop(np.array([65.0, 50.0]), np.array([30.0, 20.0]), 0.5, 127, 255)
    assert crop.crop_size == 100 and crop.scale_x == pytest.approx(127 / math.sqrt(55 * 45), rel=1e-12)
    assert crop.origin == (15.0, 0.0)  # centre - crop_size / 2, not the rounded crop corner


def test_clip_box_ranges() -> None:
    center, size = clip_box(np.array([-3.0, 130.5]), np.array([4.0, 500.0]), (120, 160), 10.0)
    assert center.tolist() == [0.0, 120.0] and size.tolist() == [10.0, 120.0]
    center, size = clip_box(np.array([170.0, 60.0]), np.array([200.0, 5.0]), (120, 160), 10.0)
    assert center.tolist() == [160.0, 60.0] and size.tolist() == [160.0, 10.0]
    assert center.dtype == np.float64


def test_crops_to_tensor_is_contiguous_nchw_float() -> None:
    crops = [np.random.default_rng(i).integers(0, 256, (9, 9, 3), dtype=np.uint8) for i in range(2)]
    x = crops_to_tensor(crops, "cpu")
    assert x.shape == (2, 3, 9, 9) and x.dtype == torch.float32
    # contiguous NCHW: the reference's (1, 3, S, S) tensors convolve as NCHW; channels-last strides pick
    # other conv kernels and change results in the last bits
    assert x.is_contiguous()
    assert x[1, 2, 4, 7].item() == crops[1][4, 7, 2] and x[0, 0, 8, 0].item() == crops[0][8, 0, 0]


# ----------------------------------------------------------------------------- anchors and scoring
def test_anchor_shapes_and_index_order() -> None:
    shapes = anchor_shapes((0.33, 0.5, 1, 2, 3), (8,), 8)
    assert shapes.tolist() == [[104, 32], [88, 40], [64, 64], [40, 80], [32, 96]]
    anchors = anchor_grid((0.33, 0.5, 1, 2, 3), (8,), 8, 25)
    assert anchors.shape == (3125, 4) and anchors.dtype == np.float32
    for a, y, x in [(0, 0, 0), (1, 3, 17), (4, 24, 24), (2, 12, 12), (3, 20, 1)]:
        i = a * 625 + y * 25 + x
        assert anchors[i].tolist() == [(x - 12) * 8, (y - 12) * 8, *shapes[a].tolist()]


def test_cosine_window_zero_at_ends_and_tiled_per_anchor() -> None:
    window = score_window(25, 5, "cosine")
    assert window.shape == (3125,)
    grid = window.reshape(5, 25, 25)
    assert (grid[:, 0, :] == 0).all() and (grid[:, -1, :] == 0).all() and (grid[:, :, 0] == 0).all()
    assert np.array_equal(grid[0], grid[4]) and grid[0].argmax() == 12 * 25 + 12
    assert (score_window(25, 5, "uniform") == 1).all()


def test_decode_boxes() -> None:
    anchors = np.array([[8.0, -16.0, 64.0, 32.0]], dtype=np.float32)
    deltas = np.array([[0.5], [-0.25], [math.log(2.0)], [0.0]], dtype=np.float32)
    boxes = decode_boxes(deltas, anchors)
    assert boxes.dtype == np.float32
    np.testing.assert_allclose(boxes[:, 0], [0.5 * 64 + 8, -0.25 * 32 - 16, 128.0, 32.0], rtol=1e-6)


def test_choose_candidate_penalises_size_change_and_uses_window() -> None:
    anchors = anchor_grid((0.33, 0.5, 1, 2, 3), (8,), 8, 25)
    window = score_window(25, 5, "cosine")
    boxes = decode_boxes(np.zeros((4, 3125), np.float32), anchors)
    scores = np.full(3125, 0.01, np.float32)
    same_shape, other_shape = 2 * 625 + 12 * 25 + 12, 0 * 625 + 12 * 25 + 12  # 64x64 vs 104x32 at centre
    scores[[same_shape, other_shape]] = 0.9
    best = choose_candidate(scores, boxes, np.array([64.0, 64.0]), window, 0.04, 0.4, 25)
    assert best.index == same_shape and best.anchor == 2 and best.pos_yx == (12, 12)
    assert best.penalty == 1.0 and best.score == np.float32(0.9)
    # with a 104x32 target the elongated anchor wins instead
    assert (
        choose_candidate(scores, boxes, np.array([104.0, 32.0]), window, 0.04, 0.4, 25).index == other_shape
    )
    # a far-off high score loses against the window when window_influence is large
    scores[:] = 0.0
    scores[2 * 625 + 1 * 25 + 1] = 1.0
    assert choose_candidate(scores, boxes, np.array([64.0, 64.0]), window, 0.04, 0.9, 25).pos_yx == (12, 12)
    assert choose_candidate(scores, boxes, np.array([64.0, 64.0]), window, 0.04, 0.0, 25).pos_yx == (1, 1)


# ----------------------------------------------------------------------------- paste and polygon
def test_mask_square_geometry() -> None:
    # crop of side 510 (scale 2) whose origin is (-100, 30); cell (y, x) = (6, 4): x at origin + 0, y + 2*8*2
    square = mask_square((-100.0, 30.0), 510, (6, 4), 255, 127, 8, 8)
    assert square == pytest.approx((-100.0, 62.0, 254.0))


def test_paste_lands_where_the_reference_maps_it() -> None:
    height, width = 120, 160
    side = 127
    ramp = np.tile(np.arange(side, dtype=np.float32) / (side - 1), (side, 1))  # value = u / 126
    square = (20.25, 10.5, 63.5)  # image square covered by the mask: scale 0.5 image px per mask px
    pasted = paste_mask(ramp, square, (height, width))
    assert pasted.shape == (height, width) and pasted.dtype == np.float32
    # mask pixel u lands at image x = ((W-1)/W) * (20.25 + 0.5 u)  =>  u(X) = (X * W/(W-1) - 20.25) / 0.5
    xs = np.arange(width)
    u = (xs * width / (width - 1) - square[0]) / 0.5
    v = (np.arange(height) * height / (height - 1) - square[1]) / 0.5
    inside_x, inside_y = (u >= 0) & (u <= side - 1), (v >= 0) & (v <= side - 1)
    row = int(np.flatnonzero(inside_y)[5])
    np.testing.assert_allclose(
        pasted[row, inside_x], u[inside_x] / (side - 1), atol=1 / 32 / (side - 1) + 1e-6
    )
    # far outside the square: -1 (the reference's border value, pysot uses 0)
    assert (pasted[:, : int(np.flatnonzero(inside_x)[0]) - 1] == -1).all()
    assert (pasted[:, int(np.flatnonzero(inside_x)[-1]) + 2 :] == -1).all()
    assert (pasted[: int(np.flatnonzero(inside_y)[0]) - 1] == -1).all()
    # a constant mask fills exactly the mapped square
    ones = paste_mask(np.ones((side, side), np.float32), square, (height, width))
    np.testing.assert_array_equal(ones[np.ix_(inside_y, inside_x)], 1.0)


def mask_polygon(mask: np.ndarray, fallback, min_area: float) -> np.ndarray:
    return mask_box(mask, (0, 0), fallback, min_area, "mbr")


def test_polygon_fallback_when_contour_area_small() -> None:
    mask = np.zeros((120, 160), bool)
    mask[20:30, 40:50] = True  # 10x10 pixels: contour through pixel centres has area 81 <= 100
    fallback = (5.5, 6.0, 20.0, 10.0)
    polygon = mask_polygon(mask, fallback, 100.0)
    assert polygon.dtype == np.float32 and polygon.shape == (4, 2)
    np.testing.assert_array_equal(polygon, box_corners(fallback))
    assert box_corners(fallback).tolist() == [[5.5, 6.0], [25.5, 6.0], [25.5, 16.0], [5.5, 16.0]]
    np.testing.assert_array_equal(mask_polygon(np.zeros_like(mask), fallback, 100.0), box_corners(fallback))
    mask[60:72, 100:112] = True  # 12x12: area 121 > 100 -> minAreaRect of the larger blob
    polygon = mask_polygon(mask, fallback, 100.0)
    corners = {tuple(p) for p in np.round(polygon).astype(int).tolist()}
    assert corners == {(100, 60), (111, 60), (111, 71), (100, 71)}


# ----------------------------------------------------------------------------- presets
def test_presets_match_the_released_configs() -> None:
    davis, vot = load_tracker_preset("davis"), load_tracker_preset("vot")
    assert (davis.hp.penalty_k, davis.hp.window_influence, davis.hp.lr, davis.hp.seg_thr) == (
        0.04,
        0.40,
        1.0,
        0.35,
    )
    assert (vot.hp.penalty_k, vot.hp.window_influence, vot.hp.lr, vot.hp.seg_thr) == (0.04, 0.42, 0.25, 0.30)
    assert davis.model == "resnet50_sharp" and davis.cascade in ("one_stage", "two_stage")
    assert davis.hp.out_size == 127 and davis.hp.score_size == 25 and davis.hp.num_anchors == 5
    assert load_tracker_preset("tiny").model == "tiny"
    assert TrackerHParams().score_size == 25  # TrackerConfig defaults


def test_presets_are_package_data_and_the_hydra_group_reads_the_same_files() -> None:
    from pathlib import Path

    import yaml

    from siammask.hparams import PRESET_FILES, preset_path

    repo_group = Path(__file__).resolve().parent.parent / "configs" / "tracker"
    for name, file_name in PRESET_FILES.items():
        packaged = preset_path(name)
        assert packaged.parent.name == "presets" and packaged.parent.parent.name == "siammask"
        hydra_file = repo_group / file_name
        assert yaml.safe_load(packaged.read_text()) == yaml.safe_load(hydra_file.read_text()), name
        preset = load_tracker_preset(name)
        assert preset.options.stage2_box == "best" and preset.options.box_strategy == "mbr"


def test_hparams_from_mappings_and_bad_input() -> None:
    from omegaconf import OmegaConf

    hp = load_tracker_hparams(OmegaConf.create({"penalty_k": 0.1, "anchors": {"ratios": [1, 2]}}))
    assert hp.penalty_k == 0.1 and hp.anchor_ratios == (1.0, 2.0) and hp.num_anchors == 2
    assert load_tracker_hparams({"model": "tiny", "hp": {"lr": 0.5}}).lr == 0.5
    with pytest.raises(TrackerConfigError, match="unknown tracker hyperparameters"):
        load_tracker_hparams({"penalty": 0.1})
    with pytest.raises(TrackerConfigError, match="out_size"):
        load_tracker_hparams({"out_size": 12.5})
    with pytest.raises(TrackerConfigError, match="unknown tracker preset"):
        load_tracker_hparams("davos")
    with pytest.raises(TrackerConfigError, match="not found"):
        load_tracker_hparams("/nonexistent/tracker.yaml")
