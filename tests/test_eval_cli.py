"""vis-evaluate: table on stdout, metrics.json next to the results or at out=, exit 2 on bad input."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.cli.evaluate import main as evaluate_main
from vis_pipeline.eval import gt_to_results
from vis_pipeline.eval.submission import write_submission
from vis_pipeline.masks import encode_mask


def make_gt() -> dict:
    segs = []
    for t in range(3):
        mask = np.zeros((40, 50), dtype=np.uint8)
        mask[5 + t : 20 + t, 10:30] = 1
        segs.append(encode_mask(mask))
    return {
        "videos": [{"id": 1, "height": 40, "width": 50, "length": 3}],
        "annotations": [
            {
                "id": 1,
                "video_id": 1,
                "category_id": 2,
                "iscrowd": 0,
                "segmentations": segs,
                "areas": [300] * 3,
            }
        ],
        "categories": [{"id": 1, "name": "disc"}, {"id": 2, "name": "square"}],
    }


def run(monkeypatch: pytest.MonkeyPatch, *overrides: str) -> None:
    monkeypatch.setattr(sys, "argv", ["vis-evaluate", *overrides])
    evaluate_main()


def test_cli_writes_metrics(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    gt = make_gt()
    gt_path, results_path = tmp_path / "gt.json", tmp_path / "run" / "results.json"
    gt_path.write_text(json.dumps(gt))
    results_path.parent.mkdir()
    results_path.write_text(json.dumps(gt_to_results(gt)))
    run(monkeypatch, f"gt={gt_path}", f"results={results_path}")
    out = capsys.readouterr().out
    assert out.splitlines()[0].split()[:3] == ["AP", "AP50", "AP75"] and "square" in out and "disc" not in out
    metrics = json.loads((results_path.parent / "metrics.json").read_text())
    assert metrics["AP"] == pytest.approx(1.0) and metrics["per_category_AP"]["disc"] == -1.0
    assert not (tmp_path / "outputs").exists()

    run(monkeypatch, f"gt={gt_path}", f"results={results_path}", f"out={tmp_path / 'm' / 'x.json'}")
    assert json.loads((tmp_path / "m" / "x.json").read_text()) == metrics
    capsys.readouterr()
    zip_path = write_submission(gt_to_results(gt)[:0], tmp_path / "empty.zip")  # a zip is read too
    run(monkeypatch, f"gt={gt_path}", f"results={zip_path}", f"out={tmp_path / 'd'}", "per_category=false")
    assert json.loads((tmp_path / "d" / "metrics.json").read_text())["AP"] == 0.0
    assert "square" not in capsys.readouterr().out


def test_cli_bad_input_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    gt_path, results_path = tmp_path / "gt.json", tmp_path / "results.json"
    gt_path.write_text(json.dumps(make_gt()))
    results_path.write_text(
        json.dumps([{"video_id": 5, "category_id": 2, "score": 1.0, "segmentations": []}])
    )
    with pytest.raises(SystemExit) as info:
        run(monkeypatch, f"gt={gt_path}", f"results={results_path}")
    assert info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err == f"vis-evaluate: {results_path}: result #0: unknown video_id 5 (not in the GT's 1 videos)"
    assert not (tmp_path / "metrics.json").exists()
