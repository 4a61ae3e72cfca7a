"""``python -m siammask.train key=value ...``: train SiamMask.

Hydra CLI; default config ``configs/train/siammask_tiny.yaml``, ``--config-name siammask_r50`` for the
ResNet-50 (released) layout.
"""

from __future__ import annotations

from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from siammask.checkpoint import CheckpointError
from siammask.train.sources import AnnotationError

# Absolute path: as a console script (siammask-train) hydra would read a relative path as a package.
TRAIN_CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs" / "train")


@hydra.main(version_base=None, config_path=TRAIN_CONFIG_DIR, config_name="siammask_tiny")
def main(cfg: DictConfig) -> None:
    """Resolve the config to plain containers and run :func:`siammask.train.trainer.train`."""
    from siammask.train.trainer import TrainConfigError, train

    plain = OmegaConf.to_container(cfg, resolve=True)
    try:
        last = train(plain)
    except (AnnotationError, CheckpointError, TrainConfigError) as error:
        raise SystemExit(f"error: {error}") from None
    print(f"training finished: {last}")


if __name__ == "__main__":
    main()
