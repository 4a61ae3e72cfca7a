"""Never a wrong result in silence: cache and resume are keyed by content, write faults keep the
finished work, one run per run directory."""

from __future__ import annotations

import json
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
from conftest import ReferenceRun, cli_env, compose_run_cfg, make_synth, run_overrides, statuses, vis_run_cli

from vis_pipeline.pipeline import RunFailed, run_pipeline
from vis_pipeline.store import RunStore


def test_a_changed_frame_is_recomputed_and_the_other_videos_resumed(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    shutil.copytree(reference_run.dataset, data)
    run_dir = tmp_path / "run"
    run_pipeline(compose_run_cfg(run_overrides(data)), run_dir)
    frame = sorted((data / "JPEGImages" / "synth00002").iterdir())[1]
    image = cv2.imread(str(frame))
    cv2.imwrite(str(frame), 255 - image)  # same name, same size, other content
    run_pipeline(compose_run_cfg(run_overrides(data)), run_dir)
    assert statuses(run_dir) == {1: "skipped", 2: "done", 3: "skipped", 4: "skipped"}


def test_another_dataset_with_the_same_names_never_reuses_detections_or_results(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    # tiny_htc's cache key does not depend on the data: only the content fingerprint tells A from B
    cache, common = tmp_path / "cache", ("detector=tiny_htc", "evaluate=true", "tracker.checkpoint=null")
    other = make_synth(tmp_path / "b", videos=4, seed=11)  # same folder names synth00001..4
    run_a, run_b, fresh_b = tmp_path / "a_run", tmp_path / "b_run", tmp_path / "b_fresh"
    run_pipeline(compose_run_cfg(run_overrides(reference_run.dataset, *common, f"cache_dir={cache}")), run_a)
    run_pipeline(compose_run_cfg(run_overrides(other, *common, f"cache_dir={cache}")), run_b)
    run_pipeline(compose_run_cfg(run_overrides(other, *common, "cache_dir=null")), fresh_b)
    summary_b = json.loads((run_b / "run_summary.json").read_text())
    assert summary_b["totals"]["detector_frames"] == summary_b["totals"]["computed_frames"] > 0
    assert (run_b / "results.json").read_bytes() == (fresh_b / "results.json").read_bytes()
    # the same dataset again: every detection from the cache
    run_pipeline(compose_run_cfg(run_overrides(other, *common, f"cache_dir={cache}")), tmp_path / "b2")
    assert json.loads((tmp_path / "b2" / "run_summary.json").read_text())["totals"]["detector_frames"] == 0


def test_a_changed_gt_changes_the_evaluation_not_the_cached_detections(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    cache, common = tmp_path / "cache", ("detector=tiny_htc", "evaluate=true", "tracker.checkpoint=null")
    gt = json.loads((reference_run.dataset / "annotations.json").read_text())
    for annotation in gt["annotations"]:
        annotation["category_id"] = annotation["category_id"] % 6 + 1
    changed = tmp_path / "changed.json"
    changed.write_text(json.dumps(gt))
    run_pipeline(
        compose_run_cfg(run_overrides(reference_run.dataset, *common, f"cache_dir={cache}")), tmp_path / "r1"
    )
    cfg = compose_run_cfg(
        run_overrides(reference_run.dataset, *common, f"cache_dir={cache}", f"data.ann={changed}")
    )
    run_pipeline(cfg, tmp_path / "r2")
    summary = json.loads((tmp_path / "r2" / "run_summary.json").read_text())
    assert summary["totals"]["detector_frames"] == 0
    m1 = json.loads((tmp_path / "r1" / "metrics.json").read_text())
    m2 = json.loads((tmp_path / "r2" / "metrics.json").read_text())
    assert m1["per_category_AP"] != m2["per_category_AP"]


def test_a_results_write_failure_is_one_line_and_a_rerun_resumes(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "videos").write_text("a file where the per-video folder should be")
    proc = vis_run_cli(reference_run.dataset, run_dir)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert f"{run_dir / 'videos' / '1.json'}: cannot write" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    (run_dir / "videos").unlink()
    proc = vis_run_cli(reference_run.dataset, run_dir)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes


def _limit_file_size() -> None:
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # writes past the limit fail with EFBIG instead
    resource.setrlimit(resource.RLIMIT_FSIZE, (1500, 1500))


def test_a_full_disk_keeps_finished_videos_and_a_rerun_resumes(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = [*run_overrides(reference_run.dataset), f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]
    proc = subprocess.run(
        [sys.executable, "-m", "vis_pipeline.cli.run", *args],
        capture_output=True, text=True, timeout=300, env=cli_env(), preexec_fn=_limit_file_size,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
    assert "cannot write" in proc.stderr and "rerun to resume" in proc.stderr
    kept = sorted(p.name for p in (run_dir / "videos").glob("*.json"))
    proc = vis_run_cli(reference_run.dataset, run_dir)
    assert proc.returncode == 0, proc.stderr
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes
    assert all(statuses(run_dir)[int(name.split(".")[0])] == "skipped" for name in kept)


def test_one_run_per_run_dir_and_a_killed_holder_leaves_no_stale_lock(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    with RunStore(run_dir, "x").lock():
        with pytest.raises(RunFailed, match="in use by another vis-run"):
            run_pipeline(compose_run_cfg(run_overrides(reference_run.dataset)), run_dir)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, time\nfrom vis_pipeline.store import RunStore\n"
         f"with RunStore({str(run_dir)!r}, 'x').lock():\n    print('locked', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=cli_env(),
    )  # fmt: skip
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    proc = vis_run_cli(reference_run.dataset, run_dir)
    assert proc.returncode == 1 and f"pid {holder.pid}" in proc.stderr and "Traceback" not in proc.stderr
    holder.kill()  # SIGKILL: the kernel drops the lock with the process
    holder.wait()
    proc = vis_run_cli(reference_run.dataset, run_dir)
    assert proc.returncode == 0, proc.stderr


def test_interrupt_prints_one_line_exits_130_and_keeps_finished_videos(tmp_path: Path) -> None:
    import time

    # 12 videos of 24 frames with 2-3 objects, so that the run is still busy (seconds) when the signal
    # lands after the first one: the reference set's 4 videos of 6 frames take a fraction of a second,
    # which a loaded machine's scheduler can let pass before the signal (exit 0, not 130)
    dataset = make_synth(tmp_path / "synth", videos=12, seed=3, frames=24, objects_range=(2, 3))
    run_dir = tmp_path / "run"
    args = [*run_overrides(dataset), f"hydra.run.dir={run_dir}"]
    # a shell starting the suite in the background (`make test &`, nohup) hands its children SIGINT
    # ignored, and Python then never raises KeyboardInterrupt: give vis-run the default, as a terminal does
    proc = subprocess.Popen(
        [sys.executable, "-m", "vis_pipeline.cli.run", *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=cli_env(),
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 120
    while not list((run_dir / "videos").glob("*.json")) and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "Traceback" not in err, err
    assert "interrupted" in err and len(err.strip().splitlines()) == 1
    assert list((run_dir / "videos").glob("*.json"))
