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


def encode_mask_region(region: np.ndarray, origin_xy: tuple[int, int], image_hw: tuple[int, int]) -> RLE:
    """Compressed RLE of an ``image_hw`` mask that is False outside ``region`` (an (h, w) bool array
    whose top-left pixel is at column, row ``origin_xy``), without building the full-frame mask:
    equal to ``encode_mask`` of the full mask (tested), at a cost that follows the region's size.

    The column-major runs are computed on the region (a False pixel appended to each column ends the
    runs that reach its bottom), shifted to frame positions and compressed by pycocotools.
    """
    height, width = (int(v) for v in image_hw)
    x0, y0 = (int(v) for v in origin_xy)
    rows, cols = region.shape
    if rows == 0 or cols == 0:
        return encode_mask(np.zeros((height, width), dtype=bool))
    if x0 < 0 or y0 < 0 or x0 + cols > width or y0 + rows > height:
        raise ValueError(f"mask region {cols}x{rows} at {origin_xy} leaves the {width}x{height} frame")
    full_height = rows == height  # then a run may continue from one column into the next
    stride = rows + (0 if full_height else 1)
    columns = np.zeros((cols, stride), dtype=np.int8)
    columns[:, :rows] = region.T
    changes = np.flatnonzero(np.diff(columns.reshape(-1), prepend=0, append=0))  # run starts and ends
    col, row = np.divmod(changes, stride)
    positions = (x0 + col) * height + y0 + row  # frame column-major index (an end may be one past a column)
    counts = np.diff(np.concatenate([[0], positions, [height * width]]))
    if counts[-1] == 0 and len(counts) > 1:  # the last run of 1 ends at the last pixel
        counts = counts[:-1]
    rle = mask_utils.frPyObjects({"counts": counts.tolist(), "size": [height, width]}, height, width)
    return {"size": [height, width], "counts": rle["counts"].decode("ascii")}


class SegmentationError(ValueError):
    """A segmentation that is not a valid mask of the expected size (message without location:
    callers prefix the file, video and frame)."""


def normalize_segmentation(segmentation: Any, height: int, width: int) -> RLE | None:
    """Any YouTube-VIS/COCO segmentation of an ``height`` x ``width`` frame -> compressed RLE
    (``str`` counts), or None for an absent frame (``null``, ``[]`` and ``{}``, as the official
    API's ``if seg:``). The one validated normaliser of the project.

    Accepts compressed RLE (``counts`` str or bytes), uncompressed RLE (``counts`` a list of ints
    summing to ``height * width``) and polygons (a list of flat ``[x0, y0, x1, y1, ...]`` lists of
    at least 3 points). Raises :class:`SegmentationError` for anything else, and for an RLE whose
    ``size`` is not ``[height, width]``.
    """
    if not segmentation:
        return None
    try:
        if isinstance(segmentation, list):
            if not all(isinstance(p, list) and len(p) >= 6 and len(p) % 2 == 0 for p in segmentation):
                raise SegmentationError("polygons must be lists of >= 3 (x, y) pairs")
            rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
        elif isinstance(segmentation, dict) and "counts" in segmentation and "size" in segmentation:
            size = [int(v) for v in segmentation["size"]]
            if size != [height, width]:
                raise SegmentationError(f"RLE size {size} != video size [{height}, {width}]")
            counts = segmentation["counts"]
            if isinstance(counts, list):  # uncompressed RLE
                if sum(counts) != height * width:
                    raise SegmentationError(
                        f"uncompressed RLE counts sum to {sum(counts)}, expected {height * width}"
                    )
                rle = mask_utils.frPyObjects(segmentation, height, width)
            elif isinstance(counts, (str, bytes)):
                rle = {"size": size, "counts": counts}
            else:
                raise SegmentationError("RLE counts must be a string or a list of ints")
        else:
            raise SegmentationError(
                f"segmentation must be null, RLE or polygons, got {type(segmentation).__name__}"
            )
    except SegmentationError:
        raise
    except (TypeError, ValueError) as exc:  # pycocotools raises bare TypeError/ValueError on garbage
        raise SegmentationError(f"unreadable segmentation ({exc})") from None
    counts = rle["counts"]
    return {
        "size": [height, width],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def to_compressed_rle(segmentation: Any, height: int, width: int) -> RLE:
    """:func:`normalize_segmentation` of a present (non-empty) segmentation."""
    rle = normalize_segmentation(segmentation, height, width)
    if rle is None:
        raise SegmentationError("empty segmentation where a mask is required")
    return rle


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
