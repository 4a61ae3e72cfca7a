"""Initialise a YouTube-VIS detector from a COCO-trained one: copy the class-specific rows of mapped classes.

A COCO HTC predicts 80 classes; an HTC for YouTube-VIS predicts 40. Everything that does not depend on
the class list (backbone, FPN, RPN, RoI feature layers, mask convs) is copied as is. In the
class-specific layers of every cascade stage, mmdet's

- ``roi_head.bbox_head.<i>.fc_cls``: ``num_classes + 1`` rows, the background row last,
- ``roi_head.bbox_head.<i>.fc_reg``: 4 rows per class (only when ``reg_class_agnostic`` is false;
  HTC's heads are class-agnostic: 4 rows shared by all classes, copied as is),
- ``roi_head.mask_head.<i>.conv_logits``: one mask channel per class,

the rows of a YouTube-VIS class that the COCO -> YouTube-VIS map covers are copied from its COCO class
(and the background row from COCO's background); the other classes keep the freshly initialised rows.
Tensors of the source that the target model does not have (HTC's COCO-stuff semantic head when the
target drops it) are left out, and reported.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from torch import Tensor

from vis_pipeline.detect.base import CheckpointMismatchError, DetectorConfigError

#: Module names of mmdet's class-specific layers (BBoxHead and FCNMaskHead families).
CLASS_SPECIFIC_LAYERS = ("fc_cls", "fc_reg", "conv_logits")
CLASS_SPECIFIC_HEADS = ("roi_head.bbox_head.", "roi_head.mask_head.")


@dataclass
class RemapReport:
    """What :func:`remap_class_rows` did (state-dict keys)."""

    copied: list[str] = field(default_factory=list)  # class-independent tensors copied as is
    remapped: list[str] = field(default_factory=list)  # class-specific tensors, mapped rows copied
    fresh: list[str] = field(default_factory=list)  # target tensors the source does not have
    dropped: list[str] = field(default_factory=list)  # source tensors the target does not have
    mapped_classes: dict[str, str] = field(default_factory=dict)  # target class -> source class
    fresh_classes: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"{len(self.copied)} tensors copied, {len(self.remapped)} class-specific tensors remapped "
            f"({len(self.mapped_classes)} classes from COCO, {len(self.fresh_classes)} fresh), "
            f"{len(self.fresh)} fresh, {len(self.dropped)} source tensors dropped"
            + (f" (e.g. {self.dropped[0]})" if self.dropped else "")
        )


def class_sources(
    target_classes: Sequence[str],
    source_classes: Sequence[str],
    source_to_target: Mapping[str, str],
    prefer: Mapping[str, str] | None = None,
) -> list[int | None]:
    """For each target class, the index of the source class whose rows it gets (None = fresh rows).

    source_to_target: source class name -> target class name (e.g. ``categories.COCO_TO_YTVIS2019``).
    prefer: target class -> source class, required where several source classes map onto one target
    (COCO bicycle and motorcycle both map onto motorbike; only one row can be copied).
    """
    prefer = dict(prefer or {})
    index = {name: i for i, name in enumerate(source_classes)}
    unknown = sorted(set(source_to_target) - set(index))
    if unknown:
        raise DetectorConfigError(f"class remap: source classes {unknown} are not in the source model")
    out: list[int | None] = []
    for target in target_classes:
        candidates = [s for s, t in source_to_target.items() if t == target]
        if len(candidates) > 1:
            if prefer.get(target) not in candidates:
                raise DetectorConfigError(
                    f"class remap: {candidates} all map onto {target!r}; name the one to copy "
                    f"(prefer: {{{target}: one of {candidates}}})"
                )
            candidates = [prefer[target]]
        out.append(index[candidates[0]] if candidates else None)
    return out


def _row_index(key: str, target_rows: int, source_rows: int, sources: Sequence[int | None], n_source: int):
    """(target row, source row) pairs of a class-specific tensor, from its row count."""
    n_target = len(sources)
    if target_rows == n_target + 1 and source_rows == n_source + 1:  # fc_cls: + background, last
        pairs = [(t, s) for t, s in enumerate(sources) if s is not None]
        return [*pairs, (n_target, n_source)]
    if target_rows == n_target and source_rows == n_source:  # conv_logits: one per class
        return [(t, s) for t, s in enumerate(sources) if s is not None]
    if target_rows == 4 * n_target and source_rows == 4 * n_source:  # class-specific fc_reg
        return [(4 * t + j, 4 * s + j) for t, s in enumerate(sources) if s is not None for j in range(4)]
    if target_rows == source_rows == 4 and key.split(".")[-2] == "fc_reg":  # class-agnostic regression
        return [(j, j) for j in range(4)]
    raise CheckpointMismatchError(
        f"class remap: {key} has {source_rows} rows in the source and {target_rows} in the target; "
        f"expected the layout of {n_source} and {n_target} classes"
    )


def remap_class_rows(
    source: Mapping[str, Tensor],
    fresh: Mapping[str, Tensor],
    sources: Sequence[int | None],
    n_source: int,
    target_classes: Sequence[str] | None = None,
    source_classes: Sequence[str] | None = None,
) -> tuple[dict[str, Tensor], RemapReport]:
    """A full target state dict: ``fresh`` (the initialised target model) filled from ``source``.

    sources: per target class, the source class index (:func:`class_sources`); n_source: number of
    source classes. Class-independent tensors must have equal shapes in both (else
    CheckpointMismatchError naming the key: the architectures differ).
    """
    report = RemapReport()
    names = list(target_classes or [str(i) for i in range(len(sources))])
    source_names = list(source_classes or [str(i) for i in range(n_source)])
    for t, s in enumerate(sources):
        if s is None:
            report.fresh_classes.append(names[t])
        else:
            report.mapped_classes[names[t]] = source_names[s]
    out: dict[str, Tensor] = {}
    for key, init in fresh.items():
        if key not in source:
            out[key] = init.clone()
            report.fresh.append(key)
            continue
        value = source[key].to(init.dtype)
        layer = key.split(".")[-2] if "." in key else ""
        if key.startswith(CLASS_SPECIFIC_HEADS) and layer in CLASS_SPECIFIC_LAYERS:
            rows = _row_index(key, init.shape[0], value.shape[0], sources, n_source)
            if tuple(init.shape[1:]) != tuple(value.shape[1:]):
                raise CheckpointMismatchError(
                    f"class remap: {key} has shape {list(value.shape)} in the source, "
                    f"{list(init.shape)} in the target (beyond the class rows)"
                )
            merged = init.clone()
            if rows:
                target_rows, source_rows = zip(*rows, strict=True)
                merged[list(target_rows)] = value[list(source_rows)]
            out[key] = merged
            report.remapped.append(key)
            continue
        if tuple(value.shape) != tuple(init.shape):
            raise CheckpointMismatchError(
                f"class remap: {key} has shape {list(value.shape)} in the source and {list(init.shape)} "
                "in the target; is the source the same architecture?"
            )
        out[key] = value.clone()
        report.copied.append(key)
    report.dropped = [k for k in source if k not in fresh]
    return out, report
