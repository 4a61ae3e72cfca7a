"""Mask <-> RLE helpers shared by the data layer, results writers and evaluation.

Every mask that crosses a module boundary is a COCO-style *compressed* RLE dict
``{"size": [h, w], "counts": str}`` (counts decoded to ``str``, never ``bytes``), so
it is JSON-serialisable and cheap to keep for long videos.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

RLE = dict[str, Any]


def encode_mask(mask: np.ndarray) -> RLE:
    """Encode a bool/uint8 HxW mask as compressed RLE with ``str`` counts."""
    if mask.ndim != 2:
        raise ValueError(f"encode_mask expects an HxW mask, got shape {mask.shape}")
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8, copy=False)))
    counts = rle["counts"]
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts.decode("ascii")}


def to_compressed_rle(segmentation: Any, height: int, width: int) -> RLE:
    """Normalise any YouTube-VIS/COCO segmentation to compressed RLE (str counts).

    Accepts compressed RLE (``counts`` str or bytes), uncompressed RLE (``counts`` a list
    of ints) and polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists).
    """
    if isinstance(segmentation, list):  # polygons
        rles = mask_utils.frPyObjects(segmentation, height, width)
        rle = mask_utils.merge(rles)
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), list):
        rle = mask_utils.frPyObjects(segmentation, *segmentation["size"])
    elif isinstance(segmentation, dict) and isinstance(segmentation.get("counts"), (str, bytes)):
        rle = dict(segmentation)
    else:
        raise ValueError(f"unsupported segmentation of type {type(segmentation).__name__}")
    counts = rle["counts"]
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    return {"size": [int(rle["size"][0]), int(rle["size"][1])], "counts": counts}


def decode_rle(rle: RLE) -> np.ndarray:
    """Decode a compressed RLE (str or bytes counts) to a bool HxW mask."""
    counts = rle["counts"]
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return mask_utils.decode({"size": list(rle["size"]), "counts": counts}).astype(bool)


def _as_pycoco(rle: RLE) -> dict[str, Any]:
    counts = rle["counts"]
    return {
        "size": list(rle["size"]),
        "counts": counts.encode("ascii") if isinstance(counts, str) else counts,
    }


def rle_area(rle: RLE) -> int:
    """Number of foreground pixels of a compressed RLE."""
    return int(mask_utils.area(_as_pycoco(rle)))


def rle_to_box_xywh(rle: RLE) -> list[float]:
    """Tight axis-aligned box ``[x, y, w, h]`` of a compressed RLE ([0,0,0,0] if empty)."""
    return [float(v) for v in mask_utils.toBbox(_as_pycoco(rle))]


def rle_iou_matrix(rles_a: list[RLE], rles_b: list[RLE]) -> np.ndarray:
    """Mask IoU between every pair of two RLE lists, shape (len(a), len(b)), float64."""
    if not rles_a or not rles_b:
        return np.zeros((len(rles_a), len(rles_b)), dtype=np.float64)
    a = [_as_pycoco(r) for r in rles_a]
    b = [_as_pycoco(r) for r in rles_b]
    return np.asarray(mask_utils.iou(a, b, [0] * len(b)), dtype=np.float64).reshape(len(a), len(b))


def merge_area(rles: list[RLE], intersect: bool) -> int:
    """Area of the union (``intersect=False``) or intersection of several RLEs."""
    return int(mask_utils.area(mask_utils.merge([_as_pycoco(r) for r in rles], intersect)))
