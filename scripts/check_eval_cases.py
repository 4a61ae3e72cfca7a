"""Developer check: our YouTube-VIS evaluator vs mmdet 3.3.0's port of the official one.

    .venv/bin/python scripts/check_eval_cases.py --cases DIR

Runs ``evaluate_ytvis`` (and mmdet's port when importable) on every ``<case>_gt.json`` /
``<case>_results.json`` pair in DIR and prints one row per case (AP, AP50, AP75, AR1, AR10 in %)
with the max abs difference over the 12 stats and the per-category APs. Exit code 1 if any
difference exceeds --tol.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vis_pipeline.eval import STAT_NAMES, evaluate_ytvis
from vis_pipeline.eval.reference import mmdet_available, mmdet_ytvis_eval


@contextlib.contextmanager
def numpy_float_alias() -> Iterator[None]:
    """``np.float = float`` while mmdet's port runs (it was removed in numpy 1.24)."""
    had = "float" in np.__dict__
    old = np.__dict__.get("float")
    np.float = float  # type: ignore[attr-defined]
    try:
        yield
    finally:
        if had:
            np.float = old  # type: ignore[attr-defined]
        else:
            del np.float  # type: ignore[attr-defined]


def find_cases(cases_dir: Path) -> list[tuple[str, Path, Path]]:
    """(name, gt path, results path) of every complete pair, sorted by name."""
    pairs = []
    for gt_path in sorted(cases_dir.glob("*_gt.json")):
        name = gt_path.name[: -len("_gt.json")]
        results_path = cases_dir / f"{name}_results.json"
        if results_path.is_file():
            pairs.append((name, gt_path, results_path))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", type=Path, required=True, help="folder of <case>_gt.json/<case>_results.json"
    )
    parser.add_argument("--tol", type=float, default=1e-6, help="max allowed abs difference")
    args = parser.parse_args(argv)
    cases = find_cases(args.cases)
    if not cases:
        print(
            f"check_eval_cases: no <case>_gt.json/<case>_results.json pairs in {args.cases}", file=sys.stderr
        )
        return 2
    use_mmdet = mmdet_available()
    print(f"reference: {'mmdet 3.3.0 port (ytvis.py/ytviseval.py)' if use_mmdet else 'mmdet not importable'}")
    name_width = max(len(name) for name, _, _ in cases)
    header = f"{'case':<{name_width}}  " + " ".join(f"{s:>6}" for s in ("AP", "AP50", "AP75", "AR1", "AR10"))
    print(header + f"  {'max|diff|':>10}  {'ours s':>6}  {'ref s':>6}")
    worst = 0.0
    for name, gt_path, results_path in cases:
        start = time.perf_counter()
        ours = evaluate_ytvis(gt_path, results_path)
        ours_s = time.perf_counter() - start
        cells = " ".join(f"{100 * ours[s]:>6.2f}" for s in ("AP", "AP50", "AP75", "AR1", "AR10"))
        diff_text, ref_text = "n/a", "-"
        gt = json.loads(gt_path.read_text())
        results = json.loads(results_path.read_text())
        if use_mmdet and results:
            start = time.perf_counter()
            with numpy_float_alias():
                ref_stats, ref_per_cat = mmdet_ytvis_eval(gt, results)
            ref_text = f"{time.perf_counter() - start:6.2f}"
            ours_stats = np.array([ours[s] for s in STAT_NAMES])
            names = {c["id"]: c["name"] for c in gt["categories"]}
            per_cat_diff = [abs(ours["per_category_AP"][names[cid]] - ap) for cid, ap in ref_per_cat.items()]
            diff = max([float(np.max(np.abs(ours_stats - ref_stats)))] + per_cat_diff)
            worst = max(worst, diff)
            diff_text = f"{diff:.1e}"
        print(f"{name:<{name_width}}  {cells}  {diff_text:>10}  {ours_s:6.2f}  {ref_text:>6}")
    if use_mmdet:
        print(
            f"max abs difference over all cases, 12 stats + per-category AP: {worst:.3g} (tol {args.tol:g})"
        )
    return 1 if worst > args.tol else 0


if __name__ == "__main__":
    sys.exit(main())
