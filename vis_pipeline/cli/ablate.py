"""``vis-ablate sweep=DIR``: the paper's Table 14 (one- vs two-stage) from a vis-run sweep."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vis_pipeline.ablate import AblationError, find_arms, markdown_table, plot_arms
from vis_pipeline.cli import CONFIG_DIR


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="ablate")
def main(cfg: DictConfig) -> None:
    sweep = Path(cfg.sweep)
    out = Path(cfg.out) if cfg.out else sweep
    try:
        arms = find_arms(sweep)
    except AblationError as exc:
        print(f"vis-ablate: {exc}", file=sys.stderr)
        sys.exit(2)
    table = markdown_table(arms)
    out.mkdir(parents=True, exist_ok=True)
    (out / "ablation.md").write_text(table)
    plot_arms(arms, out / "ablation.png")
    print(table)
    for arm in arms:
        note = " (detector skipped: all detections from cache)" if arm.detector_skipped else ""
        print(f"  {arm.association} / {arm.label}: {arm.run_dir}{note}")
    print(f"wrote {out / 'ablation.md'} and {out / 'ablation.png'}")


if __name__ == "__main__":
    main()
