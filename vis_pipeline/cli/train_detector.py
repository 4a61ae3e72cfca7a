"""``vis-train-detector``: train a detector on a YouTube-VIS-format set with mmdet's Runner (hydra CLI).

vis-train-detector detector=htc_r50_ytvis2019 data.ann=train.json data.frames=JPEGImages out=RUN
torchrun --nproc_per_node=8 -m vis_pipeline.cli.train_detector launcher=pytorch detector=... out=RUN ...
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.data.errors import DataError
from vis_pipeline.detect.base import DetectorError


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="train_detector")
def main(cfg: DictConfig) -> None:
    from vis_pipeline.detect.train import train_detector

    if "train" not in cfg.detector:
        print(
            f"vis-train-detector: detector={cfg.detector.get('name')} has no `train` block "
            "(trainable: tiny_htc, htc_r50_ytvis2019, htc_r50_ytvis2021)",
            file=sys.stderr,
        )
        sys.exit(2)
    plain = OmegaConf.to_container(cfg, resolve=True)
    try:
        result = train_detector(plain)
    except (DataError, DetectorError, OSError) as exc:  # bad input: one line, no traceback
        print(f"vis-train-detector: {exc}", file=sys.stderr)
        sys.exit(2)
    metrics = ", ".join(f"{k} {v:.3f}" for k, v in sorted(result.metrics.items()) if k.endswith("_mAP"))
    print(
        f"vis-train-detector: {result.iters} iterations, wrote {result.detector_path}"
        + (f" ({metrics})" if metrics else "")
    )


if __name__ == "__main__":
    main()
