"""Shared helpers of the vis-run reliability / bad-input tests: tiny synthetic datasets, the run
config composed in-process, and the CLIs in a subprocess (where the process boundary matters)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import NamedTuple

import pytest
from omegaconf import DictConfig

from vis_pipeline.cli import run as run_cli
from vis_pipeline.data.synth import SynthConfig, generate_dataset

# Small enough that a video tracks in about a second on a busy CPU with the random-init tiny SiamMask.
TINY_SYNTH = {"width": 160, "height": 120, "frames": 6, "objects_range": (1, 2)}


def make_synth(out_dir: Path, videos: int, seed: int = 0, **options: object) -> Path:
    """A synthetic YouTube-VIS set in ``out_dir`` (``JPEGImages/``, ``annotations.json``); returns out_dir."""
    cfg = SynthConfig.from_mapping({**TINY_SYNTH, **options}, source="test")
    generate_dataset(Path(out_dir), seed, videos, cfg, progress=False)
    return Path(out_dir)


def run_overrides(dataset: Path, *extra: str) -> list[str]:
    """vis-run overrides: oracle detector, random-init tiny SiamMask (seeded), no cache, quiet."""
    return [
        f"data.frames={dataset / 'JPEGImages'}",
        f"data.ann={dataset / 'annotations.json'}",
        "detector=oracle",
        "tracker=tiny",
        "tracker.checkpoint=null",
        "cache_dir=null",
        "progress=false",
        "threads=1",
        "evaluate=false",
        *extra,
    ]


def compose_run_cfg(overrides: Sequence[str]) -> DictConfig:
    """``configs/run.yaml`` with ``overrides``, as vis-run would see it (without the hydra node)."""
    return run_cli.compose_run_cfg(list(overrides))


def cli(module: str, args: Sequence[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run ``python -m <module> args...`` (e.g. vis_pipeline.cli.run) and capture its output."""
    return subprocess.run(
        [sys.executable, "-m", module, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=cli_env(),
    )


def cli_env() -> dict[str, str]:
    """Environment of CLI subprocesses: one thread per process (the test machine is shared)."""
    env = {k: v for k, v in os.environ.items() if k != "HYDRA_FULL_ERROR"}
    env.update(OMP_NUM_THREADS="1", MKL_NUM_THREADS="1", PYTHONWARNINGS="ignore")
    return env


def statuses(run_dir: Path) -> dict[int, str]:
    """{video_id: status} of a run directory's run_summary.json (done | skipped | failed | pending)."""
    summary = json.loads((run_dir / "run_summary.json").read_text())
    return {int(v["video_id"]): v["status"] for v in summary["videos"]}


def read_json(path: Path) -> object:
    return json.loads(Path(path).read_text())


@pytest.fixture
def synth_factory(tmp_path: Path) -> Callable[..., Path]:
    """``synth_factory(name, videos, seed=0, **synth_options)`` -> a dataset under tmp_path."""

    def factory(name: str, videos: int, seed: int = 0, **options: object) -> Path:
        return make_synth(tmp_path / name, videos, seed, **options)

    return factory


class ReferenceRun(NamedTuple):
    """An uninterrupted single-process ``vis-run`` (CLI) of a 4-video tiny synthetic set."""

    dataset: Path
    run_dir: Path
    results_bytes: bytes


def vis_run_cli(
    dataset: Path, run_dir: Path, *extra: str, timeout: float = 180
) -> subprocess.CompletedProcess:
    """``vis-run`` in a subprocess with :func:`run_overrides` into ``run_dir``."""
    return cli("vis_pipeline.cli.run", [*run_overrides(dataset, *extra), f"hydra.run.dir={run_dir}"], timeout)


@pytest.fixture(scope="session")
def reference_run(tmp_path_factory: pytest.TempPathFactory) -> ReferenceRun:
    """Shared by the resume, shard and failure tests (results of one clean run, byte for byte)."""
    root = tmp_path_factory.mktemp("reference")
    dataset = make_synth(root / "synth", videos=4, seed=0)
    run_dir = root / "run"
    proc = vis_run_cli(dataset, run_dir)
    assert proc.returncode == 0, proc.stderr
    return ReferenceRun(dataset, run_dir, (run_dir / "results.json").read_bytes())
