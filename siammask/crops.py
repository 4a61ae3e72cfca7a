"""Image-space geometry of the SiamMask tracker: square crops and the mask paste-back (boxes: boxes.py).

Both reproduce the released tracker bit for bit (SPEC §2.3, §2.6):

* crops round the window corner half-to-even (Python ``round``; pysot's ``floor(v + 0.5)`` differs at .5),
  fill out-of-image pixels with the per-channel mean truncated to uint8, and resize with OpenCV's
  fixed-point INTER_LINEAR on uint8;
* the paste uses ``cv2.warpAffine`` (OpenCV 4.x quantises sampling positions to 1/32 px) with the
  reference's matrix, including its slight (W-1)/W shrink towards the origin, and -1 outside the square.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from siammask.opencv_exact import PaddedFrame, resize_window_sparse, warp_scale_region


def round_half_even(value: float) -> int:
    """Round to the nearest integer, ties to even (Python/numpy rounding): 2.5 -> 2, 3.5 -> 4, -0.5 -> 0."""
    return int(round(float(value)))


def pad_fill_value(avg_chans: np.ndarray) -> np.ndarray:
    """Fill colour for out-of-image crop pixels: the float channel means truncated to uint8 (127.9 -> 127)."""
    return np.asarray(avg_chans, dtype=np.float64).astype(np.uint8)


@dataclass(frozen=True)
class CropWindow:
    """Integer square window: columns x0 .. x0+size-1, rows y0 .. y0+size-1 (may leave the image)."""

    x0: int
    y0: int
    size: int


def crop_window(center_xy: Sequence[float], crop_size: int) -> CropWindow:
    """Window of side ``crop_size`` around ``center_xy``; corner = round_half_even(center - (size+1)/2)."""
    half = (crop_size + 1) / 2
    return CropWindow(
        x0=round_half_even(center_xy[0] - half), y0=round_half_even(center_xy[1] - half), size=int(crop_size)
    )


def template_crop_size(box_wh: Sequence[float], context_amount: float) -> int:
    """Side of the template crop: round_half_even(sqrt((w + c) (h + c))), c = context_amount * (w + h)."""
    context = context_amount * (box_wh[0] + box_wh[1])
    return round_half_even(np.sqrt((box_wh[0] + context) * (box_wh[1] + context)))


@dataclass(frozen=True)
class SearchCrop:
    """Geometry of one search crop: centre (x, y) in frame pixels, side ``crop_size`` (integer, frame
    pixels) and ``scale_x`` = exemplar_size / s (crop pixels per frame pixel, from the UNROUNDED side)."""

    center: np.ndarray
    crop_size: int
    scale_x: float

    @property
    def origin(self) -> tuple[float, float]:
        """Top-left (x, y) of the crop box: centre - crop_size / 2 (used to paste the mask back)."""
        return self.center[0] - self.crop_size / 2, self.center[1] - self.crop_size / 2


def search_crop(
    center_xy: np.ndarray, box_wh: np.ndarray, context_amount: float, exemplar_size: int, instance_size: int
) -> SearchCrop:
    """Search crop for a box (SPEC §2.5 step 1): s = sqrt((h + c)(w + c)), side round(s * instance/exemplar).

    The reference computes s + 2 * ((instance - exemplar) / 2) / scale_x, reproduced here operation by
    operation; w and h enter swapped relative to the template rule (harmless, the product is symmetric).
    """
    context = context_amount * (box_wh[0] + box_wh[1])
    side = np.sqrt((box_wh[1] + context) * (box_wh[0] + context))
    scale_x = exemplar_size / side
    pad = (instance_size - exemplar_size) / 2 / scale_x
    return SearchCrop(
        center=np.array(center_xy, dtype=np.float64), crop_size=round(side + 2 * pad), scale_x=scale_x
    )


def clip_box(
    center_xy: np.ndarray, box_wh: np.ndarray, image_hw: Sequence[int], min_size: float
) -> tuple[np.ndarray, np.ndarray]:
    """Centre into [0, W] x [0, H], size into [min_size, W] x [min_size, H] -> float64 (centre, size)."""
    height, width = image_hw
    center = np.array([max(0, min(width, center_xy[0])), max(0, min(height, center_xy[1]))], dtype=np.float64)
    size = np.array([max(min_size, min(width, box_wh[0])), max(min_size, min(height, box_wh[1]))], np.float64)
    return center, size


def crop_subwindow(
    image: np.ndarray,
    center_xy: Sequence[float],
    out_size: int,
    crop_size: int,
    fill_bgr: np.ndarray,
    padded: PaddedFrame | None = None,
) -> np.ndarray:
    """Cut a ``crop_size`` square around ``center_xy`` and resize it to ``out_size``.

    image: (H, W, 3) uint8 BGR. fill_bgr: (3,) uint8 colour for pixels outside the image (see
    ``pad_fill_value``). Returns (out_size, out_size, 3) uint8, bit for bit what cv2.resize INTER_LINEAR
    gives on the padded square (``_crop_reference``), at a cost that does not grow with ``crop_size``:
    a square inside the image is resized from a view (OpenCV reads only the rows/columns it needs); a
    square that leaves the image is computed by ``resize_window_sparse`` from the pixels it needs (with
    ``padded``, ``image`` reset into it by the caller for this frame, mostly by cv2.resize of a view),
    instead of materialising the whole padded square first (20 ms at side 2000, scripts/bench_host.py).
    """
    window = crop_window(center_xy, crop_size)
    height, width = image.shape[:2]
    x1, y1 = window.x0 + window.size, window.y0 + window.size
    inside = window.x0 >= 0 and window.y0 >= 0 and x1 <= width and y1 <= height
    # int16 gather coordinates (cv2.remap) must not wrap
    coords_fit = max(abs(window.x0), abs(window.y0), x1, y1, width, height) < _INT16_LIMIT
    small = window.size <= (SPARSE_MIN_SIDE_PADDED if padded is not None else SPARSE_MIN_SIDE)
    if inside or window.size == out_size or small or not coords_fit:
        return _crop_reference(image, center_xy, out_size, crop_size, fill_bgr)
    fill = np.asarray(fill_bgr, dtype=np.uint8)
    return resize_window_sparse(image, window.x0, window.y0, window.size, out_size, fill, padded)


# Up to these sides a padded square costs less to materialise than the sparse path's fixed overhead
# (measured by scripts/bench_host.py; both paths give the same bytes).
SPARSE_MIN_SIDE = 400
SPARSE_MIN_SIDE_PADDED = 300
_INT16_LIMIT = 32000


def _crop_reference(
    image: np.ndarray, center_xy: Sequence[float], out_size: int, crop_size: int, fill_bgr: np.ndarray
) -> np.ndarray:
    """The released crop: pad the whole window with ``fill_bgr``, then cv2.resize INTER_LINEAR."""
    window = crop_window(center_xy, crop_size)
    height, width = image.shape[:2]
    x1, y1 = window.x0 + window.size, window.y0 + window.size  # exclusive ends
    if window.x0 >= 0 and window.y0 >= 0 and x1 <= width and y1 <= height:
        patch = image[window.y0 : y1, window.x0 : x1]
    else:
        patch = np.empty((window.size, window.size, image.shape[2]), dtype=np.uint8)
        patch[:] = fill_bgr
        src_x0, src_y0 = max(window.x0, 0), max(window.y0, 0)
        src_x1, src_y1 = min(x1, width), min(y1, height)
        if src_x0 < src_x1 and src_y0 < src_y1:  # some overlap with the image
            patch[src_y0 - window.y0 : src_y1 - window.y0, src_x0 - window.x0 : src_x1 - window.x0] = image[
                src_y0:src_y1, src_x0:src_x1
            ]
    if window.size != out_size:
        patch = cv2.resize(patch, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(patch)


def crops_to_tensor(crops: Sequence[np.ndarray], device: torch.device | str) -> torch.Tensor:
    """Stack (S, S, 3) uint8 crops into a contiguous (N, 3, S, S) float32 raw-BGR tensor on ``device``.

    Contiguous NCHW on purpose: the reference's (1, 3, S, S) tensors (a transposed numpy view) convolve as
    NCHW, while channels-last strides select other conv kernels whose results differ in the last bits.
    The uint8 stack is moved before the cast (4x less to transfer to a GPU).
    """
    stacked = torch.from_numpy(np.stack(crops)).to(device)
    return stacked.permute(0, 3, 1, 2).contiguous().float()


def mask_square(
    crop_origin_xy: Sequence[float],
    crop_size: int,
    pos_yx: Sequence[int],
    instance_size: int,
    exemplar_size: int,
    total_stride: int,
    base_size: int,
) -> tuple[float, float, float]:
    """Image square (x, y, side) covered by the mask of response cell ``pos_yx`` (SPEC §2.6 ``sub_box``).

    crop_origin_xy = centre - crop_size / 2 of the search crop the response came from. The cell (y, x) is
    the exemplar-sized window whose top-left is at ``(x - base_size/2) * stride`` crop pixels, scaled to the
    image by crop_size / instance_size.
    """
    scale = crop_size / instance_size
    pos_y, pos_x = int(pos_yx[0]), int(pos_yx[1])
    square_x = crop_origin_xy[0] + (pos_x - base_size / 2) * total_stride * scale
    square_y = crop_origin_xy[1] + (pos_y - base_size / 2) * total_stride * scale
    return square_x, square_y, scale * exemplar_size


def _paste_matrix(mask_side: int, square_xyside: Sequence[float], image_hw: Sequence[int]) -> np.ndarray:
    """The reference's affine map from mask pixels to frame pixels, in its operation order."""
    height, width = int(image_hw[0]), int(image_hw[1])
    to_mask = mask_side / square_xyside[2]  # image px -> mask px
    # the reference maps the whole frame, seen in mask pixels, back onto (W, H); keep its operation order
    back_x, back_y = -square_xyside[0] * to_mask, -square_xyside[1] * to_mask
    back_w, back_h = width * to_mask, height * to_mask
    scale_x = (width - 1) / back_w
    scale_y = (height - 1) / back_h
    return np.array([[scale_x, 0, -scale_x * back_x], [0, scale_y, -scale_y * back_y]], dtype=np.float64)


def paste_mask(mask_prob: np.ndarray, square_xyside: Sequence[float], image_hw: Sequence[int]) -> np.ndarray:
    """Paste an (M, M) float32 mask covering image square (x, y, side) into an (H, W) float32 frame.

    Reproduces the reference affine map: mask pixel u lands at image x = ((W-1)/W) * (x + u * side/M)
    (likewise in y), bilinear, value -1 where the square does not reach. Full-frame cv2.warpAffine; the
    tracker uses the bit-identical ``paste_mask_region``.
    """
    height, width = int(image_hw[0]), int(image_hw[1])
    return cv2.warpAffine(
        np.ascontiguousarray(mask_prob, dtype=np.float32),
        _paste_matrix(mask_prob.shape[1], square_xyside, image_hw),
        (width, height),
        flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=-1,
    )


def paste_mask_region(
    mask_prob: np.ndarray, square_xyside: Sequence[float], image_hw: Sequence[int]
) -> tuple[int, int, np.ndarray]:
    """``paste_mask`` as (x0, y0, region): the frame is -1 outside the region at column x0, row y0.

    Bit for bit the same values, at a cost that grows with the pasted square, not the frame.
    """
    matrix = _paste_matrix(mask_prob.shape[1], square_xyside, image_hw)
    return warp_scale_region(
        np.ascontiguousarray(mask_prob, dtype=np.float32),
        float(matrix[0, 0]),
        float(matrix[0, 2]),
        float(matrix[1, 1]),
        float(matrix[1, 2]),
        (int(image_hw[0]), int(image_hw[1])),
        border_value=-1.0,
    )
