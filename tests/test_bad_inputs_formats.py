"""Frame formats and folder layouts: grayscale / 16-bit PNG give the same results as the 8-bit
colour frames they encode; empty folders and non-image files in a folder-of-folders input."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import compose_run_cfg, make_synth, run_overrides

import vis_pipeline.pipeline as pipeline
from vis_pipeline.data import read_frame
from vis_pipeline.pipeline import RunFailed, run_pipeline
from vis_pipeline.types import Detections

# video folder -> how its frames are stored (all from the same decoded BGR frames)
VARIANTS = {
    "color8": lambda bgr: bgr,
    "color16": lambda bgr: bgr.astype(np.uint16) * 257,  # full-range 16-bit: 257 * v maps back to v
    "gray8": lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY),
    "gray3": lambda bgr: cv2.cvtColor(cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR),
    "gray16": lambda bgr: cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257,
}


def write_variants(dataset: Path, out: Path) -> Path:
    """One synthetic video stored five ways (PNG), one GT video per way; returns the GT path."""
    gt = json.loads((dataset / "annotations.json").read_text())
    [source] = gt["videos"]
    frames = [read_frame(dataset / "JPEGImages" / name) for name in source["file_names"]]
    videos, annotations = [], []
    for video_id, (folder, convert) in enumerate(VARIANTS.items(), start=1):
        (out / folder).mkdir(parents=True)
        names = [f"{folder}/{i:05d}.png" for i in range(len(frames))]
        for name, frame in zip(names, frames, strict=True):
            assert cv2.imwrite(str(out / name), convert(frame))
        videos.append({**source, "id": video_id, "file_names": names})
        for ann in gt["annotations"]:
            annotations.append({**ann, "id": len(annotations) + 1, "video_id": video_id})
    path = out.parent / "variants.json"
    path.write_text(json.dumps({**gt, "videos": videos, "annotations": annotations}))
    return path


def test_grayscale_and_16bit_png_track_like_their_8bit_colour_twins(tmp_path: Path) -> None:
    dataset = make_synth(tmp_path / "synth", videos=1, seed=3, frames=4)
    frames_root = tmp_path / "variants" / "JPEGImages"
    ann = write_variants(dataset, frames_root)
    assert cv2.imread(str(frames_root / "color16" / "00000.png"), cv2.IMREAD_UNCHANGED).dtype == np.uint16
    assert cv2.imread(str(frames_root / "gray8" / "00000.png"), cv2.IMREAD_UNCHANGED).ndim == 2
    run_dir = tmp_path / "run"
    run_pipeline(
        compose_run_cfg(run_overrides(dataset, f"data.frames={frames_root}", f"data.ann={ann}")), run_dir
    )

    def results(video_id: int) -> list[dict]:
        entries = json.loads((run_dir / "videos" / f"{video_id}.json").read_text())["results"]
        return [{k: v for k, v in e.items() if k != "video_id"} for e in entries]

    color8, color16, gray8, gray3, gray16 = (results(i) for i in range(1, 6))
    assert color8, "no tracks: the comparison would say nothing"
    assert color16 == color8
    assert gray8 == gray3 and gray16 == gray3
    for entry in color8 + gray8:
        assert len(entry["segmentations"]) == 4
        assert all(s is None or s["size"] == [120, 160] for s in entry["segmentations"])


class NoDetections:
    """A detector that never finds anything (no GT needed), for folder-of-folders inputs."""

    def cache_key(self) -> str:
        return "no-detections"

    def detect(self, frames: list[np.ndarray], video: object = None, frame_indices: object = None) -> list:
        return [Detections.empty() for _ in frames]


def test_folder_input_with_empty_folders_and_non_image_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "frames"
    image = np.full((48, 64, 3), 90, np.uint8)
    layout = {
        "clip1": ["0.png", "1.png", "2.png"],
        "clip2": [],  # empty folder
        "clip3": [],  # only non-image files
        "clip4": ["a.PNG", "b.Jpeg"],  # suffixes in any case
        "clip10": ["10.jpg", "9.jpg"],
    }
    for folder, names in layout.items():
        (root / folder).mkdir(parents=True)
        for name in names:
            assert cv2.imwrite(str(root / folder / name), image)
    (root / "clip1" / "notes.txt").write_text("not a frame")
    (root / "clip1" / "extra").mkdir()
    (root / "clip3" / "README.md").write_text("# nothing here")
    (root / "clip3" / "frame.gif").write_bytes(b"GIF89a")
    (root / ".hidden").mkdir()  # not a video
    (root / "index.txt").write_text("not a video")  # not a folder
    monkeypatch.setattr(pipeline, "build_detector", lambda det_cfg, gt_path: NoDetections())

    run_dir = tmp_path / "run"
    cfg = compose_run_cfg(run_overrides(tmp_path, f"data.frames={root}", "data.ann=null"))
    with pytest.raises(RunFailed, match=r"^2 video\(s\) failed: clip2 \(2\).*; clip3 \(3\)"):
        run_pipeline(cfg, run_dir)
    summary = json.loads((run_dir / "run_summary.json").read_text())
    videos = {v["name"]: (v["video_id"], v["status"], v["frames"]) for v in summary["videos"]}
    assert videos == {  # natural order: clip4 before clip10
        "clip1": (1, "done", 3),
        "clip2": (2, "failed", 0),
        "clip3": (3, "failed", 0),
        "clip4": (4, "done", 2),
        "clip10": (5, "done", 2),
    }
    for failure in summary["failures"]:
        assert f"{root / failure['name']}: video folder has no frames" in failure["error"]
    assert json.loads((run_dir / "results.json").read_text()) == []
    assert sorted(p.name for p in (run_dir / "videos").iterdir()) == ["1.json", "4.json", "5.json"]
