"""Submission validation (each rejection), zip layout, and the vis-submit CLI."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.cli.submit import main as submit_main
from vis_pipeline.eval.submission import (
    load_video_set,
    read_submission,
    resolve_category_ids,
    validate_results,
    write_submission,
)
from vis_pipeline.masks import encode_mask

VIDEOS = [
    {"id": 1, "height": 30, "width": 40, "length": 3},
    {"id": 2, "height": 20, "width": 20, "length": 2},
]


def rle(h: int = 30, w: int = 40) -> dict:
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[2:8, 3:9] = 1
    return encode_mask(mask)


def track(video_id: int = 1, score: float = 0.5, category_id: int = 1, segs: object = None) -> dict:
    if segs is None:
        segs = [rle(), None, rle()] if video_id == 1 else [rle(20, 20), rle(20, 20)]
    return {"video_id": video_id, "category_id": category_id, "score": score, "segmentations": segs}


def problems_of(results: object, topk: int | None = 10, strict: bool = False) -> list[str]:
    return validate_results(results, VIDEOS, [1, 2, 3], topk, strict=strict)


def test_valid_results_pass() -> None:
    assert problems_of([track(1, 0.9), track(1, 0.0, 2), track(2, 1.0, 3)]) == []


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (track(video_id=9), "result #0 (video_id 9): unknown video id (not one of the 2 videos"),
        (track(category_id=40), "category_id 40 is not a category of the dataset"),
        (track(score=float("nan")), "score nan is not a finite number"),
        (track(score=float("inf")), "score inf is not a finite number"),
        (track(score="0.5"), "score '0.5' is not a finite number"),  # type: ignore[arg-type]
        (track(segs=[rle(), None]), "2 segmentations, the video has 3 frames"),
        (
            track(segs=[rle(), rle(20, 20), rle(20, 20)]),
            "frame 1 RLE size [20, 20] != video size [30, 40] (2 bad frames)",
        ),
        (track(segs=[{"size": [30, 40], "counts": [1200]}, None, rle()]), "frame 0 counts is not a str"),
        (track(segs=[None, [[1.0, 1.0, 5.0, 1.0, 5.0, 5.0]], None]), "frame 1 is list, not an RLE dict"),
        ({"video_id": 1, "score": 0.5}, "result #0: needs keys video_id, category_id, score, segmentations"),
    ],
)
def test_each_rejection(bad: dict, message: str) -> None:
    problems = problems_of([bad])
    assert len(problems) == 1 and message in problems[0]
    assert problems_of([bad], strict=True) == problems


@pytest.mark.parametrize(
    ("suspicious", "message"),
    [
        (track(score=1.5), "score 1.5 outside [0.0, 1.0]"),
        (track(score=-0.1), "score -0.1 outside [0.0, 1.0]"),
        (track(segs=[None, None, None]), "every segmentation is null"),
    ],
)
def test_what_the_server_accepts_is_a_warning_and_strict_rejects_it(suspicious: dict, message: str) -> None:
    from vis_pipeline.eval.submission import check_results

    problems, warnings = check_results([suspicious], VIDEOS, [1, 2, 3], 10)
    assert problems == [] and len(warnings) == 1 and message in warnings[0]
    strict = problems_of([suspicious], strict=True)
    assert len(strict) == 1 and message in strict[0]


def test_topk_per_video_and_non_list() -> None:
    results = [track(1, 0.1 * i) for i in range(4)] + [track(2, 0.3)]
    assert problems_of(results, topk=3) == []  # the server keeps up to 100 per video
    assert problems_of(results, topk=3, strict=True) == ["video_id 1: 4 tracks, more than topk=3"]
    assert problems_of(results, topk=4, strict=True) == []
    assert problems_of({"results": results}) == ["results must be a JSON list of track dicts, got dict"]


def test_category_sets(tmp_path: Path) -> None:
    assert resolve_category_ids("ytvis2021", None) == set(range(1, 41))
    assert resolve_category_ids("gt", None) == set(range(1, 41))  # no categories: ytvis2019
    assert resolve_category_ids("gt", [{"id": 1, "name": "disc"}, {"id": 2, "name": "star"}]) == {1, 2}
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(
        json.dumps({"videos": VIDEOS, "annotations": [], "categories": [{"id": 5, "name": "x"}]})
    )
    videos, categories = load_video_set(gt_path)
    assert sorted(videos) == [1, 2] and videos[1].length == 3 and categories == [{"id": 5, "name": "x"}]
    list_path = tmp_path / "videos.json"
    list_path.write_text(json.dumps([{"id": 4, "length": 7, "height": 10, "width": 12}]))
    videos, categories = load_video_set(list_path)
    assert videos[4].length == 7 and categories is None


def test_zip_layout_is_results_json_at_root(tmp_path: Path) -> None:
    results = [track(1, 0.9), track(2, 0.4)]
    out = write_submission(results, tmp_path / "sub" / "submission.zip")
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["results.json"]
        assert json.loads(archive.read("results.json")) == results
    assert read_submission(out) == results
    assert sorted(p.name for p in out.parent.iterdir()) == ["submission.zip"]  # no temp file left
    first = out.read_bytes()
    import time

    time.sleep(1.1)  # a zip's timestamps have 2 s resolution: a later write must not change the bytes
    assert write_submission(results, tmp_path / "again.zip").read_bytes() == first


def _run_cli(monkeypatch: pytest.MonkeyPatch, *overrides: str) -> None:
    monkeypatch.setattr(sys, "argv", ["vis-submit", *overrides])
    submit_main()


def test_cli_writes_zip_and_rejects_with_exit_code_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(
        json.dumps({"videos": VIDEOS, "annotations": [], "categories": [{"id": 1, "name": "a"}]})
    )
    good = tmp_path / "good.json"
    good.write_text(json.dumps([track(1, 0.2), track(1, 0.9), track(1, 0.5), track(2, 0.7)]))
    out = tmp_path / "submission.zip"
    _run_cli(monkeypatch, f"results={good}", f"gt={gt_path}", f"out={out}")
    assert "4 tracks in 2 of 2 videos" in capsys.readouterr().out
    assert len(read_submission(out)) == 4
    assert not (tmp_path / "outputs").exists()  # no hydra run directory

    # More tracks than topk=2: a warning by default (the server accepts it), rejected with strict=true,
    # truncated to the best 2 with truncate=true.
    _run_cli(monkeypatch, f"results={good}", f"gt={gt_path}", f"out={out}", "topk=2")
    assert "warning: video_id 1: 3 tracks, more than topk=2" in capsys.readouterr().err
    assert len(read_submission(out)) == 4
    with pytest.raises(SystemExit) as info:
        _run_cli(monkeypatch, f"results={good}", f"gt={gt_path}", f"out={out}", "topk=2", "strict=true")
    assert info.value.code == 2
    assert "video_id 1: 3 tracks, more than topk=2" in capsys.readouterr().err
    _run_cli(monkeypatch, f"results={good}", f"gt={gt_path}", f"out={out}", "topk=2", "truncate=true")
    assert [t["score"] for t in read_submission(out)] == [0.9, 0.5, 0.7]
    # a submission zip is read as results too
    again = tmp_path / "again.zip"
    _run_cli(monkeypatch, f"results={out}", f"gt={gt_path}", f"out={again}")
    assert read_submission(again) == read_submission(out)

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps([track(1, 0.5, category_id=3)] * 11))
    with pytest.raises(SystemExit) as info:
        _run_cli(monkeypatch, f"results={bad}", f"gt={gt_path}", f"out={tmp_path / 'bad.zip'}")
    err = capsys.readouterr().err
    assert info.value.code == 2 and "rejected, 11 problem(s)" in err and "... and 6 more" in err
    assert not (tmp_path / "bad.zip").exists()
