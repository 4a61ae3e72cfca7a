"""The one- vs two-stage ablation table (paper Table 14 form) from a hydra sweep directory.

Each arm is a run directory holding ``run_summary.json`` and ``metrics.json`` (written by
``vis-run``). Deltas are taken against the first arm in cascade order (one_stage first).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

CASCADE_ORDER = {"one_stage": 0, "two_stage": 1}
TABLE_METRICS = ("AP", "AP50", "AP75", "AR1", "AR10")


class AblationError(ValueError):
    """A sweep directory that cannot be tabulated (one-line message naming the path)."""


@dataclass(frozen=True)
class Arm:
    name: str
    run_dir: Path
    metrics: dict[str, float]
    track_ms_per_frame: float
    total_ms_per_frame: float
    detector_skipped: bool  # all detections came from the cache


def find_arms(sweep_dir: Path) -> list[Arm]:
    """Run directories under ``sweep_dir`` (any depth) that have both summary and metrics."""
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise AblationError(f"{sweep_dir}: not a directory")
    arms = []
    for summary_path in sorted(sweep_dir.rglob("run_summary.json")):
        run_dir = summary_path.parent
        metrics_path = run_dir / "metrics.json"
        if not metrics_path.is_file():
            raise AblationError(f"{metrics_path}: missing (run the sweep with data.ann pointing to GT)")
        try:
            summary = json.loads(summary_path.read_text())
            metrics = json.loads(metrics_path.read_text())
        except ValueError as exc:
            raise AblationError(f"{run_dir}: unreadable summary/metrics JSON ({exc})") from None
        totals = summary.get("totals", {})
        arms.append(
            Arm(
                name=str(summary.get("cascade", run_dir.name)),
                run_dir=run_dir,
                metrics={k: float(metrics[k]) for k in TABLE_METRICS},
                track_ms_per_frame=float(totals.get("track_ms_per_frame", float("nan"))),
                total_ms_per_frame=float(totals.get("total_ms_per_frame", float("nan"))),
                detector_skipped=bool(totals.get("detector_frames", 1) == 0),
            )
        )
    if not arms:
        raise AblationError(f"{sweep_dir}: no run_summary.json found (run `vis-run -m ...` first)")
    arms.sort(key=lambda a: (CASCADE_ORDER.get(a.name, 99), a.name, str(a.run_dir)))
    return arms


def markdown_table(arms: list[Arm]) -> str:
    """Table 14 form: AP and AR10 with deltas against the first arm, then AP50/AP75/AR1, runtime."""
    base = arms[0]
    head = "| cascade | AP | ΔAP | AR10 | ΔAR10 | AP50 | AP75 | AR1 | track ms/frame | total ms/frame |"
    lines = [head, "|---|" + "---:|" * 9]
    for arm in arms:
        m = arm.metrics
        lines.append(
            f"| {arm.name} | {100 * m['AP']:.1f} | {100 * (m['AP'] - base.metrics['AP']):+.1f} "
            f"| {100 * m['AR10']:.1f} | {100 * (m['AR10'] - base.metrics['AR10']):+.1f} "
            f"| {100 * m['AP50']:.1f} | {100 * m['AP75']:.1f} | {100 * m['AR1']:.1f} "
            f"| {arm.track_ms_per_frame:.0f} | {arm.total_ms_per_frame:.0f} |"
        )
    return "\n".join(lines) + "\n"


def plot_arms(arms: list[Arm], out_png: Path) -> None:
    """Grouped bars of the five metrics per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    x = np.arange(len(TABLE_METRICS))
    width = 0.8 / len(arms)
    fig, ax = plt.subplots(figsize=(7, 3.5), dpi=120)
    for i, arm in enumerate(arms):
        values = [100 * arm.metrics[k] for k in TABLE_METRICS]
        bars = ax.bar(x + (i - (len(arms) - 1) / 2) * width, values, width, label=arm.name)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, TABLE_METRICS)
    ax.set_ylabel("%")
    ax.set_title("SiamMask cascade ablation (same detections)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
