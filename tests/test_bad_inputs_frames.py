"""Bad frames in a multi-video run: each bad video fails with a one-line error naming the file,
and the good videos' results are exactly those of a run without the bad ones."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_run_cfg, make_synth, run_overrides

from vis_pipeline.pipeline import RunFailed, run_pipeline

GOOD = (1, 9)


def frame_path(dataset: Path, gt: dict, video_id: int, index: int) -> Path:
    video = next(v for v in gt["videos"] if v["id"] == video_id)
    return dataset / "JPEGImages" / video["file_names"][index]


def break_videos(dataset: Path) -> dict[int, tuple[str, str]]:
    """Damage videos 2-8 in place; returns video id -> (path the error must name, words it must say)."""
    ann = dataset / "annotations.json"
    gt = json.loads(ann.read_text())
    expected: dict[int, tuple[str, str]] = {}

    zero = frame_path(dataset, gt, 2, 2)
    zero.write_bytes(b"")
    expected[2] = (str(zero), "empty (0 bytes)")

    garbage = frame_path(dataset, gt, 3, 1)
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 5000, dtype=np.uint8).tobytes())
    expected[3] = (str(garbage), "not a readable JPEG/PNG")

    truncated = frame_path(dataset, gt, 4, 3)
    truncated.write_bytes(truncated.read_bytes()[: truncated.stat().st_size // 2])
    expected[4] = (str(truncated), "truncated JPEG")

    resized = frame_path(dataset, gt, 5, 2)
    small = cv2.resize(cv2.imread(str(resized)), (80, 60))
    assert cv2.imwrite(str(resized), small)
    expected[5] = (str(resized), "frame is 80x60 but video")

    first = frame_path(dataset, gt, 6, 0)
    for path in first.parent.iterdir():  # an empty video folder that the GT still lists
        path.unlink()
    expected[6] = (str(first), "does not exist")

    listed_text = frame_path(dataset, gt, 7, 1).with_suffix(".txt")
    frame_path(dataset, gt, 7, 1).rename(listed_text)
    listed_text.write_text("not an image\n")
    video7 = next(v for v in gt["videos"] if v["id"] == 7)
    video7["file_names"][1] = video7["file_names"][1].rsplit(".", 1)[0] + ".txt"
    expected[7] = (str(listed_text), "not a readable JPEG/PNG")

    missing = frame_path(dataset, gt, 8, 2)
    missing.unlink()  # the GT lists a frame that is not on disk
    expected[8] = (str(missing), "does not exist")

    # files that are no frames, next to a good video's frames: never listed, never read
    good_dir = frame_path(dataset, gt, 1, 0).parent
    (good_dir / "notes.txt").write_text("hello")
    (good_dir / ".DS_Store").write_bytes(os.urandom(64))
    (good_dir / "thumbs").mkdir()
    ann.write_text(json.dumps(gt))
    return expected


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict, pytest.ExceptionInfo]:
    """(clean run dir of videos 1 and 9 only, run dir with videos 2-8 broken, expectations, error)."""
    root = tmp_path_factory.mktemp("bad_frames")
    dataset = make_synth(root / "synth", videos=9, seed=5, frames=4)
    gt = json.loads((dataset / "annotations.json").read_text())
    clean_gt = {
        **gt,
        "videos": [v for v in gt["videos"] if v["id"] in GOOD],
        "annotations": [a for a in gt["annotations"] if a["video_id"] in GOOD],
    }
    clean_ann = root / "clean.json"
    clean_ann.write_text(json.dumps(clean_gt))
    clean_run = root / "clean"
    run_pipeline(compose_run_cfg(run_overrides(dataset, f"data.ann={clean_ann}")), clean_run)

    expected = break_videos(dataset)
    broken = root / "broken"
    with pytest.raises(RunFailed) as error:
        run_pipeline(compose_run_cfg(run_overrides(dataset)), broken)
    return clean_run, broken, expected, error


def test_each_bad_video_fails_with_a_one_line_error_naming_the_file(broken_run: tuple) -> None:
    _, broken, expected, error = broken_run
    summary = json.loads((broken / "run_summary.json").read_text())
    failures = {f["video_id"]: f["error"] for f in summary["failures"]}
    assert sorted(failures) == sorted(expected)
    for video_id, (path, words) in expected.items():
        assert path in failures[video_id] and words in failures[video_id], failures[video_id]
        assert "\n" not in failures[video_id]
        record = json.loads((broken / "failed" / f"{video_id}.json").read_text())
        assert record["error"] == failures[video_id]
    message = str(error.value)
    assert message.startswith("7 video(s) failed:") and "\n" not in message
    assert "retry_failed=true" in message


def test_good_videos_lose_nothing(broken_run: tuple) -> None:
    clean, broken, _, _ = broken_run
    summary = json.loads((broken / "run_summary.json").read_text())
    assert {v["video_id"]: v["status"] for v in summary["videos"] if v["status"] != "failed"} == {
        1: "done",
        9: "done",
    }
    for video_id in GOOD:
        got = json.loads((broken / "videos" / f"{video_id}.json").read_text())
        want = json.loads((clean / "videos" / f"{video_id}.json").read_text())
        assert got["results"] == want["results"] and got["stats"] == {"frames": 4}
    assert (broken / "results.json").read_bytes() == (clean / "results.json").read_bytes()
    assert json.loads((clean / "results.json").read_text()), "no tracks at all: the comparison says nothing"
