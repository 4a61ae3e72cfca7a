"""End to end: synthetic videos -> detector -> SiamMask tracks -> results -> metrics, with the
committed tiny models (and the oracle detector)."""

import json
from pathlib import Path

import pytest
from conftest import compose_run_cfg

from vis_pipeline.data.synth import generate_dataset
from vis_pipeline.data.synth_config import SynthConfig
from vis_pipeline.eval.errors import ErrorConfig
from vis_pipeline.eval.errors_fix import analyse_errors
from vis_pipeline.pipeline import run_pipeline

REPO = Path(__file__).resolve().parents[1]
TINY_SIAMMASK = REPO / "weights" / "tiny_siammask.pth"
# Synthetic videos without occluders, crossings, fast objects or objects that leave the frame: what
# is left to get wrong with a perfect detector is the association and the lifecycle.
EASY = {
    "width": 320,
    "height": 180,
    "frames": 10,
    "occluder_prob": 0.0,
    "occlusion_rate": 0.0,
    "same_category_prob": 0.0,
    "enter_leave_prob": 0.0,
    "fast_prob": 0.0,
}


@pytest.fixture(scope="module")
def easy_synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("easy_synth")
    generate_dataset(out, seed=2, videos=6, cfg=SynthConfig.from_mapping(EASY), progress=False)
    return out


def run(data: Path, run_dir: Path, cache: Path, *overrides: str) -> dict:
    """One in-process vis-run; returns its metrics."""
    cfg = compose_run_cfg(
        [
            f"data.frames={data / 'JPEGImages'}",
            f"data.ann={data / 'annotations.json'}",
            f"cache_dir={cache}",
            "progress=false",
            "threads=1",
            f"tracker.checkpoint={TINY_SIAMMASK}",
            *overrides,
        ]
    )
    run_pipeline(cfg, run_dir)
    return json.loads((run_dir / "metrics.json").read_text())


def test_oracle_without_occluders_or_crossings_finds_every_track_whole(easy_synth, tmp_path):
    # With perfect detections and their masks on these videos every GT track must be found by one
    # predicted track, none missed or split (vis-errors' labels; the association before issue 14
    # split 2 of these 27 tracks, AP 0.965), so AP is far above its bound.
    run_dir = tmp_path / "run"
    metrics = run(
        easy_synth, run_dir, tmp_path / "cache", "detector=oracle", "association.output_mask=detection"
    )
    report = analyse_errors(
        easy_synth / "annotations.json", run_dir / "results.json", ErrorConfig.from_yaml()
    )
    assert report["gt_labels"]["missed"] == 0 and report["gt_labels"]["fragmented"] == 0, report["gt_tracks"]
    assert report["id_switches"] == 0
    assert metrics["AP"] >= 0.9, metrics
    assert (run_dir / "submission.zip").is_file()


@pytest.fixture(scope="module")
def hard_synth(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    cfg = SynthConfig.from_mapping({"width": 320, "height": 180, "frames": 10})
    generate_dataset(out, seed=2, videos=3, cfg=cfg, progress=False)
    return out


def test_tiny_models_one_and_two_stage_share_detections(hard_synth, tmp_path):
    # Measured on this set with the committed models: AP 0.648 for both arms with the default
    # association (detection masks out); 0.544 / 0.518 when SiamMask's masks were the default output.
    cache = tmp_path / "cache"
    m1 = run(hard_synth, tmp_path / "one", cache, "detector=tiny_htc", "tracker.cascade=one_stage")
    m2 = run(hard_synth, tmp_path / "two", cache, "detector=tiny_htc", "tracker.cascade=two_stage")
    s1 = json.loads((tmp_path / "one/run_summary.json").read_text())
    s2 = json.loads((tmp_path / "two/run_summary.json").read_text())
    assert s1["totals"]["detector_frames"] == 30 and s2["totals"]["detector_frames"] == 0  # cache reused
    # the two arms ran different cascades: only the two-stage tracker ran stage-2 searches
    c1, c2 = s1["protocol"]["forward_counts"], s2["protocol"]["forward_counts"]
    assert c1["stage2"] == 0 and c2["stage2"] > 0 and c1["stage1"] > 0 and c2["stage1"] > 0
    assert (tmp_path / "one/results.json").read_bytes() != (tmp_path / "two/results.json").read_bytes()
    for metrics in (m1, m2):
        assert metrics["AP"] >= 0.4, metrics
    assert (tmp_path / "two/submission.zip").is_file()


@pytest.mark.parametrize("detector", ["tiny_htc_ms", "tiny_htc_ms2", "tiny_htc_ms3", "tiny_htc_ms4"])
def test_multi_scale_tiny_htc_runs_at_the_default_video_size(tmp_path, detector):
    # the committed multi-scale fine-tunes, tested at 640x360 (their config's test_scale);
    # measured AP 0.656 (tiny_htc_ms), 0.687 (tiny_htc_ms2), 0.681 (tiny_htc_ms3), 0.659 (tiny_htc_ms4)
    # on this set (3 easy videos: the presets are not ranked by it)
    data = tmp_path / "synth"
    generate_dataset(data, seed=2, videos=3, cfg=SynthConfig.from_mapping({"frames": 10}), progress=False)
    metrics = run(data, tmp_path / "run", tmp_path / "cache", f"detector={detector}")
    summary = json.loads((tmp_path / "run/run_summary.json").read_text())
    assert summary["totals"]["detector_frames"] == 30
    assert metrics["AP"] >= 0.4, metrics
