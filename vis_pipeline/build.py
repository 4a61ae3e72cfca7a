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
from vis_pipeline.settings import RunSettings, SettingsError, ShardSettings, check_device, check_section
from vis_pipeline.track.association import AssociationConfig

# Config groups of configs/run.yaml (each checked by its own schema or builder).
GROUPS = ("data", "detector", "tracker", "association", "shard")

# Seed of the tracker's random init when tracker.checkpoint is null (tests, timing runs).
RANDOM_INIT_SEED = 0
# The project checkout (configs/ and weights/ ship with it).
PROJECT_ROOT = Path(__file__).resolve().parents[1]
# Relative paths under these project folders fall back to the project when not found where the
# command was started (the shipped defaults, e.g. weights/tiny_siammask.pth, work from any folder).
BUNDLED_FOLDERS = ("weights", "configs")


class BuildError(ValueError):
    """A run setting or input that cannot work (one-line message naming it)."""


def plain(cfg: DictConfig) -> dict:
    """A config node as a plain dict with interpolations resolved."""
    data = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(data, dict)
    return data


def resolve_input_path(path: str | None) -> str | None:
    """A path a config or user gave: absolute as is; relative to the directory the command was
    started in (hydra runs with ``chdir: false``); a relative ``weights/...`` or ``configs/...``
    path that is not there but ships with the project resolves to the project's file."""
    if path is None or str(path) == "":
        return None
    candidate = Path(str(path)).expanduser()
    if candidate.is_absolute() or candidate.exists():
        return str(candidate)
    bundled = PROJECT_ROOT / candidate
    if candidate.parts and candidate.parts[0] in BUNDLED_FOLDERS and bundled.exists():
        return str(bundled)
    return str(candidate)


def _with_resolved_paths(values: dict, keys: tuple[str, ...]) -> dict:
    return {k: (resolve_input_path(v) if k in keys and isinstance(v, str) else v) for k, v in values.items()}


def tracker_checkpoint(tracker_cfg: DictConfig) -> str | None:
    """The tracker weights file a run loads (resolved as :func:`resolve_input_path`), or None."""
    return resolve_input_path(tracker_cfg.get("checkpoint"))


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

        return HTCDetector.from_config(_with_resolved_paths(plain(det_cfg), ("checkpoint", "mmdet_config")))
    raise BuildError(f"unknown detector.type {kind!r} (mmdet | oracle)")


def build_tracker(tracker_cfg: DictConfig, device: str) -> Any:
    """SiamMask from the tracker preset; ``checkpoint: null`` = random init, seeded.

    The random init is seeded (in a forked RNG) so that every process builds the same weights:
    a resumed run or another shard must not mix results of different weights under one config hash.
    """
    from siammask import SiamMaskTracker

    preset = _with_resolved_paths(plain(tracker_cfg), ("checkpoint",))
    trusted = bool(preset.pop("trusted", False))
    if preset.get("checkpoint") is not None:
        return SiamMaskTracker.from_preset(preset, device=device, trusted=trusted)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(RANDOM_INIT_SEED)
        return SiamMaskTracker.from_preset(preset, device=device, trusted=trusted)


def build_lifecycle(association_cfg: DictConfig) -> AssociationConfig:
    """The association/lifecycle rules of ``configs/association/<preset>.yaml``, checked."""
    return check_section(AssociationConfig, plain(association_cfg), "association")


def check_run_settings(cfg: DictConfig) -> RunSettings:
    """Every setting of a ``vis-run`` config that can be checked without reading data or weights:
    types, ranges, choices, devices (SettingsError, one line naming key, value and what is allowed)."""
    try:
        values = plain(cfg)
    except Exception as exc:  # an interpolation that cannot be resolved
        raise SettingsError(f"config: {' '.join(str(exc).split())}") from None
    top = {k: v for k, v in values.items() if k not in GROUPS}
    settings = check_section(RunSettings, top, "")
    check_section(ShardSettings, values.get("shard") or {}, "shard")
    build_lifecycle(cfg.association)
    detector = values.get("detector") or {}
    if detector.get("type") not in ("mmdet", "oracle"):
        raise SettingsError(f"detector.type={detector.get('type')!r}: must be mmdet | oracle")
    if "device" in detector:
        check_device("detector.device", str(detector["device"]), allow_auto=True)
    for key in ("frame_stride", "max_frames"):
        value = (values.get("data") or {}).get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise SettingsError(
                f"data.{key}={value!r}: must be an integer >= 1" + (" or null" if key == "max_frames" else "")
            )
    return settings


def association_label(association_cfg: DictConfig, presets_dir: Path) -> str:
    """Which shipped association preset these values are: ``paper``, or the nearest preset with
    the keys that differ from it, e.g. ``default (class_gate=False)``: what an ablation table reports."""
    import yaml

    values = plain(association_cfg)
    best: tuple[int, str, list[str]] | None = None
    for path in sorted(Path(presets_dir).glob("*.yaml")):
        preset = yaml.safe_load(path.read_text()) or {}
        diff = [f"{k}={values[k]}" for k in sorted(values) if k in preset and preset[k] != values[k]]
        diff += [f"{k}={values[k]}" for k in sorted(set(values) - set(preset))]
        if best is None or len(diff) < best[0]:
            best = (len(diff), path.stem, diff)
    if best is None:
        return "custom"
    _, name, diff = best
    return f"{name} ({', '.join(diff)})" if diff else name


def make_cache(cache_dir: str | None) -> DetectionCache | None:
    """The shared detection cache, or None when ``cache_dir`` is empty (always recompute)."""
    return DetectionCache(Path(cache_dir).expanduser()) if cache_dir else None
