"""Installed commands run from any folder: shipped weights/configs resolve to the project, the
user's relative paths to where the command was started; a dangling frame symlink is an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from conftest import cli_env, make_synth

from vis_pipeline.data import VideoSource


def test_vis_run_from_another_folder_with_relative_user_paths(tmp_path: Path) -> None:
    make_synth(tmp_path / "data", videos=1, seed=5, frames=3)
    args = [
        "data.frames=data/JPEGImages",
        "data.ann=data/annotations.json",
        "progress=false",
        "threads=1",
        "hydra.run.dir=runs/here",
        "cache_dir=cache",
    ]  # defaults: detector=tiny_htc (configs/detector/mmdet/..., weights/...), tracker=tiny (weights/...)
    proc = subprocess.run(
        [sys.executable, "-m", "vis_pipeline.cli.run", *args],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, env=cli_env(),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    results = json.loads((tmp_path / "runs/here/results.json").read_text())
    assert isinstance(results, list) and (tmp_path / "cache").is_dir()
    assert not (tmp_path / "weights").exists() and not (tmp_path / "configs").exists()


def test_a_dangling_frame_symlink_fails_its_video_naming_the_link(tmp_path: Path) -> None:
    data = make_synth(tmp_path / "data", videos=2, seed=5, frames=3)
    link = data / "JPEGImages" / "synth00001" / "00009.jpg"
    os.symlink(tmp_path / "gone.jpg", link)
    videos, failures = VideoSource(data / "JPEGImages").videos_and_failures()
    assert [v.video_id for v in videos] == [2]
    assert len(failures) == 1 and str(link) in failures[0].error and "missing" in failures[0].error
