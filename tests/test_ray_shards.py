"""Sharded vis-run on a real local Ray cluster (``hydra/launcher=vis_ray``) + vis-merge == one run.

Marked ``ray``. ``make test-ray`` runs it (and needs Ray: ``pip install -e .[ray]``); ``make test``
runs it when Ray is importable and deselects it with ``-m "not ray"`` otherwise. Run without Ray and
without that deselection, it fails: it never skips itself. Ray (and vis_pipeline.ray_shards, which
imports it) is imported inside the tests only, so that the module is still collected, and deselectable,
where Ray is missing.

The module starts its own head node (``ray start --head --block`` on a free port, 2 CPUs, its own
temp dir, in its own session) and stops it afterwards, also when a test failed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from conftest import ReferenceRun, cli, cli_env, compose_run_cfg, run_overrides

pytestmark = pytest.mark.ray

CLUSTER_CPUS = 2
START_TIMEOUT_S = 120
SHARD_TASK = ["hydra.launcher.remote.num_cpus=1", "hydra.launcher.remote.num_gpus=0"]


class LocalCluster(NamedTuple):
    address: str
    head: subprocess.Popen
    cwd: Path  # where `ray start` runs: its workers start here, not in vis-run's working directory


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def session_pids(session_id: int) -> list[int]:
    """Processes of a session (the head and everything it started: GCS, raylet, workers)."""
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # exited meanwhile
        if int(fields[3]) == session_id:  # after "pid (comm)": state ppid pgrp session
            pids.append(int(stat.parent.name))
    return pids


def stop_cluster(head: subprocess.Popen) -> list[int]:
    """SIGTERM the blocking `ray start` (Ray drains and stops its processes), then SIGKILL whatever of its
    session is left. Returns the pids that needed SIGKILL."""
    if head.poll() is None:
        head.send_signal(signal.SIGTERM)
        try:
            head.wait(timeout=60)
        except subprocess.TimeoutExpired:
            head.kill()
            head.wait()
    deadline = time.monotonic() + 10
    while session_pids(head.pid) and time.monotonic() < deadline:
        time.sleep(0.5)
    leftovers = session_pids(head.pid)
    for pid in leftovers:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return leftovers


def ray_executable() -> str:
    beside = Path(sys.executable).with_name("ray")
    found = str(beside) if beside.exists() else shutil.which("ray")
    if found is None:
        pytest.fail("no `ray` executable next to this python or on PATH: pip install -e .[ray]")
    return found


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[LocalCluster]:
    try:
        import ray  # noqa: F401
    except ImportError:
        pytest.fail(
            'ray is not installed: pip install -e .[ray] (make test deselects -m "not ray" without it)'
        )
    temp_dir = Path(tempfile.mkdtemp(prefix="vis-ray-"))  # short: Ray's unix socket paths live in it
    port = free_port()
    log_path = temp_dir / "ray-start.log"
    command = [
        ray_executable(),
        "start",
        "--head",
        "--block",
        f"--port={port}",
        f"--num-cpus={CLUSTER_CPUS}",
        "--num-gpus=0",
        "--include-dashboard=false",
        "--disable-usage-stats",
        f"--temp-dir={temp_dir}",
    ]
    env = {k: v for k, v in cli_env().items() if k != "RAY_ADDRESS"}
    with open(log_path, "w") as log:
        head = subprocess.Popen(
            command, cwd=temp_dir, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while "Ray runtime started" not in log_path.read_text():
            if head.poll() is not None or time.monotonic() > deadline:
                pytest.fail(
                    f"`ray start` did not come up (rc {head.poll()}):\n{log_path.read_text()[-2000:]}"
                )
            time.sleep(0.5)
        yield LocalCluster(f"127.0.0.1:{port}", head, temp_dir)
    finally:
        leftovers = stop_cluster(head)
        shutil.rmtree(temp_dir, ignore_errors=True)
    assert not session_pids(head.pid), "processes of the test's Ray cluster survived SIGKILL"
    assert leftovers == [], f"Ray processes outlived `ray start` after SIGTERM: {leftovers}"


def vis_run_on_ray(
    address: str, dataset: Path, driver_dir: Path, *extra: str
) -> subprocess.CompletedProcess[str]:
    """``vis-run -m hydra/launcher=vis_ray shard.count=2`` from ``driver_dir`` into ``driver_dir/sweep``
    (a relative sweep dir: the shard tasks must write where vis-run runs, not where `ray start` ran)."""
    driver_dir.mkdir(parents=True, exist_ok=True)
    args = [
        "-m",
        "hydra/launcher=vis_ray",
        f"hydra.launcher.address={address}",
        "shard.count=2",
        "shard.index=range(2)",
        *run_overrides(dataset),
        "hydra.sweep.dir=sweep",
        *extra,
    ]
    env = {k: v for k, v in cli_env().items() if k != "RAY_ADDRESS"}
    return subprocess.run(
        [sys.executable, "-m", "vis_pipeline.cli.run", *args],
        cwd=driver_dir,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "run_summary.json").read_text())


def test_ray_shards_merge_to_the_single_run_bytes(
    ray_cluster: LocalCluster, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    proc = vis_run_on_ray(ray_cluster.address, reference_run.dataset, tmp_path / "driver", *SHARD_TASK)
    assert proc.returncode == 0, proc.stderr
    sweep = tmp_path / "driver" / "sweep"
    assert "vis_ray_launcher" in (sweep / "multirun.yaml").read_text()
    assert not (ray_cluster.cwd / "sweep").exists()
    # the jobs ran in Ray workers (their output comes back prefixed with the task name and pid)
    assert "(_run_job_in_driver_cwd pid=" in proc.stdout + proc.stderr
    shards = sorted(p for p in sweep.iterdir() if p.is_dir())
    assert [p.name for p in shards] == ["two_stage-shard0of2", "two_stage-shard1of2"]
    assert [[v["video_id"] for v in summary(d)["videos"]] for d in shards] == [[1, 3], [2, 4]]

    out = tmp_path / "merged"
    gt = reference_run.dataset / "annotations.json"
    entries = sorted(str(p) for p in sweep.iterdir())  # as `vis-merge SWEEP/*`: multirun.yaml included
    merged = cli("vis_pipeline.cli.merge", [*entries, "--out", str(out), "--gt", str(gt)])
    assert merged.returncode == 0, merged.stderr
    assert "vis-merge: 2 shard(s)" in merged.stdout
    assert (out / "results.json").read_bytes() == reference_run.results_bytes
    with zipfile.ZipFile(out / "submission.zip") as archive:
        assert json.loads(archive.read("results.json")) == json.loads(reference_run.results_bytes)


def test_failed_ray_shard_exits_1_and_the_other_shard_finishes(
    ray_cluster: LocalCluster, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    dataset = tmp_path / "synth"
    shutil.copytree(reference_run.dataset, dataset)
    gt = json.loads((dataset / "annotations.json").read_text())
    bad_frame = dataset / "JPEGImages" / gt["videos"][0]["file_names"][1]  # video 1: shard 0
    bad_frame.write_bytes(b"")
    proc = vis_run_on_ray(ray_cluster.address, dataset, tmp_path / "driver", *SHARD_TASK)
    assert proc.returncode == 1
    assert f"{bad_frame}: frame file is empty" in proc.stderr
    assert "Traceback" not in proc.stderr
    sweep = tmp_path / "driver" / "sweep"
    shard0, shard1 = sweep / "two_stage-shard0of2", sweep / "two_stage-shard1of2"
    assert {v["video_id"]: v["status"] for v in summary(shard0)["videos"]} == {1: "failed", 3: "done"}
    assert {v["video_id"]: v["status"] for v in summary(shard1)["videos"]} == {2: "done", 4: "done"}


def test_shard_resources_no_node_has_fail_in_one_line(
    ray_cluster: LocalCluster, reference_run: ReferenceRun, tmp_path: Path
) -> None:
    # the config's GPU defaults (num_cpus=4, num_gpus=1) on this 2-CPU cluster: Ray would wait forever
    proc = vis_run_on_ray(ray_cluster.address, reference_run.dataset, tmp_path / "driver")
    assert proc.returncode == 1
    assert "hydra.launcher.remote asks num_cpus=4 num_gpus=1 per shard" in proc.stderr
    assert f"cluster at {ray_cluster.address} has that (at most CPU {CLUSTER_CPUS}, GPU 0" in proc.stderr
    assert "Traceback" not in proc.stderr
    sweep = tmp_path / "driver" / "sweep"
    assert not (sweep.exists() and any(p.is_dir() for p in sweep.iterdir()))


def test_cuda_shards_without_a_reserved_gpu_are_refused(tmp_path: Path) -> None:
    from vis_pipeline.ray_shards import RayLaunchError, RayShardSettings, check_devices

    def settings(num_gpus: float) -> RayShardSettings:
        return RayShardSettings("auto", {"num_cpus": 1, "num_gpus": num_gpus}, True, 10.0)

    cfg = compose_run_cfg(run_overrides(tmp_path, "device=cuda"))
    with pytest.raises(RayLaunchError, match="device=cuda with hydra.launcher.remote.num_gpus=0"):
        check_devices(cfg, settings(0))
    check_devices(cfg, settings(0.5))  # a shared card, on purpose
    cpu_cfg = compose_run_cfg(run_overrides(tmp_path))
    check_devices(cpu_cfg, settings(0))


def test_an_address_where_no_cluster_answers_fails_at_once() -> None:
    from vis_pipeline.ray_shards import RayLaunchError, reachable_address

    port = free_port()  # nothing listens there (ray.init would retry for minutes)
    started = time.monotonic()
    with pytest.raises(RayLaunchError, match=rf"no Ray cluster answers at [0-9.]+:{port} "):
        reachable_address(f"127.0.0.1:{port}", timeout_s=5)
    assert time.monotonic() - started < 5
