"""Sharded vis-run through the joblib launcher (real processes) + vis-merge, and merge rejections."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import pytest
from conftest import ReferenceRun, cli, compose_run_cfg, run_overrides

from vis_pipeline.merge import MergeError, merge_runs
from vis_pipeline.pipeline import run_pipeline


@pytest.fixture(scope="module")
def shard_dirs(reference_run: ReferenceRun, tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """The two shard run directories of ``vis-run -m hydra/launcher=vis_joblib shard.count=2``."""
    sweep = tmp_path_factory.mktemp("sweep")
    args = ["-m", "hydra/launcher=vis_joblib", "shard.count=2", "shard.index=range(2)"]
    proc = cli(
        "vis_pipeline.cli.run", [*args, *run_overrides(reference_run.dataset), f"hydra.sweep.dir={sweep}"]
    )
    assert proc.returncode == 0, proc.stderr
    # the sweep really went through the joblib launcher (not hydra's sequential basic launcher)
    assert "hydra_joblib_launcher" in (sweep / "multirun.yaml").read_text()
    dirs = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in dirs] == ["two_stage-shard0of2", "two_stage-shard1of2"]
    return dirs


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "run_summary.json").read_text())


def test_shards_are_deterministic_disjoint_subsets(shard_dirs: list[Path]) -> None:
    first, second = (summary(d) for d in shard_dirs)
    assert first["shard"] == {"index": 0, "count": 2} and second["shard"] == {"index": 1, "count": 2}
    # [index::count] of the id-sorted videos
    assert [v["video_id"] for v in first["videos"]] == [1, 3]
    assert [v["video_id"] for v in second["videos"]] == [2, 4]
    assert first["config_hash"] == second["config_hash"]
    assert {v["status"] for v in first["videos"] + second["videos"]} == {"done"}


def test_joblib_shards_merge_to_the_single_run_bytes(
    reference_run: ReferenceRun, shard_dirs: list[Path], tmp_path: Path
) -> None:
    out = tmp_path / "merged"
    gt = reference_run.dataset / "annotations.json"
    # as `vis-merge SWEEP_DIR/*` from a shell: hydra's multirun.yaml is among the arguments
    entries = sorted(str(p) for p in shard_dirs[0].parent.iterdir())
    assert len(entries) == 3
    proc = cli("vis_pipeline.cli.merge", [*entries, "--out", str(out), "--gt", str(gt)])
    assert proc.returncode == 0, proc.stderr
    assert "vis-merge: 2 shard(s)" in proc.stdout
    assert (out / "results.json").read_bytes() == reference_run.results_bytes
    assert summary(shard_dirs[0])["config_hash"] == summary(reference_run.run_dir)["config_hash"]
    with zipfile.ZipFile(out / "submission.zip") as archive:
        assert archive.namelist() == ["results.json"]
        assert json.loads(archive.read("results.json")) == json.loads(reference_run.results_bytes)


def test_merge_order_of_arguments_does_not_matter(
    reference_run: ReferenceRun, shard_dirs: list[Path], tmp_path: Path
) -> None:
    merge_runs(shard_dirs[::-1], tmp_path)
    assert (tmp_path / "results.json").read_bytes() == reference_run.results_bytes
    # the shards' video lists are merged too: the single run's list
    merged = json.loads((tmp_path / "videos.json").read_text())["videos"]
    assert merged == json.loads((reference_run.run_dir / "videos.json").read_text())["videos"]


def test_merge_rejects_a_missing_shard(shard_dirs: list[Path], tmp_path: Path) -> None:
    with pytest.raises(MergeError, match=r"missing \[1\]"):
        merge_runs([shard_dirs[0]], tmp_path)
    with pytest.raises(MergeError, match="not a finished vis-run directory"):
        merge_runs([shard_dirs[0], shard_dirs[0].parent / "multirun.yaml"], tmp_path)
    assert not (tmp_path / "results.json").exists()
    proc = cli("vis_pipeline.cli.merge", [str(shard_dirs[1]), "--out", str(tmp_path)])
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("vis-merge:") and "missing [0]" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "results.json").exists()


def test_merge_rejects_a_duplicated_shard(shard_dirs: list[Path], tmp_path: Path) -> None:
    copy = tmp_path / "copy-of-shard0"
    shutil.copytree(shard_dirs[0], copy)
    with pytest.raises(MergeError, match=r"duplicated \[0\]"):
        merge_runs([shard_dirs[0], shard_dirs[1], copy], tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_merge_rejects_shards_of_different_configs(
    reference_run: ReferenceRun, shard_dirs: list[Path], tmp_path: Path
) -> None:
    other = tmp_path / "shard1-other-config"
    overrides = run_overrides(
        reference_run.dataset, "shard.index=1", "shard.count=2", "association.iou_thr=0.4"
    )
    run_pipeline(compose_run_cfg(overrides), other)
    with pytest.raises(MergeError, match="different configs"):
        merge_runs([shard_dirs[0], other], tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_merge_rejects_shards_of_different_counts(
    reference_run: ReferenceRun, shard_dirs: list[Path], tmp_path: Path
) -> None:
    with pytest.raises(MergeError, match="disagree on shard.count"):
        merge_runs([reference_run.run_dir, *shard_dirs], tmp_path)


def test_merge_rejects_a_shard_whose_video_file_is_gone(shard_dirs: list[Path], tmp_path: Path) -> None:
    damaged = tmp_path / "shard1"
    shutil.copytree(shard_dirs[1], damaged)
    (damaged / "videos" / "4.json").unlink()
    with pytest.raises(MergeError, match="video 4 missing"):
        merge_runs([shard_dirs[0], damaged], tmp_path)
    assert not (tmp_path / "results.json").exists()


def test_failed_shard_job_lets_the_other_shard_finish_then_retry_and_merge(
    reference_run: ReferenceRun, tmp_path: Path
) -> None:
    dataset = tmp_path / "synth"
    shutil.copytree(reference_run.dataset, dataset)
    gt = json.loads((dataset / "annotations.json").read_text())
    bad_frame = dataset / "JPEGImages" / gt["videos"][0]["file_names"][1]  # video 1: shard 0
    good_bytes = bad_frame.read_bytes()
    bad_frame.write_bytes(b"")
    sweep = tmp_path / "sweep"
    args = ["-m", "hydra/launcher=vis_joblib", "shard.count=2", "shard.index=range(2)"]
    proc = cli("vis_pipeline.cli.run", [*args, *run_overrides(dataset), f"hydra.sweep.dir={sweep}"])
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr and f"{bad_frame}: frame file is empty" in proc.stderr
    shard0, shard1 = sweep / "two_stage-shard0of2", sweep / "two_stage-shard1of2"
    # the failing job did not take the other shard (or its own good video) down with it
    assert {v["video_id"]: v["status"] for v in summary(shard0)["videos"]} == {1: "failed", 3: "done"}
    assert {v["video_id"]: v["status"] for v in summary(shard1)["videos"]} == {2: "done", 4: "done"}
    with pytest.raises(MergeError, match=r"failed video\(s\) \[1\]"):
        merge_runs([shard0, shard1], tmp_path)

    bad_frame.write_bytes(good_bytes)
    retry = run_overrides(dataset, "shard.index=0", "shard.count=2", "retry_failed=true")
    run_pipeline(compose_run_cfg(retry), shard0)
    merge_runs([shard0, shard1], tmp_path)
    assert (tmp_path / "results.json").read_bytes() == reference_run.results_bytes
