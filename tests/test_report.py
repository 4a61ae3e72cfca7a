"""Video files end to end and ``vis-report`` in a real headless Chromium.

Three synthetic videos encoded as .mp4 files (one truncated) run through vis-run (oracle
detections, tiny SiamMask) as a one- vs two-stage sweep; the run and sweep reports are opened in
Debian's Chromium through Playwright. Chromium missing is a failure with the install command,
not a skip: this test is how CI knows the report plays in a browser.
"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import compose_run_cfg, make_synth
from test_data_video_files import synth_as_video_files
from test_visualize import compose, probe

from vis_pipeline.cli.report import make_report
from vis_pipeline.pipeline import RunFailed, run_pipeline
from vis_pipeline.report import ReportError
from vis_pipeline.visualize import OverlaySettingsError

ROOT = Path(__file__).resolve().parents[1]


def _screenshot_module() -> Any:
    spec = importlib.util.spec_from_file_location(
        "report_screenshot", ROOT / "scripts" / "report_screenshot.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class Sweep:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.dataset = root / "synth"
        self.clips = root / "clips"
        self.sweep_dir = root / "sweep"

    def arm(self, cascade: str) -> Path:
        return self.sweep_dir / cascade


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Sweep:
    """Two arms (one_stage, two_stage) over 3 .mp4 files, the last one truncated (it fails alone)."""
    s = Sweep(tmp_path_factory.mktemp("report"))
    make_synth(s.dataset, videos=3, seed=9003, frames=6, width=160, height=96)
    synth_as_video_files(s.dataset, s.clips, fps=8)
    broken = sorted(s.clips.glob("*.mp4"))[-1]
    broken.write_bytes(broken.read_bytes()[: broken.stat().st_size // 2])
    for cascade in ("one_stage", "two_stage"):
        cfg = compose_run_cfg([
            f"data.frames={s.clips}", f"data.ann={s.dataset / 'annotations.json'}", "detector=oracle",
            "tracker=tiny", f"tracker.cascade={cascade}", "cache_dir=null", "progress=false", "threads=1",
            "submission=false",
        ])  # fmt: skip
        with pytest.raises(RunFailed, match=rf"1 video\(s\) failed: {broken.stem} \(3\): .*truncated"):
            run_pipeline(cfg, s.arm(cascade))
    return s


def test_video_files_run_end_to_end(sweep: Sweep) -> None:
    run = sweep.arm("two_stage")
    results = json.loads((run / "results.json").read_text())
    listed = {v["id"]: v for v in json.loads((run / "videos.json").read_text())["videos"]}
    assert sorted(listed) == [1, 2]  # the truncated file failed, see run_summary
    for video_id, video in listed.items():
        assert video["source"] == str((sweep.clips / f"{video['file_names'][0].split('/')[0]}.mp4").resolve())
        assert (video["width"], video["height"], video["length"], video["fps"]) == (160, 96, 6, 8.0)
        assert video["file_names"] == [
            f"{video['file_names'][0].split('/')[0]}/{i:05d}.jpg" for i in range(6)
        ]
        tracks = [r for r in results if r["video_id"] == video_id]
        assert tracks and all(len(t["segmentations"]) == 6 for t in tracks)  # one per decoded frame
    summary = json.loads((run / "run_summary.json").read_text())
    assert [f["video_id"] for f in summary["failures"]] == [3]
    assert json.loads((run / "metrics.json").read_text())["AP"] > 0


def _check_self_contained(index: Path) -> list[str]:
    """Every src/href of the page is a file inside the report folder or an anchor; returns the srcs."""
    page = index.read_text()
    assert not re.search(r"https?://", page), "the report must not load anything from the internet"
    links = re.findall(r'(?:src|href)="([^"]+)"', page)
    for link in links:
        if link.startswith("#") or link.startswith("data:"):
            continue
        assert (index.parent / link).is_file(), link
    return links


def test_run_and_sweep_reports_open_in_chromium(sweep: Sweep, tmp_path: Path) -> None:
    screenshot = _screenshot_module()
    run_index = make_report(compose("report", [f"run={sweep.arm('two_stage')}", f"out={tmp_path / 'run'}"]))
    sweep_index = make_report(compose("report", [f"sweep={sweep.sweep_dir}", "max_videos=1"]))
    assert sweep_index == sweep.sweep_dir / "report" / "index.html"
    videos = [link for link in _check_self_contained(run_index) if link.endswith(".mp4")]
    assert sorted(videos) == ["videos/1.mp4", "videos/2.mp4"]
    assert probe(run_index.parent / videos[0])[:4] == ("h264", "yuv420p", 2 * 160, 96)  # prediction | GT
    sweep_videos = [link for link in _check_self_contained(sweep_index) if link.endswith(".mp4")]
    assert sorted(sweep_videos) == ["videos/0/1.mp4", "videos/1/1.mp4"]  # max_videos=1 per arm
    categories = json.loads((sweep.arm("two_stage") / "metrics.json").read_text())["per_category_AP"]

    with screenshot.open_report(run_index) as report:
        assert report.row_count("metrics") == 1
        assert report.row_count("categories") == len(categories)
        assert report.row_count("videos") == 3
        states = report.wait_for_videos()
        assert len(states) == 2 and min(states) >= 2  # H.264 decodes in Chromium
        page = report.page
        assert "failed" in page.inner_text("#videos tbody tr:nth-child(3)")
        page.click("#videos th:has-text('id')")  # ascending already: the first click keeps the order
        page.click("#videos th:has-text('id')")
        ids = page.eval_on_selector_all("#videos tbody tr", "rows => rows.map(r => r.cells[0].innerText)")
        assert ids == ["3", "2", "1"]
        page.click("#videos a[href='#video-2']")
        assert page.evaluate("location.hash") == "#video-2"
        assert report.errors == []

    with screenshot.open_report(sweep_index) as report:
        assert report.row_count("ablation") == 2
        assert report.row_count("metrics") == 2
        assert report.row_count("videos") == 3
        headers = report.page.eval_on_selector_all("#videos th", "cells => cells.map(c => c.innerText)")
        assert sum(h.endswith("ΔAP") for h in headers) == 1  # the second arm against the first
        assert min(report.wait_for_videos()) >= 2
        assert report.errors == []

    shot = tmp_path / "shot.png"
    script = [
        sys.executable,
        str(ROOT / "scripts" / "report_screenshot.py"),
        str(run_index.parent),
        str(shot),
    ]
    proc = subprocess.run(script, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


def test_report_input_errors_are_one_line(tmp_path: Path) -> None:
    with pytest.raises(ReportError, match="exactly one of run="):
        make_report(compose("report", []))
    (tmp_path / "not_a_run").mkdir()
    with pytest.raises(ReportError, match=r"run_summary.json: missing .* finished vis-run directory"):
        make_report(compose("report", [f"run={tmp_path / 'not_a_run'}"]))
    with pytest.raises(ReportError, match="no run_summary.json found"):
        make_report(compose("report", [f"sweep={tmp_path / 'not_a_run'}"]))
    with pytest.raises(OverlaySettingsError, match="crf=60: must be in"):
        make_report(compose("report", [f"run={tmp_path / 'not_a_run'}", "crf=60"]))
