"""``vis-report run=RUN_DIR`` or ``vis-report sweep=SWEEP_DIR``: a self-contained HTML report folder."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.data import DataError
from vis_pipeline.report import ReportError, write_run_report, write_sweep_report
from vis_pipeline.visualize import OverlaySettings, OverlaySettingsError


def make_report(cfg: DictConfig) -> Path:
    """Write the report ``cfg`` asks for; returns its index.html (ReportError on bad input)."""
    if bool(cfg.run) == bool(cfg.sweep):
        raise ReportError("give exactly one of run=RUN_DIR or sweep=SWEEP_DIR")
    source = Path(cfg.run or cfg.sweep)
    out = Path(cfg.out) if cfg.out else source / "report"
    settings = OverlaySettings.from_config(cfg)
    if int(cfg.max_videos) < 0:
        raise ReportError(f"max_videos must be >= 0, got {cfg.max_videos}")
    write = write_run_report if cfg.run else write_sweep_report
    return write(source, out, settings, int(cfg.max_videos))


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="report")
def main(cfg: DictConfig) -> None:
    try:
        index = make_report(cfg)
    except (ReportError, DataError, OverlaySettingsError) as exc:
        print(f"vis-report: {exc}", file=sys.stderr)
        sys.exit(2)
    print(f"vis-report: wrote {index} (open it in a browser; the folder is self-contained)")


if __name__ == "__main__":
    main()
