"""Every vis-run setting is checked before work starts: one line naming key, value and what is
allowed, exit code 2, nothing written (issue: never a wrong result in silence)."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import compose_run_cfg, make_synth, run_overrides, vis_run_cli

from vis_pipeline.pipeline import run_pipeline
from vis_pipeline.settings import SettingsError, in_range

BAD_SETTINGS = [
    ("threads=0", "threads=0: must be in [1, inf)"),
    ("topk=0", "topk=0: must be in [1, inf)"),
    ("topk=ten", "topk='ten': must be an integer"),
    ("association.iou_thr=0", "association.iou_thr=0: must be in (0, 1]"),
    ("association.iou_thr=1.5", "association.iou_thr=1.5: must be in (0, 1]"),
    ("association.iou_thr=abc", "association.iou_thr='abc': must be a number"),
    ("association.output_mask=union", "association.output_mask='union': must be one of tracker | detection"),
    ("association.class_gate=maybe", "association.class_gate='maybe': must be true/false"),
    ("association.max_lost=-1", "association.max_lost=-1: must be in [0, inf)"),
    ("device=cuda", "device=cuda: CUDA is not available"),
    ("device=gpu", "device='gpu': must be cpu | cuda | cuda:N"),
    ("+detector.device=cuda:3", "detector.device=cuda:3: CUDA is not available"),
    ("shard.index=2", "shard: shard.index=2 must be < shard.count=1"),
    ("+association.iou_threshold=0.5", "association.iou_threshold: unknown setting"),
]


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_synth(tmp_path_factory.mktemp("settings") / "synth", videos=1, seed=3, frames=2)


@pytest.mark.parametrize(("override", "message"), BAD_SETTINGS)
def test_bad_setting_is_one_line_before_any_work(
    dataset: Path, tmp_path: Path, override: str, message: str
) -> None:
    with pytest.raises(SettingsError) as error:
        run_pipeline(compose_run_cfg(run_overrides(dataset, override)), tmp_path / "run")
    assert message in str(error.value) and "\n" not in str(error.value)
    assert not (tmp_path / "run").exists()


def test_cli_exits_2_with_one_line_and_no_traceback(dataset: Path, tmp_path: Path) -> None:
    proc = vis_run_cli(dataset, tmp_path / "run", "association.iou_thr=abc")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "vis-run: association.iou_thr='abc': must be a number"
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    proc = vis_run_cli(dataset, blocker / "run")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert f"{blocker / 'run'}: cannot create the run directory" in proc.stderr


def test_tracker_enum_is_a_settings_error(dataset: Path, tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cascade"):
        run_pipeline(compose_run_cfg(run_overrides(dataset, "tracker.cascade=three_stage")), tmp_path / "run")


@pytest.mark.parametrize(
    ("value", "spec", "inside"),
    [(0.0, "(0, 1]", False), (1.0, "(0, 1]", True), (1e9, "[1, inf)", True), (0.5, "[1, inf)", False)],
)
def test_range_specs(value: float, spec: str, inside: bool) -> None:
    assert in_range(value, spec) is inside
