"""vis-run resume: finished videos are kept and skipped, a SIGKILLed run resumes to the same bytes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import torch
from conftest import ReferenceRun, cli_env, compose_run_cfg, run_overrides, statuses, vis_run_cli

from vis_pipeline.build import build_tracker
from vis_pipeline.pipeline import run_pipeline


def finished_files(run_dir: Path) -> list[Path]:
    return sorted((run_dir / "videos").glob("*.json"))


def test_rerun_skips_every_finished_video_and_rewrites_identical_results(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    (run_dir / "results.json").unlink()
    before = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in finished_files(run_dir)}
    assert len(before) == 4

    # Same overrides as the CLI run: the in-process config must hash the same to be resumed.
    run_pipeline(compose_run_cfg(run_overrides(reference_run.dataset)), run_dir)

    assert statuses(run_dir) == {1: "skipped", 2: "skipped", 3: "skipped", 4: "skipped"}
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes
    after = {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in finished_files(run_dir)}
    assert after == before  # skipped files are not rewritten
    umask = os.umask(0o022)
    os.umask(umask)
    for path in (run_dir / "results.json", run_dir / "run_summary.json", *finished_files(run_dir)):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path  # not mkstemp's 0600


def test_rerun_with_a_result_changing_option_recomputes(reference_run: ReferenceRun, tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    shutil.copytree(reference_run.run_dir, run_dir)
    changed = "association.min_tracker_score=0.9"
    run_pipeline(compose_run_cfg(run_overrides(reference_run.dataset, changed)), run_dir)
    assert set(statuses(run_dir).values()) == {"done"}  # another config hash: nothing reused
    # options that do not change results keep the hash: everything is skipped
    quiet_changes = ("progress=true", "threads=2", "evaluate=true", f"cache_dir={tmp_path / 'cache'}")
    run_pipeline(compose_run_cfg(run_overrides(reference_run.dataset, changed, *quiet_changes)), run_dir)
    assert set(statuses(run_dir).values()) == {"skipped"}


def test_sigkill_mid_run_then_resume_gives_the_uninterrupted_results(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    run_dir = tmp_path / "run"
    args = [*run_overrides(reference_run.dataset), f"hydra.run.dir={run_dir}"]
    log = (tmp_path / "killed.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "vis_pipeline.cli.run", *args], stdout=log, stderr=log, env=cli_env()
    )
    try:
        deadline = time.monotonic() + 180
        while proc.poll() is None and not finished_files(run_dir) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()
    kept = finished_files(run_dir)
    assert 1 <= len(kept) < 4, "the kill must land after the first video and before the last"
    assert not (run_dir / "results.json").exists()
    for path in kept:  # only whole files: each parses and carries its results
        record = json.loads(path.read_text())
        assert record["video_id"] == int(path.stem) and isinstance(record["results"], list)

    proc2 = vis_run_cli(reference_run.dataset, run_dir)
    assert proc2.returncode == 0, proc2.stderr
    kept_ids = {int(p.stem) for p in kept}
    assert statuses(run_dir) == {v: ("skipped" if v in kept_ids else "done") for v in (1, 2, 3, 4)}
    assert (run_dir / "results.json").read_bytes() == reference_run.results_bytes


def test_random_init_tracker_is_the_same_in_every_process() -> None:
    """checkpoint=null must not depend on the global RNG (resume/shards would mix weights)."""
    tracker_cfg = compose_run_cfg(["data.frames=.", "tracker=tiny", "tracker.checkpoint=null"]).tracker
    torch.manual_seed(123)
    first = build_tracker(tracker_cfg, "cpu").model.state_dict()
    torch.manual_seed(456)
    rng_before = torch.random.get_rng_state()
    second = build_tracker(tracker_cfg, "cpu").model.state_dict()
    assert torch.equal(torch.random.get_rng_state(), rng_before)  # the caller's RNG is untouched
    assert first.keys() == second.keys()
    assert all(torch.equal(first[k], second[k]) for k in first)
