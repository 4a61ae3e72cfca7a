"""Building a run's parts from the hydra config: detector, SiamMask tracker, cache, association.

Every builder raises :class:`BuildError` (one line) for a setting or input file that cannot work,
so ``vis-run`` can stop before any video is touched.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf

from vis_pipeline.detect.cache import DetectionCache
from vis_pipeline.track.association import AssociationConfig

# Seed of the tracker's random init when tracker.checkpoint is null (tests, timing runs).
RANDOM_INIT_SEED = 0


class BuildError(ValueError):
    """A run setting or input that cannot work (one-line message naming it)."""


def plain(cfg: DictConfig) -> dict:
    """A config node as a plain dict with interpolations resolved."""
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    return data


def build_detector(det_cfg: DictConfig, gt: Any = None) -> Any:
    """The detector named by ``detector.type``: ``mmdet`` (HTC and friends) or ``oracle``.

    ``gt``: the run's ground truth (path or parsed annotations), needed by the oracle only.
    """
    kind = det_cfg.get("type")
    if kind == "oracle":
        from vis_pipeline.detect.oracle import OracleDetector

        if gt is None:
            raise BuildError("detector=oracle needs data.ann=GT.json with annotations")
        return OracleDetector.from_config(plain(det_cfg), gt)
    if kind == "mmdet":
        from vis_pipeline.detect.htc import HTCDetector

        return HTCDetector.from_config(plain(det_cfg))
    raise BuildError(f"unknown detector.type {kind!r} (mmdet | oracle)")


def build_tracker(tracker_cfg: DictConfig, device: str) -> Any:
    """SiamMask from the tracker preset; ``checkpoint: null`` = random init, seeded.

    The random init is seeded (in a forked RNG) so that every process builds the same weights:
    a resumed run or another shard must not mix results of different weights under one config hash.
    """
    from siammask import SiamMaskTracker

    preset = plain(tracker_cfg)
    trusted = bool(preset.pop("trusted", False))
    if preset.get("checkpoint") is not None:
        return SiamMaskTracker.from_preset(preset, device=device, trusted=trusted)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        return SiamMaskTracker.from_preset(preset, device=device, trusted=trusted)


def build_lifecycle(association_cfg: DictConfig) -> AssociationConfig:
    """The association/lifecycle rules of ``configs/association/<preset>.yaml``."""
    try:
        return AssociationConfig(**plain(association_cfg))
    except (TypeError, ValueError) as exc:
        raise BuildError(f"association: {exc}") from None


def make_cache(cache_dir: str | None) -> DetectionCache | None:
    """The shared detection cache, or None when ``cache_dir`` is empty (always recompute)."""
    return DetectionCache(Path(cache_dir).expanduser()) if cache_dir else None
