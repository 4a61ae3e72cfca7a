"""vis-errors on hand-built cases: each error type is recognised, and fixing it alone changes AP as expected.

Videos are 3 or 4 frames of 8x8 masks; st-IoU values are chosen off the evaluator's 0.05 IoU grid, so
base APs are exact fractions (e.g. st-IoU 2/3 passes the thresholds 0.50..0.65: AP 0.4).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis_pipeline.cli.errors import main as errors_main
from vis_pipeline.eval.errors import ErrorAnalysisError, ErrorConfig
from vis_pipeline.eval.errors_fix import analyse_errors

CFG = ErrorConfig.from_yaml()
LEFT = (0, 4, 0, 4)  # rows y0:y1, cols x0:x1 of an 8x8 frame (16 px)
RIGHT = (4, 8, 4, 8)  # disjoint from LEFT; its box centre is 1.41 box sizes from LEFT's
LEFT_HALF = (0, 4, 0, 2)
# TP, FP, TP: precision 1 up to recall 1/2 (51 of COCO's 101 recall points), 2/3 for the other 50
TP_FP_TP_AP = (51 + 50 * 2 / 3) / 101


def rle(box: tuple[int, int, int, int] | None) -> dict | None:
    if box is None:
        return None
    mask = np.zeros((8, 8), dtype=np.uint8)
    mask[box[0] : box[1], box[2] : box[3]] = 1
    encoded = mask_utils.encode(np.asfortranarray(mask))
    return {"size": [8, 8], "counts": encoded["counts"].decode("ascii")}


def dataset(tracks: list[tuple[int, int, list]], lengths: tuple[int, ...] = (3,)) -> dict:
    """GT with one video per entry of ``lengths``; tracks: (video id, category id, boxes per frame)."""
    annotations = [
        {
            "id": i + 1,
            "video_id": video_id,
            "category_id": category_id,
            "iscrowd": 0,
            "segmentations": [rle(b) for b in boxes],
            "areas": [None if b is None else (b[1] - b[0]) * (b[3] - b[2]) for b in boxes],
        }
        for i, (video_id, category_id, boxes) in enumerate(tracks)
    ]
    return {
        "videos": [{"id": v + 1, "height": 8, "width": 8, "length": n} for v, n in enumerate(lengths)],
        "annotations": annotations,
        "categories": [{"id": 1, "name": "disc"}, {"id": 2, "name": "square"}],
    }


def result(video_id: int, category_id: int, score: float, boxes: list) -> dict:
    return {
        "video_id": video_id,
        "category_id": category_id,
        "score": score,
        "segmentations": [rle(b) for b in boxes],
    }


def gt_labels(report: dict) -> list[str]:
    return [r["label"] for r in report["gt_tracks"]]


def pred_labels(report: dict) -> list[str]:
    return [r["label"] for r in report["predictions"]]


def assert_only_fix(report: dict, fixes: set[str], base_ap: float, fixed_ap: float = 1.0) -> None:
    """``fixes`` raise AP from ``base_ap`` to ``fixed_ap``; every other fix changes nothing."""
    assert report["AP"] == pytest.approx(base_ap, abs=1e-6)
    for fix, row in report["fixes"].items():
        expected = fixed_ap if fix in fixes else base_ap
        assert row["AP"] == pytest.approx(expected, abs=1e-6), fix


def test_perfect_results_have_no_error() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    report = analyse_errors(gt, [result(1, 1, 0.9, [LEFT] * 3)], CFG)
    assert gt_labels(report) == ["correct"] and pred_labels(report) == ["tp"]
    assert_only_fix(report, set(), 1.0)
    assert all(row["count"] == 0 for row in report["fixes"].values())


def test_missed_track() -> None:
    gt = dataset([(1, 1, [LEFT] * 3), (2, 1, [RIGHT] * 3)], lengths=(3, 3))
    report = analyse_errors(gt, [result(1, 1, 0.9, [LEFT] * 3)], CFG)
    assert gt_labels(report) == ["correct", "missed"]
    # recall 1/2 at precision 1: 51 of COCO's 101 recall points
    assert_only_fix(report, {"missed"}, 51 / 101)
    assert report["fixes"]["missed"]["count"] == 1


def test_fragmented_track_is_merged() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    first = result(1, 1, 0.9, [LEFT, LEFT, None])  # st-IoU 2/3: found (TP), passes 4 of 10 thresholds
    second = result(1, 1, 0.8, [None, None, LEFT])  # st-IoU 1/3: the track reborn on frame 2
    report = analyse_errors(gt, [first, second], CFG)
    (track,) = report["gt_tracks"]
    assert track["label"] == "fragmented" and track["fragments"] == [0, 1]
    assert [(s["frame"], s["from_pred"], s["to_pred"], s["tags"]) for s in track["switches"]] == [
        (2, 0, 1, ["reborn"])
    ]
    assert pred_labels(report) == ["tp", "fragment"] and report["id_switches"] == 1
    assert_only_fix(report, {"fragmented"}, 0.4)


def test_fragment_leftover_is_merged_too() -> None:
    # The second fragment goes on to frame 3, where the object has left: that piece is part of the split.
    gt = dataset([(1, 1, [LEFT, LEFT, LEFT, None]), (2, 1, [RIGHT] * 4)], lengths=(4, 4))
    first = result(1, 1, 0.9, [LEFT, LEFT, None, None])  # st-IoU 2/3: TP at thresholds 0.50..0.65
    second = result(1, 1, 0.8, [None, None, LEFT, RIGHT])
    report = analyse_errors(gt, [first, second, result(2, 1, 0.7, [RIGHT] * 4)], CFG)
    assert gt_labels(report) == ["fragmented", "correct"]
    # 0.50..0.65: TP FP TP; 0.70..0.95: FP FP TP (precision 1/3 up to recall 1/2)
    assert_only_fix(report, {"fragmented"}, (4 * TP_FP_TP_AP + 6 * 51 / 3 / 101) / 10)


def test_crossing_swap_fragments_both_tracks() -> None:
    # Two same-category objects; the predicted identities swap between frames 1 and 2.
    gt = dataset([(1, 1, [LEFT] * 4), (1, 1, [RIGHT] * 4)], lengths=(4,))
    swap_a = result(1, 1, 0.9, [LEFT, LEFT, RIGHT, RIGHT])
    swap_b = result(1, 1, 0.8, [RIGHT, RIGHT, LEFT, LEFT])
    report = analyse_errors(gt, [swap_a, swap_b], CFG)
    assert gt_labels(report) == ["fragmented", "fragmented"] and pred_labels(report) == [
        "fragment",
        "fragment",
    ]
    assert report["id_switches"] == 2
    assert report["switch_tags"] == {"reappeared": 0, "occluded": 0, "crossing": 2, "reborn": 0, "stolen": 2}
    assert_only_fix(report, {"fragmented"}, 0.0)  # st-IoU 1/3 each: nothing found


def test_leave_and_return_switch_is_tagged() -> None:
    gt = dataset([(1, 1, [LEFT, None, LEFT, LEFT])], lengths=(4,))
    report = analyse_errors(
        gt, [result(1, 1, 0.9, [LEFT, None, None, None]), result(1, 1, 0.8, [None, None, LEFT, LEFT])], CFG
    )
    (switch,) = report["gt_tracks"][0]["switches"]
    assert switch["frame"] == 2 and switch["tags"] == ["reappeared", "reborn"]


def test_misclassified_track() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    report = analyse_errors(gt, [result(1, 2, 0.9, [LEFT] * 3)], CFG)
    assert gt_labels(report) == ["classification"] and pred_labels(report) == ["classification"]
    assert report["gt_tracks"][0]["pred"] == 0
    assert_only_fix(report, {"classification"}, 0.0)


def test_poor_mask_of_a_found_track_spatial_part() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    # st-IoU (16 + 16 + 8) / 48 = 5/6: passes 0.50..0.80, AP 0.7; only the shape is wrong
    report = analyse_errors(gt, [result(1, 1, 0.9, [LEFT, LEFT, LEFT_HALF])], CFG)
    assert gt_labels(report) == ["mask"] and pred_labels(report) == ["tp"]
    assert_only_fix(report, {"mask", "mask_spatial"}, 0.7)


def test_poor_mask_of_a_found_track_temporal_part() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    report = analyse_errors(gt, [result(1, 1, 0.9, [LEFT, LEFT, None])], CFG)  # dies one frame early
    assert gt_labels(report) == ["mask"]
    assert_only_fix(report, {"mask", "mask_temporal"}, 0.4)


def test_mask_too_poor_to_be_found() -> None:
    gt = dataset([(1, 1, [LEFT] * 3)])
    report = analyse_errors(gt, [result(1, 1, 0.9, [LEFT, None, None])], CFG)  # st-IoU 1/3
    assert gt_labels(report) == ["mask"] and pred_labels(report) == ["mask"]
    assert report["gt_tracks"][0]["st_iou"] == pytest.approx(1 / 3)
    assert_only_fix(report, {"mask", "mask_temporal"}, 0.0)


def two_found_tracks_and(extra: dict) -> tuple[dict, list[dict]]:
    """Two single-track videos found exactly, with ``extra`` ranked between the two TPs."""
    gt = dataset([(1, 1, [LEFT] * 3), (2, 1, [RIGHT] * 3)], lengths=(3, 3))
    return gt, [result(1, 1, 0.9, [LEFT] * 3), extra, result(2, 1, 0.7, [RIGHT] * 3)]


def test_duplicate_prediction() -> None:
    gt, results = two_found_tracks_and(result(1, 1, 0.8, [LEFT] * 3))
    report = analyse_errors(gt, results, CFG)
    assert pred_labels(report) == ["tp", "duplicate", "tp"] and gt_labels(report) == ["correct", "correct"]
    assert_only_fix(report, {"duplicate"}, TP_FP_TP_AP)


def test_background_prediction() -> None:
    gt, results = two_found_tracks_and(result(1, 1, 0.8, [RIGHT] * 3))  # where video 1 has nothing
    report = analyse_errors(gt, results, CFG)
    assert pred_labels(report) == ["tp", "background", "tp"]
    assert_only_fix(report, {"background"}, TP_FP_TP_AP)


def test_bad_settings_are_one_line_errors() -> None:
    values = {**CFG.__dict__, "bg_iou": 0.7}
    with pytest.raises(ErrorAnalysisError, match="bg_iou <= fg_iou"):
        ErrorConfig.from_mapping(values, "configs/errors.yaml")
    with pytest.raises(ErrorAnalysisError, match="unknown error setting"):
        ErrorConfig.from_mapping({**CFG.__dict__, "fg": 0.5}, "x.yaml")
    with pytest.raises(ErrorAnalysisError, match="unknown video_id 7"):
        analyse_errors(dataset([(1, 1, [LEFT] * 3)]), [result(7, 1, 0.9, [LEFT] * 3)], CFG)


def run_cli(monkeypatch: pytest.MonkeyPatch, *overrides: str) -> None:
    monkeypatch.setattr(sys, "argv", ["vis-errors", *overrides, "progress=false"])
    errors_main()


def test_cli_run_and_sweep(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(dataset([(1, 1, [LEFT] * 3)])))
    arms = {
        "one_stage": [result(1, 1, 0.9, [LEFT, LEFT, None])],
        "two_stage": [result(1, 2, 0.9, [LEFT] * 3)],
    }
    for name, results in arms.items():
        (tmp_path / "sweep" / name).mkdir(parents=True)
        (tmp_path / "sweep" / name / "results.json").write_text(json.dumps(results))

    run_cli(
        monkeypatch, f"gt={gt_path}", f"results={tmp_path / 'sweep/one_stage/results.json'}", "out=single"
    )
    report = json.loads((tmp_path / "single" / "errors.json").read_text())
    assert report["AP"] == pytest.approx(0.4) and report["fixes"]["mask"]["AP"] == pytest.approx(1.0)
    assert "| mask quality (GT track) | 1 | +60.0 |" in (tmp_path / "single" / "errors.md").read_text()
    assert (tmp_path / "single" / "errors.png").read_bytes()[:4] == b"\x89PNG"
    assert "+60.0" in capsys.readouterr().out

    run_cli(monkeypatch, f"gt={gt_path}", f"sweep={tmp_path / 'sweep'}", "out=both")
    arms_report = json.loads((tmp_path / "both" / "errors.json").read_text())["arms"]
    assert list(arms_report) == ["one_stage", "two_stage"]
    assert arms_report["two_stage"]["gt_labels"]["classification"] == 1
    assert "| | one_stage | two_stage |" in (tmp_path / "both" / "errors.md").read_text()
    assert (tmp_path / "both" / "errors.png").is_file()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["results=missing/results.json"], "missing/results.json: results file not found"),
        (["sweep=nowhere"], "nowhere: sweep directory not found"),
        ([], "give exactly one of results=FILE or sweep=DIR"),
        (["results=r.json", "fg_iou=0.05"], "need 0 <= bg_iou <= fg_iou"),
        (["gt=nope.json", "results=r.json"], "nope.json: GT file not found"),
    ],
)
def test_cli_bad_input_is_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
    overrides: list[str],
    message: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "gt.json").write_text(json.dumps(dataset([(1, 1, [LEFT] * 3)])))
    with pytest.raises(SystemExit) as info:
        gt = [] if any(o.startswith("gt=") for o in overrides) else ["gt=gt.json"]
        run_cli(monkeypatch, *gt, "out=o", *overrides)
    err = capsys.readouterr().err
    assert info.value.code == 2 and len(err.strip().splitlines()) == 1 and message in err
    assert not (tmp_path / "o").exists()
