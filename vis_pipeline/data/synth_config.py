"""Configuration of the synthetic YouTube-VIS benchmark (``vis-synth``, ``configs/synth.yaml``).

The dataclass defaults are the same numbers as ``configs/synth.yaml`` (a test keeps them equal), so
code that calls :func:`vis_pipeline.data.synth.generate_dataset` with ``SynthConfig()`` gets exactly
what ``vis-synth out=DIR`` writes.

Lengths that describe motion or size are *fractions of the frame height* (so a 160x120 test set
looks like a scaled-down 640x360 one); speeds are fractions of the frame height per frame.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from vis_pipeline.data.errors import DataError

# Every shape the renderer knows; ``categories`` picks (and orders) a subset of them.
KNOWN_SHAPES: tuple[str, ...] = ("disc", "square", "triangle", "star", "ring", "cross")
ENCODINGS: tuple[str, ...] = ("rle", "uncompressed", "polygon")


@dataclass(frozen=True)
class SynthConfig:
    """Every knob of the synthetic benchmark; see ``configs/synth.yaml`` for the meaning of each."""

    width: int = 640
    height: int = 360
    frames: int = 24
    frames_range: tuple[int, int] | None = None
    objects_range: tuple[int, int] = (2, 5)
    categories: tuple[str, ...] = KNOWN_SHAPES
    jpeg_quality: int = 90
    encoding: str = "rle"
    # size classes: equivalent-disc radius ranges (fraction of height) and their probabilities
    radius_small: tuple[float, float] = (0.04, 0.17)
    radius_medium: tuple[float, float] = (0.2, 0.36)
    radius_large: tuple[float, float] = (0.42, 0.55)
    size_probs: tuple[float, float, float] = (0.45, 0.4, 0.15)
    # motion
    speed: float = 0.02
    speed_spread: float = 0.5
    fast_prob: float = 0.25
    fast_factor: float = 3.5
    turn: float = 1.2
    wobble: float = 0.04
    enter_leave_prob: float = 0.4
    # appearance changes
    rotation_speed: float = 0.08
    scale_change: float = 0.6
    deformation: float = 0.12
    # interactions
    occlusion_rate: float = 0.5
    same_category_prob: float = 0.35
    occluder_prob: float = 0.4
    # camera
    shake: float = 0.008
    jolt_prob: float = 0.1
    jolt: float = 0.04
    pan_speed: float = 0.006
    illumination: float = 0.04

    def __post_init__(self) -> None:
        problems: list[str] = []
        if self.width < 16 or self.height < 16:
            problems.append(f"width/height must be >= 16, got {self.width}x{self.height}")
        if self.frames < 2:
            problems.append(f"frames must be >= 2, got {self.frames}")
        if self.frames_range is not None and not 2 <= self.frames_range[0] <= self.frames_range[1]:
            problems.append(f"frames_range must be [min, max] with 2 <= min <= max, got {self.frames_range}")
        if not 1 <= self.objects_range[0] <= self.objects_range[1]:
            problems.append(
                f"objects_range must be [min, max] with 1 <= min <= max, got {self.objects_range}"
            )
        unknown = [c for c in self.categories if c not in KNOWN_SHAPES]
        if unknown or not self.categories or len(set(self.categories)) != len(self.categories):
            problems.append(
                f"categories must be distinct names from {list(KNOWN_SHAPES)}, got {self.categories}"
            )
        if self.encoding not in ENCODINGS:
            problems.append(f"encoding must be one of {list(ENCODINGS)}, got {self.encoding!r}")
        if not 1 <= self.jpeg_quality <= 100:
            problems.append(f"jpeg_quality must be in [1, 100], got {self.jpeg_quality}")
        if len(self.size_probs) != 3 or min(self.size_probs) < 0 or sum(self.size_probs) <= 0:
            problems.append(f"size_probs must be 3 non-negative weights, got {self.size_probs}")
        for name in ("radius_small", "radius_medium", "radius_large"):
            low, high = getattr(self, name)
            if not 0 < low <= high:
                problems.append(f"{name} must be [low, high] with 0 < low <= high, got {[low, high]}")
        for name in ("fast_prob", "enter_leave_prob", "occlusion_rate", "same_category_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        for name in ("occluder_prob", "jolt_prob"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                problems.append(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if problems:
            raise DataError("synth config: " + "; ".join(problems))

    @property
    def num_categories(self) -> int:
        return len(self.categories)

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str = "synth config") -> SynthConfig:
        """Build from a plain mapping (YAML / hydra); lists become tuples, unknown keys are errors."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise DataError(f"{source}: unknown synth option(s) {unknown}; known: {sorted(known)}")
        converted = {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in values.items()}
        try:
            return cls(**converted)
        except TypeError as exc:
            raise DataError(f"{source}: {exc}") from None
