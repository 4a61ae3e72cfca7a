"""The one- vs two-stage ablation table (paper Table 14 form) from a hydra sweep directory.

Each arm is a run directory holding ``run_summary.json`` and ``metrics.json`` (written by
``vis-run``). The table names the protocol of every arm (association preset, cascade, stage-2 box,
read from the run summary). Arms are grouped by association preset; deltas are taken against the
first arm of the group in cascade order (one_stage first), so a sweep over
``association=paper,default`` gives the cascade's effect under each preset.
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
    association: str = "?"  # association preset label of the run (older runs: "?")
    stage2_box: str | None = None  # two-stage arms: best | smoothed

    @property
    def label(self) -> str:
        """cascade, with the stage-2 box of two-stage arms."""
        return f"{self.name} ({self.stage2_box})" if self.stage2_box else self.name


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
        protocol = summary.get("protocol", {})
        arms.append(
            Arm(
                name=str(summary.get("cascade", run_dir.name)),
                run_dir=run_dir,
                metrics={k: float(metrics[k]) for k in TABLE_METRICS},
                track_ms_per_frame=float(totals.get("track_ms_per_frame", float("nan"))),
                total_ms_per_frame=float(totals.get("total_ms_per_frame", float("nan"))),
                detector_skipped=bool(totals.get("detector_frames", 1) == 0),
                association=str(protocol.get("association", "?")),
                stage2_box=protocol.get("stage2_box"),
            )
        )
    if not arms:
        raise AblationError(f"{sweep_dir}: no run_summary.json found (run `vis-run -m ...` first)")
    arms.sort(key=lambda a: (a.association, CASCADE_ORDER.get(a.name, 99), a.label, str(a.run_dir)))
    return arms


def markdown_table(arms: list[Arm]) -> str:
    """Table 14 form: AP and AR10 with deltas against the first arm of the same association preset,
    then AP50/AP75/AR1 (and their deltas), runtime."""
    head = (
        "| association | cascade | AP | ΔAP | AP50 | ΔAP50 | AP75 | ΔAP75 | AR1 | ΔAR1 | AR10 | ΔAR10 "
        "| track ms/frame | total ms/frame |"
    )
    lines = [head, "|---|---|" + "---:|" * 12]
    bases: dict[str, Arm] = {}
    for arm in arms:
        base = bases.setdefault(arm.association, arm)
        cells = []
        for key in ("AP", "AP50", "AP75", "AR1", "AR10"):
            value, delta = 100 * arm.metrics[key], 100 * (arm.metrics[key] - base.metrics[key])
            cells += [f"{value:.1f}", f"{delta:+.1f}"]
        lines.append(
            f"| {arm.association} | {arm.label} | {' | '.join(cells)} "
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
        label = arm.label if len({a.association for a in arms}) == 1 else f"{arm.association}: {arm.label}"
        bars = ax.bar(x + (i - (len(arms) - 1) / 2) * width, values, width, label=label)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x, TABLE_METRICS)
    ax.set_ylabel("%")
    ax.set_title("SiamMask cascade ablation (same detections)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
