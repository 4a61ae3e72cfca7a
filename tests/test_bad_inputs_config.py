"""Bad ground truth and bad checkpoints stop the run at startup with one clear line (no traceback,
exit code 1); a detector that finds nothing gives empty but valid results."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from conftest import compose_run_cfg, make_synth, run_overrides, vis_run_cli

from siammask import build_siammask
from siammask.checkpoint import save_checkpoint
from vis_pipeline.pipeline import RunFailed, run_pipeline


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data = make_synth(
        tmp_path_factory.mktemp("gt") / "synth", videos=2, seed=7, frames=4, objects_range=(2, 3)
    )
    annotated = {a["video_id"] for a in json.loads((data / "annotations.json").read_text())["annotations"]}
    assert annotated == {1, 2}  # both videos have GT tracks (the scoring tests need the second one)
    return data


def edit_gt(dataset: Path, out: Path, edit: Callable[[dict], object]) -> Path:
    """A copy of the dataset's GT with ``edit`` applied to the parsed JSON."""
    gt = json.loads((dataset / "annotations.json").read_text())
    edit(gt)
    out.write_text(json.dumps(gt))
    return out


def set_first(gt: dict, key: str, value: object) -> None:
    gt["annotations"][0][key] = value


# Problems of one video's GT: that video fails alone (one line naming the file and the video); the
# other video is run and scored, and metrics.json says which video was left out.
GT_VIDEO_PROBLEMS = {
    "segmentations_not_one_per_frame": (
        lambda gt: gt["annotations"][0]["segmentations"].pop(),
        "3 segmentations but the video has 4 frames",
    ),
    "rle_of_another_size": (
        lambda gt: next(s for s in gt["annotations"][0]["segmentations"] if s).update(size=[60, 80]),
        "RLE size [60, 80] != video size [120, 160]",
    ),
    "track_of_unknown_category": (lambda gt: set_first(gt, "category_id", 77), "unknown category_id 77"),
    "undecodable_segmentation": (
        lambda gt: set_first(gt, "segmentations", [[[1.0, "x"]]] + [None] * 3),
        "frame 0: undecodable segmentation",
    ),
    "length_not_file_names": (lambda gt: gt["videos"][0].update(length=9), "length 9 != 4 file_names"),
}


@pytest.mark.parametrize("problem", sorted(GT_VIDEO_PROBLEMS))
def test_a_broken_video_in_the_gt_fails_alone_and_the_others_are_scored(
    dataset: Path, tmp_path: Path, problem: str
) -> None:
    edit, words = GT_VIDEO_PROBLEMS[problem]
    ann = edit_gt(dataset, tmp_path / "gt.json", edit)
    run = tmp_path / "run"
    with pytest.raises(RunFailed) as error:
        run_pipeline(compose_run_cfg(run_overrides(dataset, f"data.ann={ann}", "evaluate=true")), run)
    message = str(error.value)
    assert str(ann) in message and words in message and "\n" not in message
    assert "synth00001 (1)" in message and "1 video(s) failed" in message
    assert (run / "videos" / "2.json").is_file() and not (run / "videos" / "1.json").exists()
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["scored_videos"] == 1 and metrics["left_out_videos"] == [
        {"video_id": 1, "name": "synth00001"}
    ]
    assert 0.0 <= metrics["AP"] <= 1.0


def test_duplicate_video_ids_stop_the_run_at_startup(dataset: Path, tmp_path: Path) -> None:
    ann = edit_gt(dataset, tmp_path / "gt.json", lambda gt: gt["videos"][1].update(id=1))
    with pytest.raises(RunFailed) as error:
        run_pipeline(compose_run_cfg(run_overrides(dataset, f"data.ann={ann}")), tmp_path / "run")
    assert str(ann) in str(error.value) and "duplicate video id 1" in str(error.value)
    assert not (tmp_path / "run" / "videos").exists()


def test_annotation_of_an_unknown_video_is_dropped_with_a_warning(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    ann = edit_gt(dataset, tmp_path / "gt.json", lambda gt: set_first(gt, "video_id", 99))
    run_pipeline(
        compose_run_cfg(run_overrides(dataset, f"data.ann={ann}", "evaluate=true")), tmp_path / "run"
    )
    err = capsys.readouterr().err
    assert "warning" in err and str(ann) in err and "unknown video_id 99" in err
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["scored_videos"] == 2


def test_malformed_gt_json(dataset: Path, tmp_path: Path) -> None:
    text = (dataset / "annotations.json").read_text()
    ann = tmp_path / "cut.json"
    ann.write_text(text[: len(text) // 2])
    with pytest.raises(RunFailed, match=r"cut\.json: malformed YouTube-VIS annotation at line 1 column"):
        run_pipeline(compose_run_cfg(run_overrides(dataset, f"data.ann={ann}")), tmp_path / "run")
    ann.write_text("[1, 2, 3]")
    with pytest.raises(RunFailed, match=r"cut\.json: not a YouTube-VIS JSON"):
        run_pipeline(compose_run_cfg(run_overrides(dataset, f"data.ann={ann}")), tmp_path / "run")


@pytest.mark.parametrize("kind", ["random_bytes", "another_models_state_dict"])
def test_wrong_checkpoint_exits_1_with_one_line_and_no_traceback(
    dataset: Path, tmp_path: Path, kind: str
) -> None:
    checkpoint = tmp_path / f"{kind}.pth"
    if kind == "random_bytes":
        checkpoint.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
        words = "not a PyTorch checkpoint"
    else:
        torch.save({"state_dict": torch.nn.Conv2d(3, 8, 3).state_dict()}, checkpoint)
        words = "another model's state_dict"
    run_dir = tmp_path / "run"
    proc = vis_run_cli(dataset, run_dir, f"tracker.checkpoint={checkpoint}")
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith(f"vis-run: {checkpoint}") and words in lines[0]
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (run_dir / "videos").exists()


def test_truncated_empty_and_missing_checkpoints(dataset: Path, tmp_path: Path) -> None:
    torch.manual_seed(0)
    good = tmp_path / "tiny.pth"
    save_checkpoint(build_siammask("tiny"), good)
    truncated = tmp_path / "truncated.pth"
    truncated.write_bytes(good.read_bytes()[:50_000])
    empty = tmp_path / "empty.pth"
    empty.write_bytes(b"")
    for checkpoint in (truncated, empty, tmp_path / "missing.pth"):
        cfg = compose_run_cfg(run_overrides(dataset, f"tracker.checkpoint={checkpoint}"))
        with pytest.raises(RunFailed) as error:
            run_pipeline(cfg, tmp_path / "run")
        assert str(error.value).startswith(str(checkpoint)) and "\n" not in str(error.value)
    # the same file, whole, loads and runs
    run_pipeline(compose_run_cfg(run_overrides(dataset, f"tracker.checkpoint={good}")), tmp_path / "run")


def test_zero_detections_give_empty_but_valid_outputs(dataset: Path, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    overrides = run_overrides(dataset, "detector.miss_rate=1.0", "evaluate=true", "submission=true")
    summary = run_pipeline(compose_run_cfg(overrides), run_dir)
    assert summary["totals"] == {**summary["totals"], "videos": 2, "finished": 2, "failed": 0}
    assert [v["tracks"] for v in summary["videos"]] == [0, 0]
    assert json.loads((run_dir / "results.json").read_text()) == []
    for video_id in (1, 2):
        record = json.loads((run_dir / "videos" / f"{video_id}.json").read_text())
        assert record["results"] == [] and record["stats"] == {"frames": 4}
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["AP"] in (0.0, -1.0)


def test_random_bytes_as_detector_checkpoint_is_not_a_checkpoint(dataset: Path, tmp_path: Path) -> None:
    checkpoint = tmp_path / "junk.pth"
    checkpoint.write_bytes(torch.randint(0, 256, (4096,), dtype=torch.uint8).numpy().tobytes())
    proc = vis_run_cli(dataset, tmp_path / "run", "detector=tiny_htc", f"detector.checkpoint={checkpoint}")
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{checkpoint}: not a checkpoint" in proc.stderr and "trust_checkpoint" not in proc.stderr
