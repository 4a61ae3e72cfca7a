"""YouTube-VIS metrics on tiny cases whose numbers are computed by hand.

Reminders used below: AP averages 10 IoU thresholds .50:.05:.95 (each a 101-point interpolated
precision); one GT matched by one prediction with st-IoU x scores (#thresholds <= x) / 10.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.eval import (
    YTVISFormatError,
    evaluate_ytvis,
    format_metrics_table,
    gt_to_results,
    load_ground_truth,
    load_results,
    spatio_temporal_iou,
)
from vis_pipeline.masks import encode_mask

H, W = 200, 300  # frame size of every test video


def approx(value: float) -> object:
    """Equality up to the 1e-16-scale epsilon pycocotools adds to precision denominators."""
    return pytest.approx(value, abs=1e-12)


def box(x0: int, y0: int, x1: int, y1: int, h: int = H, w: int = W) -> dict:
    """Compressed RLE of the pixel box [x0, x1) x [y0, y1)."""
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[y0:y1, x0:x1] = 1
    return encode_mask(mask)


def empty_mask() -> dict:
    return encode_mask(np.zeros((H, W), dtype=np.uint8))


def make_gt(lengths: dict[int, int], anns: list[dict], num_categories: int = 2) -> dict:
    """GT dict; ``anns`` entries: (id, video_id, category_id, segmentations[, iscrowd, areas])."""
    annotations = []
    for a in anns:
        areas = a.get("areas")
        if areas is None:
            areas = [None if s is None else int(encode_area(s)) for s in a["segs"]]
        annotations.append(
            {
                "id": a["id"],
                "video_id": a["video_id"],
                "category_id": a["cat"],
                "iscrowd": a.get("iscrowd", 0),
                "segmentations": a["segs"],
                "areas": areas,
            }
        )
    return {
        "videos": [{"id": v, "height": H, "width": W, "length": n} for v, n in lengths.items()],
        "annotations": annotations,
        "categories": [{"id": c, "name": f"cat{c}"} for c in range(1, num_categories + 1)],
    }


def encode_area(rle: dict) -> int:
    from vis_pipeline.masks import rle_area

    return rle_area(rle)


def pred(video_id: int, cat: int, score: float, segs: list) -> dict:
    return {"video_id": video_id, "category_id": cat, "score": score, "segmentations": segs}


def test_st_iou_sums_over_frames_and_handles_absent_frames() -> None:
    gt = make_gt(
        {1: 4},
        [{"id": 1, "video_id": 1, "cat": 1, "segs": [box(0, 0, 10, 10), box(0, 0, 10, 10), None, None]}],
    )
    # frame 0 equal (I 100, U 100); frame 1 prediction absent (U += 100); frame 2 only the
    # prediction (U += 50); frame 3 both absent (nothing): 100 / 250.
    res = [pred(1, 1, 0.9, [box(0, 0, 10, 10), None, box(0, 0, 5, 10), None])]
    ground_truth = load_ground_truth(gt)
    tracks = load_results(res, ground_truth.videos)
    assert spatio_temporal_iou(tracks[0], ground_truth.tracks[0]) == approx(0.4)
    # Per-frame IoUs would average (1 + 0 + 0) / 3: the official measure is the ratio of sums.
    assert evaluate_ytvis(gt, res)["AP"] == approx(0.0)


@pytest.mark.parametrize(
    ("pred_box", "iou", "expected_ap"),
    [
        ((0, 0, 10, 6), 0.6, 0.3),  # thresholds .50 .55 .60 hit (0.6 == linspace value exactly)
        ((0, 0, 11, 10), 0.55, 0.2),  # GT is 20x10: 110 / 200
        ((0, 0, 20, 10), 1.0, 1.0),
        ((0, 0, 9, 10), 0.45, 0.0),
    ],
)
def test_single_prediction_ap_counts_thresholds(pred_box: tuple, iou: float, expected_ap: float) -> None:
    gt_box = (0, 0, 10, 10) if iou == 0.6 else (0, 0, 20, 10)
    gt = make_gt({1: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [box(*gt_box)]}])
    metrics = evaluate_ytvis(gt, [pred(1, 1, 0.5, [box(*pred_box)])])
    assert metrics["AP"] == approx(expected_ap)
    assert metrics["AP50"] == approx(1.0 if iou >= 0.5 else 0.0)
    assert metrics["AP75"] == approx(1.0 if iou >= 0.75 else 0.0)
    assert metrics["AR1"] == approx(expected_ap)
    assert metrics["per_category_AP"] == {"cat1": approx(expected_ap), "cat2": -1.0}


def test_duplicate_lowers_precision_as_computed_by_hand() -> None:
    g1, g2 = box(0, 0, 20, 20), box(100, 100, 140, 140)
    gt = make_gt(
        {1: 1},
        [{"id": 1, "video_id": 1, "cat": 1, "segs": [g1]}, {"id": 2, "video_id": 1, "cat": 1, "segs": [g2]}],
    )
    res = [pred(1, 1, 0.9, [g1]), pred(1, 1, 0.8, [g1]), pred(1, 1, 0.7, [g2])]
    # TP, FP (duplicate), TP: recall .5 .5 1, precision 1 .5 .667 -> interpolated 1 .667 .667.
    # Recall points 0.00..0.50 (51) get 1, 0.51..1.00 (50) get 2/3: AP = (51 + 50 * 2/3) / 101.
    metrics = evaluate_ytvis(gt, res)
    assert metrics["AP"] == approx(253 / 303)
    assert metrics["AR1"] == approx(0.5) and metrics["AR10"] == approx(1.0)


def test_false_positive_ranked_first_halves_precision() -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g]}])
    res = [pred(1, 1, 0.9, [box(200, 100, 220, 120)]), pred(1, 1, 0.8, [g])]
    assert evaluate_ytvis(gt, res)["AP"] == approx(0.5)
    # A wrong class is not a false positive of this category: AP back to 1.
    res[0]["category_id"] = 2
    assert evaluate_ytvis(gt, res)["AP"] == approx(1.0)


@pytest.mark.parametrize(("tp_video", "expected_ap"), [(2, 0.5), (1, 1.0)])
def test_equal_scores_across_videos_ordered_by_video_id(tp_video: int, expected_ap: float) -> None:
    g = box(0, 0, 20, 20)
    fp_video = 3 - tp_video
    gt = make_gt({1: 1, 2: 1}, [{"id": 1, "video_id": tp_video, "cat": 1, "segs": [g]}])
    # File order puts the TP first; the official stable sort concatenates videos by id.
    res = [pred(tp_video, 1, 0.9, [g]), pred(fp_video, 1, 0.9, [box(100, 100, 120, 120)])]
    assert evaluate_ytvis(gt, res)["AP"] == approx(expected_ap)


@pytest.mark.parametrize(("fp_first", "expected_ap"), [(True, 0.5), (False, 1.0)])
def test_equal_scores_in_one_video_keep_file_order(fp_first: bool, expected_ap: float) -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g]}])
    tp, fp = pred(1, 1, 0.7, [g]), pred(1, 1, 0.7, [box(100, 100, 120, 120)])
    assert evaluate_ytvis(gt, [fp, tp] if fp_first else [tp, fp])["AP"] == approx(expected_ap)


def test_max_dets_are_per_video_and_category() -> None:
    g1, g2 = box(0, 0, 20, 20), box(50, 50, 70, 70)
    gt = make_gt(
        {1: 1},
        [{"id": 1, "video_id": 1, "cat": 1, "segs": [g1]}, {"id": 2, "video_id": 1, "cat": 2, "segs": [g2]}],
    )
    fps = [pred(1, 1, 0.99 - 0.01 * i, [box(100 + i, 100, 110 + i, 110)]) for i in range(10)]
    res = [*fps, pred(1, 1, 0.5, [g1]), pred(1, 2, 0.4, [g2])]
    metrics = evaluate_ytvis(gt, res)
    # cat 1: TP at rank 11 of its (video, category) -> outside maxDets 10; cat 2: rank 1.
    assert (
        metrics["AR1"] == approx(0.5) and metrics["AR10"] == approx(0.5) and metrics["AR100"] == approx(1.0)
    )
    assert metrics["per_category_AP"]["cat1"] == approx(1 / 11)
    assert metrics["per_category_AP"]["cat2"] == approx(1.0)


def test_predictions_beyond_100_per_video_category_are_cut() -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g]}])
    fps = [pred(1, 1, 0.9 - 0.001 * i, [box(100, 100, 101 + i % 50, 110)]) for i in range(100)]
    metrics = evaluate_ytvis(gt, [*fps, pred(1, 1, 0.1, [g])])
    assert metrics["AP"] == approx(0.0) and metrics["AR100"] == approx(0.0)


def test_crowd_tracks_are_ignored_and_use_plain_st_iou() -> None:
    g, crowd = box(0, 0, 20, 20), box(100, 100, 200, 200)
    anns = [
        {"id": 1, "video_id": 1, "cat": 1, "segs": [g]},
        {"id": 2, "video_id": 1, "cat": 1, "segs": [crowd], "iscrowd": 1},
    ]
    gt = make_gt({1: 1}, anns)
    on_crowd = [pred(1, 1, 0.95, [crowd]), pred(1, 1, 0.9, [box(100, 100, 200, 196)])]  # st-IoU .96
    # Both match the crowd track (several matches allowed) and are ignored, not false positives.
    assert evaluate_ytvis(gt, [*on_crowd, pred(1, 1, 0.8, [g])])["AP"] == approx(1.0)
    # Inside the crowd region but st-IoU 0.25: the video evaluator does not use COCO's
    # intersection-over-prediction crowd IoU, so this is an unmatched false positive.
    inside = pred(1, 1, 0.9, [box(100, 100, 150, 150)])
    assert evaluate_ytvis(gt, [inside, pred(1, 1, 0.8, [g])])["AP"] == approx(0.5)
    # A crowd track is not a target: recall counts only the non-crowd track.
    assert evaluate_ytvis(gt, [pred(1, 1, 0.8, [g])])["AR1"] == approx(1.0)


def test_area_range_edges_are_inclusive() -> None:
    g = box(0, 0, 128, 128)  # 16384 = 128^2 px in every frame: both small and medium
    gt = make_gt({1: 2}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g, g]}])
    metrics = evaluate_ytvis(gt, [pred(1, 1, 0.9, [g, g])])
    assert metrics["APs"] == approx(1.0) and metrics["APm"] == approx(1.0) and metrics["APl"] == approx(-1.0)
    assert metrics["ARs"] == approx(1.0) and metrics["ARm"] == approx(1.0) and metrics["ARl"] == approx(-1.0)


def test_gt_area_comes_from_the_areas_field_skipping_null_and_zero() -> None:
    g = box(0, 0, 10, 10)  # 100 px masks, but the areas field decides the range
    segs = [g, g, None, g]
    gt = make_gt({1: 4}, [{"id": 1, "video_id": 1, "cat": 1, "segs": segs, "areas": [0, 20000, None, 14000]}])
    metrics = evaluate_ytvis(gt, [pred(1, 1, 0.9, segs)])
    # mean of truthy entries = 17000 -> medium (counting the 0 would give 11333 -> small).
    assert metrics["APm"] == approx(1.0) and metrics["APs"] == approx(-1.0)


def test_prediction_area_skips_empty_masks() -> None:
    g = box(0, 0, 10, 10)
    gt = make_gt({1: 2}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g, g]}])
    # Unmatched prediction with an empty frame and a 20000 px frame: avg 20000 (medium), so it is
    # ignored in the small range (were the empty frame counted, avg 10000 would make it small).
    fp = pred(1, 1, 0.9, [empty_mask(), box(100, 0, 300, 100)])
    metrics = evaluate_ytvis(gt, [fp, pred(1, 1, 0.8, [g, g])])
    assert metrics["AP"] == approx(0.5)
    assert metrics["APs"] == approx(1.0)


def test_categories_without_gt_are_left_out_and_empty_results_score_zero() -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 1, 2: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g]}], num_categories=3)
    res = [pred(1, 1, 0.9, [g]), pred(2, 2, 0.8, [g]), pred(2, 7, 0.9, [g])]  # cat 7: not in GT
    with pytest.warns(UserWarning, match=r"1 of 3 results have category ids \[7\] not in the GT"):
        metrics = evaluate_ytvis(gt, res)
    assert metrics["AP"] == approx(1.0)
    assert metrics["per_category_AP"] == {"cat1": approx(1.0), "cat2": -1.0, "cat3": -1.0}
    del gt["categories"]  # without a category list the annotated ids are evaluated
    assert evaluate_ytvis(gt, res[:2])["per_category_AP"] == {"1": approx(1.0)}
    empty = evaluate_ytvis(gt, [])
    assert empty["AP"] == approx(0.0) and empty["AR100"] == approx(0.0) and empty["APl"] == approx(-1.0)


def test_gt_converted_to_results_scores_ap_one() -> None:
    anns = [
        {"id": 1, "video_id": 1, "cat": 1, "segs": [box(0, 0, 20, 20), None, box(5, 5, 30, 30)]},
        {"id": 2, "video_id": 1, "cat": 1, "segs": [box(50, 50, 90, 90), box(50, 50, 90, 95), None]},
        {"id": 3, "video_id": 2, "cat": 2, "segs": [None, box(0, 0, 200, 150), box(0, 0, 210, 150)]},
        {"id": 4, "video_id": 2, "cat": 2, "segs": [box(250, 0, 300, 50)] * 3, "iscrowd": 1},
    ]
    gt = make_gt({1: 3, 2: 3}, anns)
    results = gt_to_results(gt)
    assert len(results) == 3 and all(r["score"] == 1.0 for r in results)
    assert all(isinstance(s["counts"], str) for r in results for s in r["segmentations"] if s)
    metrics = evaluate_ytvis(gt, results)
    assert metrics["AP"] == approx(1.0) and metrics["AP50"] == approx(1.0) and metrics["AR10"] == approx(1.0)
    assert metrics["AR1"] == approx(0.75)  # video 1 has two cat-1 tracks: 1 of 2 at maxDets 1


def _error(gt: dict, res: object) -> str:
    with pytest.raises(YTVISFormatError) as info:
        evaluate_ytvis(gt, res)  # type: ignore[arg-type]
    message = str(info.value)
    assert "\n" not in message
    return message


def test_clear_one_line_errors(tmp_path: Path) -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 2}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g, g]}])
    results_path = tmp_path / "res.json"
    results_path.write_text(json.dumps([pred(9, 1, 0.5, [g, g])]))
    assert "res.json: result #0: unknown video_id 9" in _error(gt, results_path)
    assert "1 segmentations for a video of length 2" in _error(gt, [pred(1, 1, 0.5, [g])])
    small = box(0, 0, 5, 5, h=100, w=100)
    assert "RLE size [100, 100] != video size [200, 300]" in _error(gt, [pred(1, 1, 0.5, [g, small])])
    assert "score must be a finite number" in _error(gt, [pred(1, 1, float("nan"), [g, g])])
    assert "results must be a JSON list" in _error(gt, {"results": []})
    assert "missing.json: results file not found" in _error(gt, tmp_path / "missing.json")
    (tmp_path / "bad.json").write_text("[{")
    assert "bad.json: malformed results at line 1" in _error(gt, tmp_path / "bad.json")


def test_metrics_table_lists_stats_and_defined_categories() -> None:
    g = box(0, 0, 20, 20)
    gt = make_gt({1: 1}, [{"id": 1, "video_id": 1, "cat": 1, "segs": [g]}])
    table = format_metrics_table(evaluate_ytvis(gt, [pred(1, 1, 0.5, [box(0, 0, 20, 12)])]))
    lines = table.splitlines()
    assert lines[0].split() == [
        "AP",
        "AP50",
        "AP75",
        "APs",
        "APm",
        "APl",
        "AR1",
        "AR10",
        "AR100",
        "ARs",
        "ARm",
        "ARl",
    ]
    assert lines[1].split()[:3] == ["30.0", "100.0", "0.0"] and lines[1].split()[5] == "-"
    assert any(line.split() == ["cat1", "30.0"] for line in lines)
    assert "(1 categories without GT left out)" in table
