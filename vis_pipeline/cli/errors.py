"""``vis-errors gt=GT.json results=RUN/results.json out=DIR`` (or ``sweep=DIR``): why a run lost AP.

Writes ``DIR/errors.json`` (one report, or ``{"arms": {name: report}}`` for a sweep), ``errors.md``
and ``errors.png``; error types and settings: :mod:`vis_pipeline.eval.errors`, ``configs/errors.yaml``.
"""

from __future__ import annotations

import json
import sys
from dataclasses import fields
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.eval.errors import ErrorAnalysisError, ErrorConfig
from vis_pipeline.eval.errors_fix import analyse_errors, read_json
from vis_pipeline.eval.errors_plot import fixes_table, markdown, plot_errors, sweep_table


def find_runs(results: str | None, sweep: str | None) -> dict[str, Path]:
    """{arm name: results.json}: the one run, or every results.json under the sweep directory."""
    if bool(results) == bool(sweep):
        raise ErrorAnalysisError("configs/errors.yaml: give exactly one of results=FILE or sweep=DIR")
    if results:
        path = Path(results)
        return {path.parent.name or str(path): path}
    root = Path(str(sweep))
    if not root.is_dir():
        raise ErrorAnalysisError(f"{root}: sweep directory not found")
    found = sorted(root.rglob("results.json"))
    if not found:
        raise ErrorAnalysisError(f"{root}: no results.json under it (run `vis-run -m ...` first)")
    return {str(p.parent.relative_to(root)) if p.parent != root else root.name: p for p in found}


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="errors")
def main(cfg: DictConfig) -> None:
    try:
        settings = ErrorConfig.from_mapping(
            {f.name: cfg[f.name] for f in fields(ErrorConfig)}, "configs/errors.yaml"
        )
        runs = find_runs(cfg.results, cfg.sweep)
        gt = read_json(cfg.gt, "GT")
        reports = {
            name: analyse_errors(gt, path, settings, bool(cfg.progress)) for name, path in runs.items()
        }
    except ErrorAnalysisError as exc:
        print(f"vis-errors: {exc}", file=sys.stderr)
        sys.exit(2)
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    single = next(iter(reports.values())) if cfg.results else {"arms": reports}
    (out / "errors.json").write_text(json.dumps(single, indent=1))
    (out / "errors.md").write_text(markdown(reports))
    plot_errors(reports, out / "errors.png")
    print(sweep_table(reports) if len(reports) > 1 else fixes_table(single))
    print(f"vis-errors: wrote {out / 'errors.json'}, errors.md, errors.png")


if __name__ == "__main__":
    main()
