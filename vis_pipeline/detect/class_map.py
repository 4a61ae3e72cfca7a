"""Detector label -> dataset category id tables.

A detector predicts 0-based labels over its own classes; the pipeline works with the dataset's
1-based category ids. Kinds (``class_map`` in ``configs/detector/*.yaml``):

- ``identity``: the detector was trained on the dataset's own classes, label i -> id i + 1
  (the tiny HTC on the synthetic categories, an HTC fine-tuned on YouTube-VIS).
- ``coco_to_ytvis2019`` / ``coco_to_ytvis2021``: a COCO-trained detector; COCO classes without
  a YouTube-VIS counterpart map to -1 and their detections are dropped
  (tables in ``vis_pipeline.categories``).
"""

from __future__ import annotations

import logging

import numpy as np

from vis_pipeline.detect.base import DetectorConfigError

LOG = logging.getLogger(__name__)
CLASS_MAP_KINDS = ("identity", "coco_to_ytvis2019", "coco_to_ytvis2021")


def label_to_category_table(kind: str, detector_classes: list[str]) -> np.ndarray:
    """(num_classes,) int64 array: dataset category id of each detector label, -1 = drop."""
    if kind == "identity":
        return np.arange(1, len(detector_classes) + 1, dtype=np.int64)
    if kind not in CLASS_MAP_KINDS:
        raise DetectorConfigError(f"class_map must be one of {CLASS_MAP_KINDS}, got {kind!r}")
    from vis_pipeline import categories

    coco_classes = list(categories.COCO_CLASSES)
    if len(detector_classes) != len(coco_classes):
        raise DetectorConfigError(
            f"class_map {kind} needs a detector with the {len(coco_classes)} COCO classes, "
            f"this one has {len(detector_classes)} (first: {list(detector_classes)[:1]})"
        )
    renamed = [(a, b) for a, b in zip(detector_classes, coco_classes, strict=True) if a != b]
    if renamed:
        # older checkpoints spell a few COCO names differently; the label order is what matters
        LOG.warning("class_map %s: detector class names differ from COCO's, e.g. %r vs %r", kind, *renamed[0])
    dataset = kind.removeprefix("coco_to_")
    return label_table_to_array(categories.coco_label_to_category_id(dataset), len(coco_classes))


def label_table_to_array(table: dict[int, int], num_labels: int) -> np.ndarray:
    """{0-based detector label: dataset category id} -> dense (num_labels,) int64 array, -1 elsewhere."""
    out = np.full(num_labels, -1, dtype=np.int64)
    for label, category_id in table.items():
        out[int(label)] = int(category_id)
    return out


def map_labels(labels: np.ndarray, table: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Map 0-based detector labels (N,) through ``table``; returns (category ids of kept, keep index)."""
    labels = np.asarray(labels, dtype=np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= len(table)):
        raise DetectorConfigError(f"detector label {int(labels.max())} outside a class map of {len(table)}")
    categories = table[labels] if len(labels) else np.zeros(0, np.int64)
    keep = np.flatnonzero(categories > 0)
    return categories[keep], keep
