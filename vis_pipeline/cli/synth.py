"""``vis-synth out=DIR seed=S videos=N``: write the synthetic YouTube-VIS benchmark (configs/synth.yaml)."""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.synth import SynthConfig, generate_dataset, summarize

# Absolute path: a console script imports this module as vis_pipeline.cli.*, and hydra would then
# look for a relative config_path as a python package.
CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")
RUN_KEYS = ("out", "seed", "videos", "overwrite", "progress")  # the rest is SynthConfig


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="synth")
def main(cfg: DictConfig) -> None:
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    options = {k: v for k, v in plain.items() if k not in RUN_KEYS}
    try:
        synth_cfg = SynthConfig.from_mapping(options, source="configs/synth.yaml")
        ann_path = generate_dataset(
            Path(cfg.out), int(cfg.seed), int(cfg.videos), synth_cfg, bool(cfg.overwrite), bool(cfg.progress)
        )
    except (DataError, OSError) as exc:  # one line, no traceback
        print(f"vis-synth: {exc}", file=sys.stderr)
        sys.exit(2)
    print(summarize(ann_path))


if __name__ == "__main__":
    main()
