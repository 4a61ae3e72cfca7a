"""``errors.md`` tables and the ``errors.png`` bar plot of :func:`vis_pipeline.eval.errors_fix.analyse_errors`
reports: one run, or several arms of a sweep side by side (ΔAP in AP points, i.e. x100)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vis_pipeline.eval import errors as errors_module
from vis_pipeline.eval.errors import FIXES

FIX_NAMES = {
    "missed": "missed (GT track)",
    "fragmented": "fragmented (GT track)",
    "classification": "classification (GT track)",
    "mask": "mask quality (GT track)",
    "mask_spatial": "  mask: spatial part",
    "mask_temporal": "  mask: temporal part",
    "duplicate": "duplicate (prediction)",
    "background": "background (prediction)",
}
MAX_EXAMPLES = 12  # fragmented GT tracks listed with their ID switches in errors.md


def _points(value: float) -> str:
    return "-" if value < 0 else f"{100 * value:.1f}"


def fixes_table(report: dict[str, Any]) -> str:
    """One run: count and AP gained per fixed error type."""
    lines = [
        f"AP {_points(report['AP'])} | AP50 {_points(report['AP50'])} | ID switches {report['id_switches']}",
        "",
        "| error (fixed alone) | count | ΔAP | ΔAP50 | AP after fix |",
        "|---|---:|---:|---:|---:|",
    ]
    for fix in FIXES:
        row = report["fixes"][fix]
        lines.append(
            f"| {FIX_NAMES[fix]} | {row['count']} | {100 * row['dAP']:+.1f} | {100 * row['dAP50']:+.1f} "
            f"| {_points(row['AP'])} |"
        )
    return "\n".join(lines) + "\n"


def labels_table(report: dict[str, Any]) -> str:
    """GT and prediction label counts, and the context tags of the ID switches."""
    gt = ", ".join(f"{k} {v}" for k, v in report["gt_labels"].items())
    pred = ", ".join(f"{k} {v}" for k, v in report["pred_labels"].items())
    tags = ", ".join(f"{k} {v}" for k, v in report["switch_tags"].items())
    return (
        f"- GT tracks: {gt}\n- predictions: {pred}\n"
        f"- {report['id_switches']} ID switches, around which (not exclusive): {tags}\n"
    )


def examples(report: dict[str, Any], limit: int = MAX_EXAMPLES) -> str:
    """The fragmented GT tracks with the most ID switches: video, track, frames and context of each switch."""
    fragmented = [r for r in report["gt_tracks"] if r["label"] == "fragmented"]
    fragmented.sort(key=lambda r: (-len(r["switches"]), r["video_id"], r["track_id"]))
    lines = []
    for record in fragmented[:limit]:
        switches = "; ".join(
            f"frame {s['frame']} pred {s['from_pred']}->{s['to_pred']} ({', '.join(s['tags']) or 'no tag'})"
            for s in record["switches"]
        )
        lines.append(
            f"- video {record['video_id']} GT track {record['track_id']} (category {record['category_id']}, "
            f"{len(record['fragments'])} fragments): {switches}"
        )
    return "\n".join(lines) + "\n" if lines else "- none\n"


def sweep_table(reports: dict[str, dict[str, Any]]) -> str:
    """Arms side by side: AP, AP50, ID switches, then ΔAP (count) per fixed error type."""
    names = list(reports)
    lines = ["| | " + " | ".join(names) + " |", "|---|" + "---:|" * len(names)]
    lines.append("| AP | " + " | ".join(_points(r["AP"]) for r in reports.values()) + " |")
    lines.append("| AP50 | " + " | ".join(_points(r["AP50"]) for r in reports.values()) + " |")
    lines.append("| ID switches | " + " | ".join(str(r["id_switches"]) for r in reports.values()) + " |")
    for fix in FIXES:
        cells = [
            f"{100 * r['fixes'][fix]['dAP']:+.1f} ({r['fixes'][fix]['count']})" for r in reports.values()
        ]
        lines.append(f"| ΔAP {FIX_NAMES[fix].strip()} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def definitions(config: dict[str, float]) -> str:
    """The error definitions (the errors module docstring) and the thresholds used."""
    settings = ", ".join(f"{k}={v:g}" for k, v in config.items())
    return f"## Definitions\n\nSettings: {settings}.\n\n{errors_module.__doc__}"


def markdown(reports: dict[str, dict[str, Any]]) -> str:
    """errors.md: per arm the fixes table, label counts and examples; arms side by side if several."""
    parts = ["# VIS error breakdown (vis-errors)\n"]
    if len(reports) > 1:
        parts += ["## Arms side by side (ΔAP in AP points, count in brackets)\n", sweep_table(reports)]
    for name, report in reports.items():
        parts += [f"## {name}\n", fixes_table(report), labels_table(report)]
        parts += ["Fragmented GT tracks (most ID switches first):\n", examples(report)]
    parts.append(definitions(next(iter(reports.values()))["config"]))
    return "\n".join(parts)


def plot_errors(reports: dict[str, dict[str, Any]], out_png: Path) -> None:
    """Horizontal bars: AP gained by fixing each error type, one bar per arm."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    y = np.arange(len(FIXES))
    height = 0.8 / len(reports)
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.45 * len(FIXES)), dpi=120)
    for i, (name, report) in enumerate(reports.items()):
        values = [100 * report["fixes"][fix]["dAP"] for fix in FIXES]
        label = f"{name} (AP {_points(report['AP'])})"
        bars = ax.barh(y + (i - (len(reports) - 1) / 2) * height, values, height, label=label)
        ax.bar_label(bars, fmt="%+.1f", fontsize=7, padding=2)
    ax.set_yticks(y, [FIX_NAMES[fix].strip() for fix in FIXES])
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.6)
    ax.margins(x=0.15)  # room for the bar labels
    ax.set_xlabel("AP gained by fixing this error type alone (AP points)")
    ax.set_title("VIS error breakdown")
    ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(out_png)
    plt.close(fig)
