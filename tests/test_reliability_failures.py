"""A video that fails is recorded, the others finish, the exit code says so; retry_failed fixes it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ReferenceRun, compose_run_cfg, run_overrides, statuses, vis_run_cli

from vis_pipeline.merge import MergeError, merge_runs
from vis_pipeline.pipeline import RunFailed, run_pipeline


def copy_dataset(reference_run: ReferenceRun, tmp_path: Path) -> tuple[Path, Path]:
    """A private copy of the reference set and the path of frame 3 of video 2 in it."""
    dataset = tmp_path / "synth"
    shutil.copytree(reference_run.dataset, dataset)
    gt = json.loads((dataset / "annotations.json").read_text())
    video2 = next(v for v in gt["videos"] if v["id"] == 2)
    return dataset, dataset / "JPEGImages" / video2["file_names"][3]


def video_results(run_dir: Path, video_id: int) -> list[dict]:
    return json.loads((run_dir / "videos" / f"{video_id}.json").read_text())["results"]


def test_failed_video_is_recorded_others_finish_then_retry_completes(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    dataset, bad_frame = copy_dataset(reference_run, tmp_path)
    good_bytes = bad_frame.read_bytes()
    bad_frame.write_bytes(b"")
    run_dir = tmp_path / "run"

    proc = vis_run_cli(dataset, run_dir)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("vis-run: 1 video(s) failed:") and str(bad_frame) in last
    assert "retry_failed=true" in last

    summary = json.loads((run_dir / "run_summary.json").read_text())
    assert statuses(run_dir) == {1: "done", 2: "failed", 3: "done", 4: "done"}
    [failure] = summary["failures"]
    assert failure["video_id"] == 2 and str(bad_frame) in failure["error"] and "empty" in failure["error"]
    assert (run_dir / "failed" / "2.json").exists() and not (run_dir / "videos" / "2.json").exists()
    # the other videos lost nothing: their results are exactly the clean run's
    for video_id in (1, 3, 4):
        assert video_results(run_dir, video_id) == video_results(reference_run.run_dir, video_id)
    expected_partial = [r for r in json.loads(reference_run.results_bytes) if r["video_id"] != 2]
    assert json.loads((run_dir / "results.json").read_text()) == expected_partial
    assert not (run_dir / "submission.zip").exists()
    with pytest.raises(MergeError, match=r"failed video\(s\) \[2\]"):
        merge_runs([run_dir], tmp_path / "merged")

    bad_frame.write_bytes(good_bytes)
    run_pipeline(compose_run_cfg(run_overrides(dataset, "retry_failed=true")), run_dir)
    assert statuses(run_dir) == {1: "skipped", 2: "done", 3: "skipped", 4: "skipped"}
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes
    assert not (run_dir / "failed" / "2.json").exists()
    merge_runs([run_dir], tmp_path / "merged")  # now a complete run


def test_retry_failed_leaves_never_attempted_videos_pending(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    dataset, bad_frame = copy_dataset(reference_run, tmp_path)
    good_bytes = bad_frame.read_bytes()
    bad_frame.write_bytes(b"\x89PNG\r\n\x1a\n garbage that no decoder reads")
    run_dir = tmp_path / "run"
    with pytest.raises(RunFailed, match=r"1 video\(s\) failed: .*not a readable JPEG/PNG"):
        run_pipeline(compose_run_cfg(run_overrides(dataset)), run_dir)
    (run_dir / "videos" / "3.json").unlink()  # as if the run had been killed before video 3

    bad_frame.write_bytes(good_bytes)
    summary = run_pipeline(compose_run_cfg(run_overrides(dataset, "retry_failed=true")), run_dir)
    assert statuses(run_dir) == {1: "skipped", 2: "done", 3: "pending", 4: "skipped"}
    assert summary["totals"]["finished"] == 3 and not summary["failures"]
    assert {r["video_id"] for r in json.loads((run_dir / "results.json").read_text())} <= {1, 2, 4}
    assert not (run_dir / "submission.zip").exists()  # incomplete: no submission
    with pytest.raises(MergeError, match="video 3 missing"):
        merge_runs([run_dir], tmp_path / "merged")

    run_pipeline(compose_run_cfg(run_overrides(dataset)), run_dir)  # a plain rerun does the rest
    assert statuses(run_dir) == {1: "skipped", 2: "skipped", 3: "done", 4: "skipped"}
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes
    assert (run_dir / "submission.zip").exists()
