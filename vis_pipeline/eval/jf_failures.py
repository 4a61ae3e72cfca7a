"""Why a single-object tracker lost its objects: a per-object loss cause for ``siammask-eval``.

An object is *lost* from the first frame where its GT mask is present, the per-frame J (mask IoU) is
below ``lost_iou`` and the mean J over every GT-present frame from there on stays below ``lost_iou``
(a short dip the tracker recovers from is not a loss). A lost object gets the first cause that applies:

* ``small_init``: its init box is tiny (geometric-mean side below ``min_init_side`` pixels), e.g. a
  sliver of an object entering through the frame edge: the template holds almost nothing of it;
* ``after_absence``: its GT mask was empty on a scored frame before the loss (it left the frame or
  was fully hidden) and the tracker did not take it up again;
* ``after_occlusion``: within ``occlusion_window`` frames up to the loss its GT area fell below
  ``occluded_frac`` times its median visible area (partly hidden by another object or the frame edge);
* ``drift``: none of these: the tracker slid off a visible object (onto a distractor or background,
  or its box and mask grew or shrank away from it).

Objects that are never lost are ``kept`` (their J&F shortfall is mask quality). Pure functions over
per-frame J values and GT areas; the thresholds live in ``configs/siammask_eval.yaml`` (``failures``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

#: Loss causes in report order (``kept`` = never lost).
LOSS_CAUSES = ("kept", "small_init", "after_absence", "after_occlusion", "drift")


@dataclass(frozen=True)
class LossRules:
    """Thresholds of :func:`classify_loss` (``failures`` block of ``configs/siammask_eval.yaml``)."""

    lost_iou: float = 0.2
    min_init_side: float = 10.0
    occluded_frac: float = 0.5
    occlusion_window: int = 3

    @classmethod
    def from_mapping(cls, values: Mapping[str, float | int], source: str) -> LossRules:
        """Checked rules; ValueError names ``source`` and the setting for a value out of range."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"{source}: unknown failures setting(s) {sorted(unknown)}")
        rules = cls(**{k: type(getattr(cls, k))(v) for k, v in values.items()})
        checks = {
            "lost_iou": 0.0 < rules.lost_iou <= 1.0,
            "min_init_side": rules.min_init_side >= 0.0,
            "occluded_frac": 0.0 <= rules.occluded_frac <= 1.0,
            "occlusion_window": rules.occlusion_window >= 0,
        }
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{source}: failures.{name}={getattr(rules, name)} is out of range")
        return rules


def loss_onset(ious: Sequence[float], gt_areas: Sequence[int], lost_iou: float) -> int | None:
    """Index of the frame the object is lost from (see the module doc), or None if it never is."""
    present = [t for t, area in enumerate(gt_areas) if area > 0]
    for k, t in enumerate(present):
        if ious[t] < lost_iou and float(np.mean([ious[u] for u in present[k:]])) < lost_iou:
            return t
    return None


def classify_loss(
    ious: Sequence[float],
    gt_areas: Sequence[int],
    init_box_xywh: Sequence[float],
    rules: LossRules = LossRules(),
) -> tuple[str, int | None]:
    """(cause, onset frame index) of one object's scored frames; ("kept", None) when it is never lost.

    ``ious[t]`` / ``gt_areas[t]``: per-frame J and GT mask area (pixels) of the scored frames, in order;
    ``init_box_xywh``: the box the tracker was initialised with.
    """
    if len(ious) != len(gt_areas):
        raise ValueError(f"{len(ious)} per-frame J values for {len(gt_areas)} GT areas")
    onset = loss_onset(ious, gt_areas, rules.lost_iou)
    if onset is None:
        return "kept", None
    width, height = float(init_box_xywh[2]), float(init_box_xywh[3])
    if math.sqrt(max(width, 0.0) * max(height, 0.0)) < rules.min_init_side:
        return "small_init", onset
    if any(area == 0 for area in gt_areas[:onset]):
        return "after_absence", onset
    visible = [area for area in gt_areas if area > 0]
    hidden_below = rules.occluded_frac * float(np.median(visible))
    if any(area < hidden_below for area in gt_areas[max(0, onset - rules.occlusion_window) : onset + 1]):
        return "after_occlusion", onset
    return "drift", onset


def loss_summary(jf: Sequence[float], causes: Sequence[str]) -> list[dict[str, float | int | str]]:
    """Per cause: objects, their mean J&F and ``shortfall``, their share of the overall 1 - J&F.

    The shortfalls add up to 1 - (overall J&F): they say which cause costs the score most.
    """
    if len(jf) != len(causes):
        raise ValueError(f"{len(jf)} J&F values for {len(causes)} causes")
    rows = []
    for cause in LOSS_CAUSES:
        values = [v for v, c in zip(jf, causes, strict=True) if c == cause]
        rows.append(
            {
                "cause": cause,
                "objects": len(values),
                "JF": float(np.mean(values)) if values else float("nan"),
                "shortfall": float(sum(1.0 - v for v in values) / len(jf)) if jf else float("nan"),
            }
        )
    return rows


def loss_table(summary: Sequence[Mapping[str, float | int | str]]) -> str:
    """The loss-cause summary as a markdown table."""
    lines = ["| loss cause | objects | J&F | share of 1 - J&F |", "|---|---:|---:|---:|"]
    for row in summary:
        jf = "–" if row["objects"] == 0 else f"{row['JF']:.3f}"
        lines.append(f"| {row['cause']} | {row['objects']} | {jf} | {row['shortfall']:.3f} |")
    return "\n".join(lines)
