"""Every ``vis-run`` setting checked before any work starts: a typed schema, one-line errors.

The schema is the dataclasses of the parts (``RunSettings`` here, ``AssociationConfig`` for the
``association`` group): a field's type annotation says what it must be, and ``field(metadata=...)``
its range (``"range": "(0, 1]"``) or choices (``"choices": (...)``). :func:`check_section` turns a
config mapping into the dataclass or raises :class:`SettingsError` naming the key, the value and
what is allowed (``vis-run`` prints it and exits 2).
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

T = TypeVar("T")

_RANGE = re.compile(r"^([\[(])\s*([-\w.]+)\s*,\s*([-\w.]+)\s*([\])])$")


class SettingsError(ValueError):
    """A setting that cannot work: one line ``key=value: what is allowed``."""


def _bound(text: str) -> float:
    return float("inf") if text == "inf" else float("-inf") if text == "-inf" else float(text)


def in_range(value: float, spec: str) -> bool:
    """Whether ``value`` lies in an interval written like ``(0, 1]`` or ``[1, inf)``."""
    match = _RANGE.match(spec)
    if match is None:
        raise ValueError(f"bad range spec {spec!r}")
    left, low, high, right = match.group(1), _bound(match.group(2)), _bound(match.group(3)), match.group(4)
    above = value > low if left == "(" else value >= low
    below = value < high if right == ")" else value <= high
    return above and below


def _type_name(kind: Any) -> str:
    return {bool: "true/false", int: "an integer", float: "a number", str: "a string"}.get(kind, str(kind))


def _coerce(value: Any, kind: Any) -> tuple[bool, Any]:
    """(ok, value) for a plain field type; ints are accepted where floats are expected."""
    if kind is bool:
        return isinstance(value, bool), value
    if kind is int:
        return isinstance(value, int) and not isinstance(value, bool), value
    if kind is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return ok, float(value) if ok else value
    if kind is str:
        return isinstance(value, str), value
    return True, value


def check_value(key: str, value: Any, annotation: Any, metadata: Mapping[str, Any]) -> Any:
    """The checked (and coerced) value of one setting; SettingsError if it is not allowed."""
    kinds = typing.get_args(annotation) if isinstance(annotation, types.UnionType) else (annotation,)
    if value is None:
        if type(None) in kinds:
            return None
        raise SettingsError(f"{key}=null: must be {_type_name(kinds[0])}")
    raw = value
    results = [_coerce(value, k) for k in kinds if k is not type(None)]
    accepted = [v for ok, v in results if ok]
    if not accepted:
        allowed = " or ".join(_type_name(k) for k in kinds if k is not type(None))
        raise SettingsError(f"{key}={raw!r}: must be {allowed}")
    value = accepted[0]
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise SettingsError(f"{key}={raw!r}: must be one of {' | '.join(map(str, choices))}")
    spec = metadata.get("range")
    if spec is not None and not in_range(float(value), spec):
        raise SettingsError(f"{key}={raw!r}: must be in {spec}")
    return value


def check_section(cls: type[T], values: Mapping[str, Any], section: str) -> T:
    """Build the dataclass ``cls`` from ``values``, checking every field (unknown keys are errors)."""
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    hints = typing.get_type_hints(cls)
    prefix = f"{section}." if section else ""
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise SettingsError(f"{prefix}{unknown[0]}: unknown setting (known: {', '.join(sorted(fields))})")
    checked = {
        name: check_value(f"{prefix}{name}", values[name], hints[name], fields[name].metadata)
        for name in fields
        if name in values
    }
    try:
        return cls(**checked)
    except SettingsError:
        raise
    except (TypeError, ValueError) as exc:
        raise SettingsError(f"{section or 'config'}: {exc}") from None


@dataclass(frozen=True)
class ShardSettings:
    index: int = field(default=0, metadata={"range": "[0, inf)"})
    count: int = field(default=1, metadata={"range": "[1, inf)"})

    def __post_init__(self) -> None:
        if self.index >= self.count:
            raise ValueError(f"shard.index={self.index} must be < shard.count={self.count}")


def check_device(key: str, device: str, allow_auto: bool = False) -> None:
    """``cpu``, ``cuda`` or ``cuda:N`` (and ``auto`` where allowed), with CUDA (and device N) present."""
    if device == "cpu" or (allow_auto and device == "auto"):
        return
    match = re.fullmatch(r"cuda(?::(\d+))?", device)
    if match is None:
        allowed = "cpu | cuda | cuda:N" + (" | auto" if allow_auto else "")
        raise SettingsError(f"{key}={device!r}: must be {allowed}")
    import torch

    if not torch.cuda.is_available():
        raise SettingsError(f"{key}={device}: CUDA is not available on this machine (use cpu)")
    index = int(match.group(1) or 0)
    if index >= torch.cuda.device_count():
        raise SettingsError(f"{key}={device}: only {torch.cuda.device_count()} CUDA device(s) here")


@dataclass(frozen=True)
class RunSettings:
    """The top-level keys of ``configs/run.yaml`` (the groups have their own schemas)."""

    device: str = "cpu"
    threads: int = field(default=2, metadata={"range": "[1, inf)"})
    topk: int = field(default=10, metadata={"range": "[1, inf)"})
    detect_every: int = field(default=1, metadata={"range": "[1, inf)"})
    progress: bool = True
    cache_dir: str | None = "outputs/detection_cache"
    evaluate: bool = True
    submission: bool = True
    retry_failed: bool = False

    def __post_init__(self) -> None:
        check_device("device", self.device)
