"""Our evaluator vs mmdet 3.3.0's port of the official YouTube-VIS evaluator on generated cases.

Each case mixes: perfect, shifted, eroded and frame-dropped predictions, false positives,
wrong classes, duplicates, equal scores, >10 and >100 predictions in one (video, category),
a video without predictions, empty (non-null) masks, an all-null track, crowd GT, GT areas on
the 128^2 / 256^2 range edges, and GT masks as compressed RLE, uncompressed RLE and polygons.
"""

from __future__ import annotations

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis_pipeline.eval import STAT_NAMES, evaluate_ytvis
from vis_pipeline.eval.reference import mmdet_ytvis_eval
from vis_pipeline.masks import encode_mask

H, W = 300, 400  # frames hold a 260x260 (large) object


def box_mask(x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    """(H, W) uint8 mask of the clipped pixel box [x0, x1) x [y0, y1)."""
    mask = np.zeros((H, W), dtype=np.uint8)
    mask[max(y0, 0) : max(min(y1, H), 0), max(x0, 0) : max(min(x1, W), 0)] = 1
    return mask


def uncompressed(mask: np.ndarray) -> dict:
    """COCO uncompressed RLE (column-major runs starting with background) of an (H, W) mask."""
    flat = mask.flatten(order="F").astype(np.int8)
    changes = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate([[0], changes, [flat.size]])
    runs = np.diff(bounds).tolist()
    if flat[0] == 1:
        runs = [0, *runs]
    return {"size": [H, W], "counts": runs}


def gt_segmentation(box: tuple[int, int, int, int], form: str) -> tuple[object, int]:
    """(segmentation in the given form, its pixel area)."""
    x0, y0, x1, y1 = box
    if form == "polygon":
        polygon = [float(v) for v in (x0, y0, x1, y0, x1, y1, x0, y1)]
        area = int(mask_utils.area(mask_utils.merge(mask_utils.frPyObjects([polygon], H, W))))
        return [polygon], area
    mask = box_mask(*box)
    return (encode_mask(mask) if form == "compressed" else uncompressed(mask)), int(mask.sum())


def random_box(rng: np.random.Generator) -> tuple[int, int, int, int]:
    side_w, side_h = (int(v) for v in rng.choice([12, 60, 140, 200, 262], size=2))
    x0, y0 = int(rng.integers(0, W - side_w)), int(rng.integers(0, H - side_h))
    return x0, y0, x0 + side_w, y0 + side_h


def make_case(seed: int) -> tuple[dict, list[dict]]:
    """A GT dict (5 videos, 3 categories with GT + 1 without) and a results list."""
    rng = np.random.default_rng(seed)
    lengths = {1: 4, 2: 6, 3: 3, 4: 5, 5: 4}
    videos = [{"id": v, "height": H, "width": W, "length": n} for v, n in lengths.items()]
    forms = ["compressed", "uncompressed", "polygon"]
    annotations, gt_boxes = [], []
    next_id = 1

    def add_gt(video_id: int, cat: int, boxes: list, crowd: int = 0) -> None:
        nonlocal next_id
        segs, areas = [], []
        for frame_box in boxes:
            if frame_box is None:
                segs.append(None)
                areas.append(None)
            else:
                seg, area = gt_segmentation(frame_box, forms[int(rng.integers(3))])
                segs.append(seg)
                areas.append(area)
        annotations.append(
            {
                "id": next_id,
                "video_id": video_id,
                "category_id": cat,
                "iscrowd": crowd,
                "segmentations": segs,
                "areas": areas,
            }
        )
        gt_boxes.append((video_id, cat, boxes, crowd))
        next_id += 1

    for video_id, length in lengths.items():
        for _ in range(int(rng.integers(1, 4))):
            start = random_box(rng)
            boxes = [
                None if rng.random() < 0.2 else (start[0] + 3 * t, start[1], start[2] + 3 * t, start[3])
                for t in range(length)
            ]
            if all(b is None for b in boxes):
                boxes[0] = start
            add_gt(video_id, int(rng.integers(1, 4)), boxes)
    add_gt(1, 1, [(0, 0, 128, 128)] * lengths[1])  # exactly 128^2: small and medium
    add_gt(2, 2, [(0, 0, 256, 256)] * lengths[2])  # exactly 256^2: medium and large
    add_gt(3, 1, [(300, 200, 400, 300)] * lengths[3], crowd=1)

    results = []

    def add_pred(video_id: int, cat: int, score: float, boxes: list, empty_frames: tuple = ()) -> None:
        segs = []
        for t, frame_box in enumerate(boxes):
            if t in empty_frames:
                segs.append(encode_mask(np.zeros((H, W), dtype=np.uint8)))
            else:
                segs.append(None if frame_box is None else encode_mask(box_mask(*frame_box)))
        results.append({"video_id": video_id, "category_id": cat, "score": score, "segmentations": segs})

    for video_id, cat, boxes, crowd in gt_boxes:
        if video_id == 5:
            continue  # a video without predictions
        kind = int(rng.integers(5))
        shift = int(rng.integers(0, 12))
        score = float(np.round(rng.random(), 1))  # one decimal: many equal scores
        moved = [None if b is None else (b[0] + shift, b[1] - shift, b[2] + shift, b[3]) for b in boxes]
        if kind == 0:
            add_pred(video_id, cat, score, boxes)  # perfect
        elif kind == 1:
            add_pred(video_id, cat, score, moved)  # shifted
        elif kind == 2:
            add_pred(
                video_id, cat, score, [None if t % 2 else b for t, b in enumerate(moved)]
            )  # dropped frames
        elif kind == 3:
            add_pred(video_id, cat, score, boxes)
            add_pred(video_id, cat, score, moved)  # duplicate with the same score
        else:
            add_pred(video_id, cat % 3 + 1, score, boxes)  # wrong class
        if crowd:
            add_pred(video_id, cat, 0.95, [(320, 220, 400, 300)] * len(boxes))
    for video_id, length in lengths.items():
        if video_id == 5:
            continue
        for _ in range(int(rng.integers(0, 3))):  # false positives, one with empty frames
            add_pred(video_id, int(rng.integers(1, 5)), float(rng.random()), [random_box(rng)] * length, (0,))
    # 12 predictions in (video 2, cat 1) and 105 in (video 4, cat 2), a few overlapping GT.
    for _ in range(12):
        add_pred(2, 1, float(rng.random()), [random_box(rng)] * lengths[2])
    for _ in range(105):
        add_pred(4, 2, float(np.round(rng.random(), 2)), [random_box(rng)] * lengths[4])
    add_pred(1, 2, 0.5, [None] * lengths[1])  # all-null track
    # Unmatched 140^2 box with one empty frame: avg area 19600 (medium) only if the empty frame
    # is skipped, so it is ignored in the small range where the 128^2 GT below is hit.
    add_pred(1, 1, 0.99, [(200, 100, 340, 240)] * lengths[1], (0,))
    add_pred(1, 1, 0.9, [(0, 0, 128, 128)] * lengths[1])
    order = rng.permutation(len(results))
    return {"videos": videos, "annotations": annotations, "categories": categories()}, [
        results[i] for i in order
    ]


def categories() -> list[dict]:
    return [{"id": c, "name": f"cat{c}", "supercategory": "object"} for c in range(1, 5)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_mmdet_port(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(np, "float", float, raising=False)  # mmdet's port uses np.float
    gt, results = make_case(seed)
    ours = evaluate_ytvis(gt, results)
    ref_stats, ref_per_category = mmdet_ytvis_eval(gt, results)
    ours_stats = np.array([ours[name] for name in STAT_NAMES])
    np.testing.assert_allclose(ours_stats, ref_stats, rtol=0, atol=1e-12)
    assert ours["per_category_AP"] == pytest.approx(
        {f"cat{c}": ap for c, ap in ref_per_category.items()}, abs=1e-12
    )
    # The case is not degenerate: some but not all predictions hit, and every range is exercised.
    assert 0.01 < ours["AP"] < 0.95
    assert all(ours[name] >= 0 for name in ("APs", "APm", "APl"))
    assert ours["AR1"] < ours["AR10"] <= ours["AR100"]
