"""``vis-evaluate gt=GT.json results=RESULTS.json [out=DIR_OR_FILE]``: official YouTube-VIS metrics."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vis_pipeline.eval import YTVISFormatError, evaluate_ytvis, format_metrics_table
from vis_pipeline.eval.submission import read_submission
from vis_pipeline.store import atomic_write_text

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def metrics_path(results: Path, out: str | None) -> Path:
    """``out`` if it names a .json file, ``out/metrics.json`` for a directory, else next to the results."""
    if not out:
        return results.parent / "metrics.json"
    target = Path(out)
    return target if target.suffix == ".json" else target / "metrics.json"


# Absolute path: a console script imports this module as vis_pipeline.cli.*, and hydra would then
# look for a relative config_path as a python package ("pkg://configs"), which does not exist.
@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="evaluate")
def main(cfg: DictConfig) -> None:
    results_path = Path(cfg.results)
    try:
        results = read_submission(results_path) if results_path.suffix == ".zip" else results_path
        metrics = evaluate_ytvis(cfg.gt, results)
    except YTVISFormatError as exc:
        print(f"vis-evaluate: {exc}", file=sys.stderr)
        sys.exit(2)
    print(format_metrics_table(metrics, per_category=bool(cfg.per_category)))
    out = metrics_path(results_path, cfg.out)
    atomic_write_text(out, json.dumps(metrics, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
