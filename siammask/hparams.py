"""Typed tracker hyperparameters, run options and the tracker presets (package data, ``siammask/presets/``).

A preset YAML looks like::

    model: resnet50_sharp            # name passed to build_siammask
    checkpoint: weights/SiamMask_DAVIS.pth
    cascade: two_stage               # one_stage | two_stage
    stage2_box: best                 # best | smoothed (two_stage only)
    box_strategy: mbr                # min_max | mbr | opt (TrackResult.polygon)
    max_batch: 8
    hp: {penalty_k: 0.04, window_influence: 0.40, lr: 1.0, seg_thr: 0.35, out_size: 127, ...}

``load_tracker_hparams("davis")`` reads the package's ``presets/siammask_davis.yaml``; the repository's
hydra group ``configs/tracker/`` links to the same files. A mapping (dict or omegaconf DictConfig) is taken
as the ``hp`` block itself or as a whole preset with an ``hp`` key.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from siammask.boxes import BOX_STRATEGIES
from siammask.colour_model import ColourRule
from siammask.distractors import DistractorRule

PRESET_FILES = {
    "davis": "siammask_davis.yaml",
    "vot": "siammask_vot.yaml",
    "tiny": "tiny.yaml",
    "tiny_vos": "tiny_vos.yaml",
}
CASCADE_MODES = ("one_stage", "two_stage")
STAGE2_BOXES = ("best", "smoothed")


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
    min_size_fraction: float = 0.0  # ... or this fraction of the frame's shorter side, if larger (0 = off)
    # distractor-aware choice (siammask.distractors; not in the released tracker: weight 0 = off)
    distractor_weight: float = 0.0  # score' = score - weight * mean distractor score
    distractor_min_score: float = 0.8  # a second response peak at least this high becomes a distractor ...
    distractor_min_distance: float = 1.0  # ... if at least this many target sizes from the chosen box
    distractor_per_frame: int = 1  # new distractors remembered per frame (highest peaks first)
    distractor_memory: int = 4  # distractors kept per track (oldest dropped first)
    hold_below_score: float = 0.0  # a step whose raw score is below this keeps its size (0 = off) and ...
    coast_velocity: float = 0.0  # ... moves its centre by this times the track's recent velocity (0 = stays)
    template_update_rate: float = 0.0  # blend of a template of the new box into the kernels (0 = off) ...
    template_update_min_score: float = 0.9  # ... on steps whose raw score reaches this
    # colour model of the target (siammask.colour_model; not in the released tracker: 0 = off)
    colour_weight: float = 0.0  # choice: (1 - weight) * score + weight * colour score of the box
    colour_min_score: float = 0.0  # a chosen box whose colour score is below this is not found (holds)
    colour_update_rate: float = 0.0  # blend of the model refitted on each found step
    colour_bins: int = 16  # histogram bins per BGR channel (divides 256)
    colour_mask_weight: float = 0.0  # mask: (1 - weight) * mask probability + weight * colour probability
    colour_min_init_side: float = 0.0  # init boxes smaller across (sqrt(w h), px) get no colour model

    @property
    def score_size(self) -> int:
        """Side of the response map: (instance - exemplar) // stride + 1 + base_size (25 for SiamMask)."""
        return (self.instance_size - self.exemplar_size) // self.total_stride + 1 + self.base_size

    @property
    def num_anchors(self) -> int:
        return len(self.anchor_ratios) * len(self.anchor_scales)

    @property
    def distractor_rule(self) -> DistractorRule:
        return DistractorRule(
            weight=self.distractor_weight,
            min_score=self.distractor_min_score,
            min_distance=self.distractor_min_distance,
            per_frame=self.distractor_per_frame,
            memory=self.distractor_memory,
        )

    @property
    def colour_rule(self) -> ColourRule:
        return ColourRule(
            weight=self.colour_weight,
            min_score=self.colour_min_score,
            update_rate=self.colour_update_rate,
            bins=self.colour_bins,
            mask_weight=self.colour_mask_weight,
            min_init_side=self.colour_min_init_side,
        )

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

    def size_floor(self, image_hw: tuple[int, int]) -> float:
        """Lower clip of the target's width and height in a frame of ``image_hw`` (pixels): ``min_size``,
        or ``min_size_fraction`` of the shorter side when that is larger (a small target then keeps a
        search region that can find it again after an occlusion)."""
        return max(self.min_size, self.min_size_fraction * min(image_hw))

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
        if not 0.0 <= self.min_size_fraction < 1.0:
            raise TrackerConfigError(
                f"{source}: min_size_fraction must be in [0, 1), got {self.min_size_fraction}"
            )
        if not self.anchor_ratios or not self.anchor_scales or min(self.anchor_ratios) <= 0:
            raise TrackerConfigError(f"{source}: anchor ratios/scales must be non-empty and positive")
        if self.distractor_weight < 0 or not 0.0 <= self.distractor_min_score <= 1.0:
            raise TrackerConfigError(
                f"{source}: distractor_weight must be >= 0 and distractor_min_score in [0, 1], got "
                f"{self.distractor_weight} and {self.distractor_min_score}"
            )
        if not (0.0 <= self.template_update_rate <= 1.0 and 0.0 <= self.template_update_min_score <= 1.0):
            raise TrackerConfigError(
                f"{source}: template_update_rate and template_update_min_score must be in [0, 1], got "
                f"{self.template_update_rate} and {self.template_update_min_score}"
            )
        colour = {
            "colour_weight": self.colour_weight,
            "colour_min_score": self.colour_min_score,
            "colour_update_rate": self.colour_update_rate,
            "colour_mask_weight": self.colour_mask_weight,
        }
        for key, value in colour.items():
            if not 0.0 <= value <= 1.0:
                raise TrackerConfigError(f"{source}: {key} must be in [0, 1], got {value}")
        if self.colour_min_init_side < 0:
            raise TrackerConfigError(
                f"{source}: colour_min_init_side must be >= 0, got {self.colour_min_init_side}"
            )
        if self.colour_bins not in (2, 4, 8, 16, 32, 64):
            raise TrackerConfigError(
                f"{source}: colour_bins must be 2, 4, 8, 16, 32 or 64, got {self.colour_bins}"
            )
        if not 0.0 <= self.coast_velocity <= 2.0:
            raise TrackerConfigError(f"{source}: coast_velocity must be in [0, 2], got {self.coast_velocity}")
        if not 0.0 <= self.hold_below_score <= 1.0:
            raise TrackerConfigError(
                f"{source}: hold_below_score must be in [0, 1], got {self.hold_below_score}"
            )
        if self.distractor_min_distance < 0 or self.distractor_per_frame < 0 or self.distractor_memory < 1:
            raise TrackerConfigError(
                f"{source}: distractor_min_distance and distractor_per_frame must be >= 0 and "
                f"distractor_memory >= 1"
            )


@dataclass(frozen=True)
class TrackerOptions:
    """How the tracker runs, next to its hyperparameters; the one place these are defaulted and checked.

    cascade: 'one_stage' (the released tracker) or 'two_stage' (paper §5);
    stage2_box: the box stage 2 re-crops on: 'best' = the raw highest-scoring stage-1 box clipped to the
    frame (the paper's wording), 'smoothed' = the lr-smoothed, clipped new state;
    box_strategy: how ``TrackResult.polygon`` is fitted to the mask (see ``siammask.boxes``);
    max_batch: tracks per batched forward.
    """

    cascade: str = "one_stage"
    stage2_box: str = "best"
    box_strategy: str = "mbr"
    max_batch: int = 8
    source: str = dataclasses.field(default="tracker options", compare=False, repr=False)

    def __post_init__(self) -> None:
        for name, allowed in (
            ("cascade", CASCADE_MODES),
            ("stage2_box", STAGE2_BOXES),
            ("box_strategy", BOX_STRATEGIES),
        ):
            if getattr(self, name) not in allowed:
                raise TrackerConfigError(
                    f"{self.source}: {name} must be one of {allowed}, got {getattr(self, name)!r}"
                )
        if not isinstance(self.max_batch, int) or self.max_batch < 1:
            raise TrackerConfigError(
                f"{self.source}: max_batch must be an integer >= 1, got {self.max_batch}"
            )

    def replace(self, source: str, **changes: Any) -> TrackerOptions:
        """A copy with the given (non-None) fields changed, validated and reported as ``source``."""
        return dataclasses.replace(self, source=source, **{k: v for k, v in changes.items() if v is not None})


@dataclass(frozen=True)
class TrackerPreset:
    """A whole tracker preset: which network, which weights, how to run it and the hyperparameters."""

    model: str
    checkpoint: str | None
    options: TrackerOptions
    hp: TrackerHParams
    source: str

    @property
    def cascade(self) -> str:
        return self.options.cascade


def preset_path(name: str) -> Path:
    """Path of a preset: 'davis' | 'vot' | 'tiny' (package data), or a path to a YAML file."""
    if name in PRESET_FILES:
        return Path(str(resources.files("siammask").joinpath("presets", PRESET_FILES[name])))
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


OPTION_KEYS = tuple(f.name for f in dataclasses.fields(TrackerOptions) if f.name != "source")
PRESET_KEYS = ("name", "model", "checkpoint", "hp", *OPTION_KEYS)


def preset_from_mapping(data: Mapping[str, Any], source: str = "<mapping>") -> TrackerPreset:
    """A TrackerPreset from a preset mapping (model, checkpoint, hp, the TrackerOptions fields, name)."""
    data = dict(_to_plain(data))
    unknown = sorted(set(data) - set(PRESET_KEYS))
    if unknown:
        raise TrackerConfigError(f"{source}: unknown preset keys {unknown}")
    if "model" not in data or "hp" not in data:
        raise TrackerConfigError(f"{source}: a tracker preset needs 'model' and 'hp'")
    options = {name: data[name] for name in OPTION_KEYS if data.get(name) is not None}
    if "max_batch" in options:
        try:
            options["max_batch"] = _integer(options["max_batch"])
        except (TypeError, ValueError):
            raise TrackerConfigError(
                f"{source}: max_batch must be an integer, got {data['max_batch']!r}"
            ) from None
    checkpoint = data.get("checkpoint")
    return TrackerPreset(
        model=str(data["model"]),
        checkpoint=None if checkpoint in (None, "") else str(checkpoint),
        options=TrackerOptions(
            source=source, **{k: v if k == "max_batch" else str(v) for k, v in options.items()}
        ),
        hp=TrackerHParams.from_mapping(data["hp"] or {}, source),
        source=source,
    )


def _integer(value: Any) -> int:
    if float(value) != int(value):
        raise ValueError("not an integer")
    return int(value)


def load_tracker_preset(name_or_mapping: str | Path | Mapping[str, Any]) -> TrackerPreset:
    """Load a preset by name (``PRESET_FILES``), YAML path, or from a mapping / DictConfig."""
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
