"""Fixed-width text tables of YouTube-VIS metrics (as returned by ``evaluate_ytvis``)."""

from __future__ import annotations

from typing import Any

from vis_pipeline.eval.ytvis_eval import STAT_NAMES


def _cell(value: float, width: int) -> str:
    """Percent with one decimal; '-' for an undefined (-1) metric."""
    return f"{'-':>{width}}" if value < 0 else f"{100.0 * value:>{width}.1f}"


def format_metrics_table(metrics: dict[str, Any], per_category: bool = True, width: int = 6) -> str:
    """Summary row (AP AP50 AP75 APs APm APl AR1 AR10 AR100 ARs ARm ARl, in %) and, if asked,
    a per-category AP table of the categories that have GT (undefined ones are counted)."""
    lines = [
        " ".join(f"{name:>{width}}" for name in STAT_NAMES),
        " ".join(_cell(float(metrics[name]), width) for name in STAT_NAMES),
    ]
    per_cat = metrics.get("per_category_AP") or {}
    if per_category and per_cat:
        defined = {name: ap for name, ap in per_cat.items() if ap >= 0}
        name_width = max([len("category")] + [len(n) for n in defined])
        lines += ["", f"{'category':<{name_width}} {'AP':>{width}}", "-" * (name_width + 1 + width)]
        lines += [f"{name:<{name_width}} {_cell(ap, width)}" for name, ap in defined.items()]
        skipped = len(per_cat) - len(defined)
        if skipped:
            lines.append(f"({skipped} categories without GT left out)")
    return "\n".join(lines)
