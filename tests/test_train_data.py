"""Pair sampler: annotation reading, crop geometry, mask/box following the image crop."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from pycocotools import mask as mask_utils

from siammask.train.data import (
    PairConfig,
    PairDataset,
    crop_matrix,
    make_absent_pair,
    make_distractor_pair,
    make_pair,
    warp_image,
    warp_mask,
)
from siammask.train.sources import AnnotationError, ObjectTrack, load_coco_tracks, load_ytvis_tracks
from siammask.train.targets import AnchorConfig, TargetConfig, assign_targets, generate_anchors

HEIGHT, WIDTH = 120, 160


def _square_mask(x: int, y: int, side: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=np.uint8)
    mask[y : y + side, x : x + side] = 1
    return mask


def _write_video(root: Path, positions: list[tuple[int, int] | None], side: int = 30) -> Path:
    """A YTVIS-format dataset of one video: a white square on black (PNG, lossless) per frame."""
    (root / "JPEGImages" / "v0").mkdir(parents=True)
    names, segmentations, boxes = [], [], []
    for t, position in enumerate(positions):
        name = f"v0/{t:05d}.png"
        mask = np.zeros((HEIGHT, WIDTH), np.uint8) if position is None else _square_mask(*position, side)
        cv2.imwrite(str(root / "JPEGImages" / name), np.repeat(mask[:, :, None] * 255, 3, axis=2))
        names.append(name)
        if position is None:
            segmentations.append(None)
            boxes.append(None)
            continue
        rle = mask_utils.encode(np.asfortranarray(mask))
        segmentations.append({"size": rle["size"], "counts": rle["counts"].decode()})
        boxes.append([position[0], position[1], side, side])
    video = {"id": 1, "width": WIDTH, "height": HEIGHT, "length": len(names), "file_names": names}
    ann = {"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": segmentations,
           "bboxes": boxes, "areas": [None] * len(names)}  # fmt: skip
    path = root / "annotations.json"
    path.write_text(json.dumps({"videos": [video], "annotations": [ann], "categories": []}))
    return path


def test_mask_warp_equals_thresholded_image_warp() -> None:
    square = _square_mask(50, 40, 30).astype(np.float32)
    matrix = crop_matrix((65.0, 55.0), 90.3, 255, shift_xy=(-17.5, 23.0), scale=1.13)
    image_crop = warp_image(np.repeat(square[:, :, None] * 255.0, 3, axis=2), matrix, 255)
    mask_crop = warp_mask(square.astype(bool), matrix, 255)
    assert mask_crop.sum() > 1000
    np.testing.assert_array_equal(mask_crop, (image_crop[:, :, 0] / 255.0 >= 0.5).astype(np.float32))


def test_make_pair_shapes_and_geometry(tmp_path: Path) -> None:
    ann = _write_video(tmp_path, [(20, 30), None, (60, 50)])
    tracks = load_ytvis_tracks(ann, tmp_path / "JPEGImages", min_box_size=4)
    assert len(tracks) == 1 and tracks[0].frame_indices == [0, 2]
    pair = make_pair(tracks[0], 0, 1, PairConfig(), np.random.default_rng(3))
    assert pair["template"].shape == (3, 127, 127) and pair["search"].shape == (3, 255, 255)
    assert pair["search_mask"].shape == (255, 255) and pair["search_box"].shape == (4,)
    assert pair["search"].dtype.is_floating_point and float(pair["search"].max()) > 200  # raw 0..255 range
    # the mask follows the image crop (PNG frame: only OpenCV's uint8 fixed-point rounding may differ)
    thresholded = (pair["search"][0] >= 127.5).float()
    assert float(pair["search_mask"].sum()) > 500
    assert float((thresholded != pair["search_mask"]).float().mean()) < 1e-3
    # the GT box is the mask's extent in crop pixels; a 30 px square with context 30 px -> s_z = 60
    ys, xs = np.nonzero(pair["search_mask"].numpy())
    x1, y1, x2, y2 = pair["search_box"].tolist()
    assert abs(x1 - xs.min()) < 2 and abs(x2 - (xs.max() + 1)) < 2
    assert abs(y1 - ys.min()) < 2 and abs(y2 - (ys.max() + 1)) < 2
    assert 0.82 * 63.5 - 1 < x2 - x1 < 1.18 * 63.5 + 1
    assert abs((x1 + x2) / 2 - 127) <= 64 + 1 and abs((y1 + y2) / 2 - 127) <= 64 + 1


def test_pair_dataset_is_deterministic_and_respects_gap(tmp_path: Path) -> None:
    ann = _write_video(tmp_path, [(10 + 8 * t, 30) for t in range(8)])
    tracks = load_ytvis_tracks(ann, tmp_path / "JPEGImages", min_box_size=4)
    dataset = PairDataset(tracks, PairConfig(frame_gap=0, search_shift=0, search_scale=0), 4, seed=7)
    first = dataset[2]
    assert (first["template"] == dataset[2]["template"]).all()
    dataset.set_epoch(1)
    assert not (first["template"] == dataset[2]["template"]).all()
    # frame_gap 0 and no search augmentation: the object sits exactly at the crop centre
    x1, y1, x2, y2 = dataset[0]["search_box"].tolist()
    assert (x1 + x2) / 2 == pytest.approx(127.0, abs=1e-3) and (y1 + y2) / 2 == pytest.approx(127.0, abs=1e-3)


def test_coco_source_gives_single_frame_tracks(tmp_path: Path) -> None:
    mask = _square_mask(40, 40, 20)
    cv2.imwrite(str(tmp_path / "a.png"), np.repeat(mask[:, :, None] * 255, 3, axis=2))
    polygon = [[40, 40, 60, 40, 60, 60, 40, 60]]
    data = {"images": [{"id": 5, "file_name": "a.png", "height": HEIGHT, "width": WIDTH}],
            "annotations": [{"id": 1, "image_id": 5, "segmentation": polygon, "bbox": [40, 40, 20, 20]},
                            {"id": 2, "image_id": 5, "segmentation": polygon, "iscrowd": 1}]}  # fmt: skip
    (tmp_path / "coco.json").write_text(json.dumps(data))
    tracks = load_coco_tracks(tmp_path / "coco.json", tmp_path, min_box_size=4)
    assert len(tracks) == 1
    pair = make_pair(tracks[0], 0, 0, PairConfig(), np.random.default_rng(0))
    assert float(pair["search_mask"].sum()) > 100


def test_bad_annotations_raise_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(AnnotationError, match="annotation file not found"):
        load_ytvis_tracks(tmp_path / "missing.json", tmp_path, 4)
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(AnnotationError, match="bad.json: not valid JSON"):
        load_ytvis_tracks(tmp_path / "bad.json", tmp_path, 4)
    (tmp_path / "short.json").write_text(json.dumps({
        "videos": [{"id": 1, "width": 4, "height": 4, "file_names": ["a.jpg", "b.jpg"]}],
        "annotations": [{"id": 3, "video_id": 1, "segmentations": [None]}]}))  # fmt: skip
    with pytest.raises(AnnotationError, match="annotation 3 has 1 segmentations for 2 frames"):
        load_ytvis_tracks(tmp_path / "short.json", tmp_path, 4)
    ann = _write_video(tmp_path / "v", [(20, 30)])
    tracks = load_ytvis_tracks(ann, tmp_path / "elsewhere", 4)
    with pytest.raises(AnnotationError, match="frame image not found"):
        make_pair(tracks[0], 0, 0, PairConfig(), np.random.default_rng(0))


def _frame_with_squares(path: Path, corners: list[tuple[int, int]], side: int = 20) -> list[np.ndarray]:
    masks = [_square_mask(x, y, side) for x, y in corners]
    image = np.clip(sum(masks, np.zeros((HEIGHT, WIDTH), np.uint8)), 0, 1) * 255
    cv2.imwrite(str(path), np.repeat(image[:, :, None], 3, axis=2).astype(np.uint8))
    return masks


def _track(paths: list[Path], frames: list[int], masks: list[np.ndarray], category: int) -> ObjectTrack:
    rles = [mask_utils.encode(np.asfortranarray(m)) for m in masks]
    boxes = [tuple(float(v) for v in mask_utils.toBbox(r)) for r in rles]
    segmentations = [{"size": r["size"], "counts": r["counts"].decode()} for r in rles]
    return ObjectTrack(paths, frames, boxes, segmentations, HEIGHT, WIDTH, "video", category)


def test_distractor_pair_keeps_the_exemplar_object_as_target(tmp_path: Path) -> None:
    # frame 0: object A at (70, 50) and distractor B at (100, 60); frame 1: only B (A has left)
    a0, b0 = _frame_with_squares(tmp_path / "0.png", [(70, 50), (100, 60)])
    (b1,) = _frame_with_squares(tmp_path / "1.png", [(104, 60)])
    track_a = _track([tmp_path / "0.png"], [0], [a0], category=1)
    track_b = _track([tmp_path / "0.png", tmp_path / "1.png"], [0, 1], [b0, b1], category=1)
    cfg = PairConfig(search_shift=0, search_scale=0)
    rng = np.random.default_rng(0)
    pair = make_distractor_pair(track_a, 0, track_b, 0, cfg, rng)
    x1, y1, x2, y2 = pair["search_box"].tolist()
    zoom = (x2 - x1) / 20.0
    # the crop is centred on B; A's box sits (A centre - B centre) * zoom away from the crop centre
    assert (x1 + x2) / 2 == pytest.approx(127 + (80 - 110) * zoom, abs=0.01)
    assert (y1 + y2) / 2 == pytest.approx(127 + (60 - 70) * zoom, abs=0.01)
    ys, xs = np.nonzero(pair["search_mask"].numpy())
    # the mask follows: its centroid is within one image pixel (box edges vs pixel centres: half a pixel)
    assert abs(xs.mean() - (x1 + x2) / 2) < zoom and abs(ys.mean() - (y1 + y2) / 2) < zoom
    assert pair["search_mask"].sum() == pytest.approx((20 * zoom) ** 2, rel=0.1)
    # A absent at B's frame: no target at all -> every anchor negative, no mask row
    empty = make_distractor_pair(track_a, 0, track_b, 1, cfg, rng)
    assert not empty["search_box"].any() and not empty["search_mask"].any()
    anchor_cfg = AnchorConfig()
    targets = assign_targets(
        empty["search_box"][None].numpy(), generate_anchors(anchor_cfg), anchor_cfg, TargetConfig(), rng
    )
    assert not targets.positive_rows.any() and (targets.labels == 0).sum() == TargetConfig().total


def test_pair_dataset_distractors_prefer_the_same_category(tmp_path: Path) -> None:
    a, b, c = _frame_with_squares(tmp_path / "0.png", [(10, 10), (60, 10), (110, 60)])
    tracks = [_track([tmp_path / "0.png"], [0], [m], category) for m, category in ((a, 1), (b, 2), (c, 1))]
    alone = _track([tmp_path / "0.png"], [0], [a], 1)
    alone.scene = "another video"
    dataset = PairDataset([*tracks, alone], PairConfig(distractor_prob=1.0, search_shift=0), 6, seed=0)
    assert dataset.distractors == [[2], [0, 2], [0], []]
    mixed = PairDataset(tracks, PairConfig(same_category_first=False), 1, seed=0)
    assert mixed.distractors == [[1, 2], [0, 2], [0, 1]]
    # distractor_prob 1: every pair of a track with a distractor is centred on another object
    for index in range(6):
        box = dataset[index]["search_box"].numpy()
        centre = ((box[0] + box[2]) / 2, (box[1] + box[3]) / 2)
        if box.any() and np.hypot(centre[0] - 127, centre[1] - 127) < 1:
            # only the lone track (no distractor) may sit at the centre
            rng = np.random.default_rng([0, 0, index])
            assert int(rng.integers(4)) == 3


def test_occluded_pairs_pick_the_partly_hidden_search_frame(tmp_path: Path) -> None:
    # frames 0, 1, 3: a 20x20 square; frame 2: its top 8 rows only (hidden behind something)
    masks = []
    for t in range(4):
        (mask,) = _frame_with_squares(tmp_path / f"{t}.png", [(60 + 2 * t, 50)])
        if t == 2:
            mask[58:] = 0
        masks.append(mask)
    track = _track([tmp_path / f"{t}.png" for t in range(4)], [0, 1, 2, 3], masks, category=1)
    cfg = PairConfig(search_shift=0, search_scale=0, occluded_prob=1.0, occluded_ratio=0.6)
    dataset = PairDataset([track], cfg, 40, seed=0)
    assert dataset.areas[0].tolist() == [400, 400, 160, 400]
    hidden_search = 0
    for index in range(40):
        rng = np.random.default_rng([0, 0, index])  # the dataset's own draws: track, then exemplar
        rng.integers(1)
        exemplar_k = int(rng.integers(4))
        box = dataset[index]["search_box"].numpy()
        aspect = (box[2] - box[0]) / (box[3] - box[1])
        if exemplar_k != 2:  # a fully visible exemplar: the search frame is always the hidden one
            assert aspect == pytest.approx(20 / 8, rel=0.01)
        hidden_search += aspect > 2
    # from the hidden exemplar no frame is more hidden: the search frame falls back to any of the 4
    assert 30 <= hidden_search < 40
    # off (the default): areas are not even computed and the search frame is uniform
    plain = PairDataset([track], PairConfig(search_shift=0, search_scale=0), 40, seed=0)
    assert plain.areas == []
    aspects = [(b[2] - b[0]) / (b[3] - b[1]) for b in (plain[i]["search_box"].numpy() for i in range(40))]
    assert sum(a > 2 for a in aspects) < 20


def test_absent_pairs_search_a_frame_without_the_object_where_it_was_last_seen(tmp_path: Path) -> None:
    # the square moves right; frames 2 and 3 do not show it (hidden), frame 4 shows it again
    ann = _write_video(tmp_path, [(20, 30), (30, 30), None, None, (60, 30)])
    (track,) = load_ytvis_tracks(ann, tmp_path / "JPEGImages", min_box_size=4)
    assert track.absent_frames == (2, 3) and len(track.video_frames) == 5
    pair = make_absent_pair(track, 0, 2, PairConfig(search_shift=0, search_scale=0), np.random.default_rng(0))
    assert float(pair["search_box"].abs().sum()) == 0 and float(pair["search_mask"].sum()) == 0
    assert float(pair["search"].max()) == 0  # frame 2 is black: the crop is of the frame without it
    # every anchor is negative for such a pair
    anchor_cfg = AnchorConfig()
    targets = assign_targets(
        pair["search_box"][None].numpy(), generate_anchors(anchor_cfg), anchor_cfg, TargetConfig(),
        np.random.default_rng(0),
    )  # fmt: skip
    assert int((targets.labels == 1).sum()) == 0 and int((targets.labels == 0).sum()) > 0
    assert not targets.positive_rows.any()
    # the dataset draws them only when asked, and only frames without the object
    dataset = PairDataset([track], PairConfig(search_shift=0, search_scale=0, absent_prob=1.0), 30, seed=0)
    empty = [float(dataset[i]["search_box"].abs().sum()) == 0 for i in range(30)]
    assert all(empty)
    plain = PairDataset([track], PairConfig(search_shift=0, search_scale=0), 30, seed=0)
    assert not any(float(plain[i]["search_box"].abs().sum()) == 0 for i in range(30))


def test_absent_pairs_fall_back_to_normal_pairs_when_the_object_never_leaves(tmp_path: Path) -> None:
    ann = _write_video(tmp_path, [(20, 30), (30, 30), (40, 30)])
    (track,) = load_ytvis_tracks(ann, tmp_path / "JPEGImages", min_box_size=4)
    dataset = PairDataset([track], PairConfig(absent_prob=1.0), 10, seed=0)
    assert all(float(dataset[i]["search_mask"].sum()) > 0 for i in range(10))


@pytest.mark.parametrize(
    ("setting", "value"),
    [("occluded_prob", 1.5), ("distractor_prob", -0.1), ("occluded_ratio", 0.0), ("absent_prob", 2.0)],
)
def test_pair_config_rejects_out_of_range_settings(setting: str, value: float) -> None:
    with pytest.raises(ValueError, match=f"pairs.{setting}={value}"):
        PairConfig(**{setting: value})
