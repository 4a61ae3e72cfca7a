"""vis-ablate: the Table-14 table names each arm's protocol and takes deltas within a preset."""

import json
from pathlib import Path

import pytest

from vis_pipeline.ablate import AblationError, find_arms, markdown_table, plot_arms

KEYS = ("AP", "AP50", "AP75", "AR1", "AR10")


def _arm(root: Path, name: str, association: str, cascade: str, stage2: str | None, ap: float) -> None:
    run = root / name
    run.mkdir(parents=True)
    protocol = {"cascade": cascade, "stage2_box": stage2, "association": association}
    totals = {"track_ms_per_frame": 10.0, "total_ms_per_frame": 20.0, "detector_frames": 0}
    (run / "run_summary.json").write_text(
        json.dumps({"cascade": cascade, "protocol": protocol, "totals": totals})
    )
    (run / "metrics.json").write_text(json.dumps({k: ap for k in KEYS}))


def test_table_names_presets_and_deltas_are_within_each_preset(tmp_path: Path) -> None:
    _arm(tmp_path, "a", "paper", "two_stage", "best", 0.50)
    _arm(tmp_path, "b", "paper", "one_stage", None, 0.40)
    _arm(tmp_path, "c", "default", "one_stage", None, 0.60)
    _arm(tmp_path, "d", "default", "two_stage", "smoothed", 0.55)
    arms = find_arms(tmp_path)
    assert [(a.association, a.label) for a in arms] == [
        ("default", "one_stage"),
        ("default", "two_stage (smoothed)"),
        ("paper", "one_stage"),
        ("paper", "two_stage (best)"),
    ]
    rows = [line.split("|")[1:-1] for line in markdown_table(arms).splitlines()[2:]]
    assert [(r[0].strip(), r[1].strip(), r[2].strip(), r[3].strip()) for r in rows] == [
        ("default", "one_stage", "60.0", "+0.0"),
        ("default", "two_stage (smoothed)", "55.0", "-5.0"),
        ("paper", "one_stage", "40.0", "+0.0"),
        ("paper", "two_stage (best)", "50.0", "+10.0"),
    ]
    plot_arms(arms, tmp_path / "ablation.png")
    assert (tmp_path / "ablation.png").stat().st_size > 1000


def test_missing_metrics_is_one_line_error(tmp_path: Path) -> None:
    _arm(tmp_path, "a", "paper", "one_stage", None, 0.4)
    (tmp_path / "a" / "metrics.json").unlink()
    with pytest.raises(AblationError, match="metrics.json: missing"):
        find_arms(tmp_path)
