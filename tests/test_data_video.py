"""VideoSource listing, id assignment, JSON-driven order, validation, lazy streaming, shards."""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from vis_pipeline.data import DataError, VideoSource


def _frame(path: Path, value: int, size: tuple[int, int] = (6, 4)) -> None:
    """Write a (h=size[1], w=size[0]) PNG whose pixels all equal ``value`` (identifies the frame)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), np.full((size[1], size[0], 3), value, dtype=np.uint8))


def _write_json(path: Path, videos: list[dict]) -> Path:
    path.write_text(json.dumps({"videos": videos, "annotations": [], "categories": []}))
    return path


def test_folders_natural_order_ids_and_frames(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    for name in ("v10", "v2", "v1"):
        for index in (10, 2, 1):
            _frame(root / name / f"{index}.png", index)
    _frame(root / "v2" / "3.JPG", 3)  # upper-case suffix counts
    (root / "v2" / "notes.txt").write_text("ignored")
    (root / "README").write_text("a file next to the video folders is not a video")
    (root / ".cache").mkdir()  # hidden folders are not videos
    videos, failures = VideoSource(root).videos_and_failures()
    assert failures == []
    assert [(v.video_id, v.name) for v in videos] == [(1, "v1"), (2, "v2"), (3, "v10")]
    v2 = videos[1]
    assert v2.file_names == ["v2/1.png", "v2/2.png", "v2/3.JPG", "v2/10.png"]
    assert (v2.width, v2.height, v2.length) == (6, 4, 4)
    assert [int(f[0, 0, 0]) for f in v2.iter_frames()] == [1, 2, 3, 10]


def test_empty_video_folder_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    _frame(root / "a" / "0.png", 5)
    (root / "b").mkdir()
    (root / "b" / "log.txt").write_text("no frames here")
    _frame(root / "c" / "0.png", 6)
    videos, failures = VideoSource(root).videos_and_failures()
    assert [v.name for v in videos] == ["a", "c"]
    assert [(f.video_id, f.name) for f in failures] == [(2, "b")]
    assert str(root / "b") in failures[0].error and "\n" not in failures[0].error
    with pytest.raises(DataError, match="no frames"):
        VideoSource(root).video(2)


def test_json_fixes_order_ids_and_size(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    for index in (0, 5, 10, 15):
        _frame(root / "clip" / f"{index:05d}.png", index)
    _frame(root / "other" / "00000.png", 1)  # not in the JSON: ignored
    ann = _write_json(
        tmp_path / "ann.json",
        [{"id": 7, "width": 6, "height": 4, "length": 3,
          "file_names": ["clip/00010.png", "clip/00000.png", "clip/00015.png"]}],
    )  # fmt: skip
    videos, failures = VideoSource(root, ann).videos_and_failures()
    assert failures == [] and len(videos) == 1
    video = videos[0]
    assert (video.video_id, video.name, video.length) == (7, "clip", 3)
    assert [int(f[0, 0, 0]) for f in video.iter_frames()] == [10, 0, 15]  # JSON order, frame 5 skipped


def test_json_validation_failures_name_the_file(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    for index in range(3):
        _frame(root / "good" / f"{index}.png", index)
        _frame(root / "short" / f"{index}.png", index)
    ann = _write_json(
        tmp_path / "ann.json",
        [
            {
                "id": 1,
                "width": 6,
                "height": 4,
                "length": 3,
                "file_names": [f"good/{i}.png" for i in range(3)],
            },
            {
                "id": 2,
                "width": 6,
                "height": 4,
                "length": 5,
                "file_names": [f"short/{i}.png" for i in range(3)],
            },
            {"id": 3, "width": 6, "height": 4, "length": 2, "file_names": ["good/0.png", "gone/9.png"]},
        ],
    )
    videos, failures = VideoSource(root, ann).videos_and_failures()
    assert [v.video_id for v in videos] == [1]
    errors = {f.video_id: f.error for f in failures}
    assert str(ann) in errors[2] and "length 5 != 3" in errors[2]
    assert str(root / "gone" / "9.png") in errors[3] and "does not exist" in errors[3]
    assert all("\n" not in e for e in errors.values())


def test_malformed_json_source_raises_naming_file(tmp_path: Path) -> None:
    (tmp_path / "frames").mkdir()
    ann = tmp_path / "broken.json"
    ann.write_text('{"videos": [ {"id": 1} ')
    with pytest.raises(DataError) as exc:
        VideoSource(tmp_path / "frames", ann)
    assert str(ann) in str(exc.value) and "line 1" in str(exc.value)
    with pytest.raises(DataError, match="frames folder not found"):
        VideoSource(tmp_path / "nowhere")


def test_iter_frames_is_lazy_and_checks_size(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    for index in range(4):
        _frame(root / "v" / f"{index}.png", index)
    _frame(root / "w" / "0.png", 0)
    _frame(root / "w" / "1.png", 1, size=(8, 4))  # wrong width
    videos, _ = VideoSource(root).videos_and_failures()
    video, wrong = videos
    frames = video.iter_frames()
    assert inspect.isgenerator(frames)
    assert int(next(frames)[0, 0, 0]) == 0
    (root / "v" / "2.png").unlink()  # deleted after listing: only noticed when frame 2 is read
    assert int(next(frames)[0, 0, 0]) == 1
    with pytest.raises(DataError) as exc:
        next(frames)
    assert str(root / "v" / "2.png") in str(exc.value)
    with pytest.raises(DataError) as exc:
        list(wrong.iter_frames())
    assert str(root / "w" / "1.png") in str(exc.value) and "8x4" in str(exc.value)


def test_shards_partition_videos_by_id(tmp_path: Path) -> None:
    root = tmp_path / "frames"
    for index in range(7):
        _frame(root / f"vid{index}" / "0.png", index)
    (root / "vid3" / "0.png").unlink()  # a failing video still belongs to exactly one shard
    source = VideoSource(root)
    seen: list[int] = []
    for shard in range(3):
        good, bad = source.videos_and_failures(shard=(shard, 3))
        ids = sorted([v.video_id for v in good] + [f.video_id for f in bad])
        assert ids == list(range(1, 8))[shard::3]
        seen += ids
    assert sorted(seen) == list(range(1, 8))
    good, bad = source.videos_and_failures(video_ids=[2, 5, 7], shard=(1, 2))
    assert [v.video_id for v in good] == [5] and bad == []
    with pytest.raises(DataError, match="unknown video id"):
        source.videos_and_failures(video_ids=[99])
    with pytest.raises(DataError, match="shard"):
        source.videos_and_failures(shard=(3, 3))
