"""Typed tracker hyperparameters and the tracker presets in ``configs/tracker/``.

A preset YAML looks like::

    model: resnet50_sharp            # name passed to build_siammask
    checkpoint: weights/SiamMask_DAVIS.pth
    cascade: two_stage               # one_stage | two_stage
    hp: {penalty_k: 0.04, window_influence: 0.40, lr: 1.0, seg_thr: 0.35, out_size: 127, ...}

``load_tracker_hparams("davis")`` reads ``configs/tracker/siammask_davis.yaml`` (located relative to this
package, which works for the editable install the project uses); a mapping (dict or omegaconf DictConfig)
is taken as the ``hp`` block itself or as a whole preset with an ``hp`` key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "tracker"
PRESET_FILES = {"davis": "siammask_davis.yaml", "vot": "siammask_vot.yaml", "tiny": "tiny.yaml"}
CASCADE_MODES = ("one_stage", "two_stage")


class TrackerConfigError(ValueError):
    """A tracker preset or hyperparameter mapping is missing, malformed or inconsistent."""


@dataclass(frozen=True)
class TrackerHParams:
    """SiamMask tracker hyperparameters (SPEC §2.1); defaults are the reference ``TrackerConfig`` values.

    The released configs override penalty_k, window_influence, lr, seg_thr and out_size; the presets in
    ``configs/tracker/`` carry every value explicitly.
    """

    penalty_k: float = 0.09  # strength of the scale/aspect change penalty
    window_influence: float = 0.39  # weight of the cosine window (motion prior) in the final score
    lr: float = 0.38  # size update rate (multiplied by penalty*score of the chosen candidate)
    seg_thr: float = 0.3  # mask probability threshold (strictly greater)
    out_size: int = 63  # side of the mask the network outputs (127 with refine)
    exemplar_size: int = 127  # template crop side
    instance_size: int = 255  # search crop side
    base_size: int = 8  # extra response cells on top of the valid correlation size
    context_amount: float = 0.5  # context added around the box: w + amount*(w+h)
    total_stride: int = 8  # network stride = anchor spacing in crop pixels
    windowing: str = "cosine"  # cosine | uniform
    anchor_ratios: tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)
    anchor_scales: tuple[float, ...] = (8.0,)
    min_polygon_area: float = 100.0  # largest contour must exceed this for a minAreaRect polygon
    min_size: float = 10.0  # lower clip of the target width/height after each step (frame pixels)

    @property
    def score_size(self) -> int:
        """Side of the response map: (instance - exemplar) // stride + 1 + base_size (25 for SiamMask)."""
        return (self.instance_size - self.exemplar_size) // self.total_stride + 1 + self.base_size

    @property
    def num_anchors(self) -> int:
        return len(self.anchor_ratios) * len(self.anchor_scales)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "<mapping>") -> TrackerHParams:
        """Build from a flat mapping; ``anchors: {ratios, scales, stride}`` is accepted as a nested block.

        Raises TrackerConfigError naming ``source`` for unknown keys or values of the wrong kind.
        """
        values = dict(_to_plain(values))
        anchors = values.pop("anchors", None)
        if anchors is not None:
            if not isinstance(anchors, Mapping):
                raise TrackerConfigError(f"{source}: 'anchors' must be a mapping with ratios/scales")
            anchors = dict(anchors)
            if "ratios" in anchors:
                values["anchor_ratios"] = anchors.pop("ratios")
            if "scales" in anchors:
                values["anchor_scales"] = anchors.pop("scales")
            if "stride" in anchors:
                values["total_stride"] = anchors.pop("stride")
            if anchors:
                raise TrackerConfigError(f"{source}: unknown anchor keys {sorted(anchors)}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise TrackerConfigError(f"{source}: unknown tracker hyperparameters {unknown}")
        kwargs: dict[str, Any] = {}
        for name, value in values.items():
            default = getattr(cls, name) if name not in ("anchor_ratios", "anchor_scales") else ()
            try:
                if name in ("anchor_ratios", "anchor_scales"):
                    kwargs[name] = tuple(float(v) for v in value)
                elif name == "windowing":
                    kwargs[name] = str(value)
                elif isinstance(default, int):
                    if float(value) != int(value):
                        raise ValueError("not an integer")
                    kwargs[name] = int(value)
                else:
                    kwargs[name] = float(value)
            except (TypeError, ValueError) as err:
                raise TrackerConfigError(f"{source}: bad value {value!r} for '{name}' ({err})") from None
        hp = cls(**kwargs)
        hp.validate(source)
        return hp

    def validate(self, source: str = "<hparams>") -> None:
        """Check value ranges the tracker relies on; raise TrackerConfigError naming ``source``."""
        if self.windowing not in ("cosine", "uniform"):
            raise TrackerConfigError(
                f"{source}: windowing must be 'cosine' or 'uniform', got {self.windowing!r}"
            )
        if not 0.0 <= self.window_influence <= 1.0:
            raise TrackerConfigError(
                f"{source}: window_influence must be in [0, 1], got {self.window_influence}"
            )
        if not 0.0 <= self.seg_thr < 1.0:
            raise TrackerConfigError(f"{source}: seg_thr must be in [0, 1), got {self.seg_thr}")
        if min(self.exemplar_size, self.instance_size, self.total_stride, self.out_size) <= 0:
            raise TrackerConfigError(f"{source}: sizes and stride must be positive")
        if self.instance_size <= self.exemplar_size:
            raise TrackerConfigError(f"{source}: instance_size must exceed exemplar_size")
        if not self.anchor_ratios or not self.anchor_scales or min(self.anchor_ratios) <= 0:
            raise TrackerConfigError(f"{source}: anchor ratios/scales must be non-empty and positive")


@dataclass(frozen=True)
class TrackerPreset:
    """A whole tracker preset: which network, which weights, which cascade and the hyperparameters."""

    model: str
    checkpoint: str | None
    cascade: str
    hp: TrackerHParams
    source: str
    max_batch: int = 8


def preset_path(name: str) -> Path:
    """Path of a preset: 'davis' | 'vot' | 'tiny', or a path to a YAML file."""
    if name in PRESET_FILES:
        return CONFIG_DIR / PRESET_FILES[name]
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    raise TrackerConfigError(
        f"unknown tracker preset {name!r}: use one of {sorted(PRESET_FILES)} or a .yaml path"
    )


def _to_plain(values: Any) -> Any:
    """omegaconf DictConfig/ListConfig -> plain containers (omegaconf is imported only if needed)."""
    if type(values).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        return OmegaConf.to_container(values, resolve=True)
    return values


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise TrackerConfigError(f"{path}: tracker preset file not found")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as err:
        raise TrackerConfigError(f"{path}: invalid YAML ({str(err).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise TrackerConfigError(f"{path}: expected a mapping at the top level")
    return data


def preset_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> TrackerPreset:
    """Build a TrackerPreset from a preset mapping (keys model, checkpoint, cascade, hp; optional name)."""
    data = dict(_to_plain(data))
    unknown = sorted(set(data) - {"name", "model", "checkpoint", "cascade", "max_batch", "hp"})
    if unknown:
        raise TrackerConfigError(f"{source}: unknown preset keys {unknown}")
    if "model" not in data or "hp" not in data:
        raise TrackerConfigError(f"{source}: a tracker preset needs 'model' and 'hp'")
    cascade = str(data.get("cascade", "one_stage"))
    if cascade not in CASCADE_MODES:
        raise TrackerConfigError(f"{source}: cascade must be one of {CASCADE_MODES}, got {cascade!r}")
    checkpoint = data.get("checkpoint")
    return TrackerPreset(
        model=str(data["model"]),
        checkpoint=None if checkpoint in (None, "") else str(checkpoint),
        cascade=cascade,
        hp=TrackerHParams.from_mapping(data["hp"] or {}, source),
        source=source,
        max_batch=int(data.get("max_batch", 8)),
    )


def load_tracker_preset(name_or_mapping: str | Path | Mapping[str, Any]) -> TrackerPreset:
    """Load a preset by name ('davis', 'vot', 'tiny'), YAML path, or from a mapping / DictConfig."""
    if isinstance(name_or_mapping, (str, Path)):
        path = preset_path(str(name_or_mapping))
        return preset_from_mapping(_read_yaml(path), str(path))
    return preset_from_mapping(name_or_mapping)


def load_tracker_hparams(hp: str | Path | Mapping[str, Any] | TrackerHParams) -> TrackerHParams:
    """Hyperparameters from a preset name/path, TrackerHParams, a preset mapping or an ``hp`` mapping."""
    if isinstance(hp, TrackerHParams):
        return hp
    if isinstance(hp, (str, Path)):
        return load_tracker_preset(hp).hp
    plain = _to_plain(hp)
    if not isinstance(plain, Mapping):
        raise TrackerConfigError(
            f"tracker hp must be a preset name, a mapping or TrackerHParams, got {type(hp)}"
        )
    if "hp" in plain:
        return preset_from_mapping(plain).hp
    return TrackerHParams.from_mapping(plain)
