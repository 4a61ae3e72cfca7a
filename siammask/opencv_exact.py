"""Bit-exact re-implementations of the two OpenCV calls of the tracker's host side, restricted to the
pixels that matter, so that their cost does not grow with the object or the frame:

* ``cv2.resize`` INTER_LINEAR on uint8 (the search/template crops): the same fixed-point taps, evaluated
  only on the output block that sees the image (``resize_window_sparse``);
* ``cv2.warpAffine`` INTER_LINEAR, BORDER_CONSTANT (the mask paste) for a scale-and-shift matrix: the same
  fixed-point sampling positions, handed to ``cv2.remap`` only for the frame region the mask reaches
  (``warp_scale_region``).

Both are checked bit for bit against the OpenCV calls by property tests (tests/test_siammask_crops_exact.py);
they follow OpenCV 4.x's imgproc/src/resize.cpp and imgwarp.cpp (pyproject pins opencv < 5).
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import cv2
import numpy as np

# OpenCV's uint8 INTER_LINEAR: 11-bit weights, an int32 horizontal pass, then
# dst = ((w0 * (h0 >> 4)) >> 16 + (w1 * (h1 >> 4)) >> 16 + 2) >> 2 (imgproc/src/resize.cpp, VResizeLinear).
COEF_SCALE = 2048


@dataclass(frozen=True)
class _Taps:
    """Per output index: the two source indices and their 11-bit weights, as OpenCV computes them."""

    first: np.ndarray  # (out,) int64, clipped into [0, src - 1]
    second: np.ndarray
    weight0: np.ndarray  # (out,) int32
    weight1: np.ndarray


@functools.lru_cache(maxsize=256)
def linear_taps(src_size: int, out_size: int, clamp_weights: bool) -> _Taps:
    """OpenCV's taps for resizing ``src_size`` to ``out_size`` (one axis).

    pos = float32((d + 0.5) * scale - 0.5) with scale = 1 / (out / src) in double; floor and the float32
    fraction; weights = round-half-even((1 - frac) * 2048), (frac * 2048). Columns (``clamp_weights``) take
    weight (2048, 0) on the border pixel outside the source; rows keep their fraction and only clip the
    row indices, so a border row is weighted twice. An exact 2x downscale runs as INTER_AREA in OpenCV,
    which gives the same numbers as these taps (weights 1024, 1024).
    """
    scale = 1.0 / (out_size / src_size)
    pos = ((np.arange(out_size, dtype=np.float64) + 0.5) * scale - 0.5).astype(np.float32)
    floor = np.floor(pos)
    frac = (pos - floor).astype(np.float32)
    first = floor.astype(np.int64)
    if clamp_weights:
        below, above = first < 0, first >= src_size - 1
        frac[below | above] = 0.0
        first = np.where(below, 0, np.where(above, src_size - 1, first))
    weight0 = np.rint((np.float32(1.0) - frac) * np.float32(COEF_SCALE)).astype(np.int32)
    weight1 = np.rint(frac * np.float32(COEF_SCALE)).astype(np.int32)
    taps = _Taps(np.clip(first, 0, src_size - 1), np.clip(first + 1, 0, src_size - 1), weight0, weight1)
    for array in dataclasses.astuple(taps):
        array.setflags(write=False)
    return taps


def _vertical(weight0: np.ndarray, weight1: np.ndarray, row0: np.ndarray, row1: np.ndarray) -> np.ndarray:
    """OpenCV's vertical pass on horizontal results already shifted right by 4."""
    return (((weight0 * row0) >> 16) + ((weight1 * row1) >> 16) + 2) >> 2


class PaddedFrame:
    """A frame copied into the middle of a larger reused buffer, so that a crop window reaching up to
    ``margin`` pixels past the frame is a plain view for cv2.resize. The buffer outside the frame holds
    arbitrary values: only output pixels whose taps all fall inside the frame are taken from such a resize.

    ``reset()`` before each new frame; the frame is copied on the first ``view`` after it (never if no
    window needs it).
    """

    def __init__(self, margin: int = 512) -> None:
        self.margin = margin
        self._buffer: np.ndarray | None = None
        self._image: np.ndarray | None = None
        self._loaded = False

    def reset(self, image: np.ndarray | None) -> None:
        """Use ``image`` for the next views (None: release it; the buffer is kept for the next frame)."""
        self._image, self._loaded = image, False

    def view(self, x0: int, y0: int, size: int) -> np.ndarray | None:
        """The (size, size, 3) window at frame column x0, row y0, or None when it leaves the margins."""
        if self._image is None:
            return None
        height, width = self._image.shape[:2]
        margin = self.margin
        if min(x0, y0) < -margin or x0 + size > width + margin or y0 + size > height + margin:
            return None
        if not self._loaded:
            shape = (height + 2 * margin, width + 2 * margin, 3)
            if self._buffer is None or self._buffer.shape != shape:
                self._buffer = np.zeros(shape, dtype=np.uint8)
            self._buffer[margin : margin + height, margin : margin + width] = self._image
            self._loaded = True
        assert self._buffer is not None
        return self._buffer[y0 + margin : y0 + margin + size, x0 + margin : x0 + margin + size]


def _taps_within(taps: _Taps, origin: int, limit: int, both: bool) -> np.ndarray:
    """Output indices whose source taps, shifted by ``origin``, fall in [0, limit): either tap, or both."""
    first = (taps.first + origin >= 0) & (taps.first + origin < limit)
    second = (taps.second + origin >= 0) & (taps.second + origin < limit)
    return np.flatnonzero(first & second if both else first | second)


def _span(indices: np.ndarray) -> slice:
    return slice(int(indices[0]), int(indices[-1]) + 1) if len(indices) else slice(0, 0)


def _resize_block(
    image: np.ndarray,
    x0: int,
    y0: int,
    rows: _Taps,
    cols: _Taps,
    row_range: slice,
    col_range: slice,
    fill: np.ndarray,
) -> np.ndarray:
    """Output rows ``row_range`` x columns ``col_range`` of the resize, (n_rows, n_cols, 3) uint8, from the
    pixels they read: one nearest-neighbour gather (cv2.remap, the padding colour as its constant border)
    of both column taps of every needed source row, then OpenCV's fixed-point arithmetic."""
    src_rows, row_index = np.unique(
        np.concatenate([rows.first[row_range], rows.second[row_range]]), return_inverse=True
    )
    n_out_rows = row_range.stop - row_range.start
    n_out_cols = col_range.stop - col_range.start
    map_xy = np.empty((len(src_rows), 2 * n_out_cols, 2), dtype=np.int16)  # [first taps | second taps]
    map_xy[:, :n_out_cols, 0] = cols.first[col_range] + x0
    map_xy[:, n_out_cols:, 0] = cols.second[col_range] + x0
    map_xy[:, :, 1] = (src_rows + y0)[:, None]
    pixels = cv2.remap(
        image,
        map_xy,
        None,
        cv2.INTER_NEAREST,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=tuple(int(v) for v in fill),
    )
    # as (rows, columns * 3) so that every weight vector runs along the contiguous axis
    pixels = pixels.reshape(len(src_rows), -1)
    split = 3 * n_out_cols
    horizontal = pixels[:, :split].astype(np.int32)
    horizontal *= np.repeat(cols.weight0[col_range], 3)
    second = pixels[:, split:].astype(np.int32)
    second *= np.repeat(cols.weight1[col_range], 3)
    horizontal += second
    horizontal >>= 4
    block = horizontal[row_index[:n_out_rows]]
    block *= rows.weight0[row_range, None]
    block >>= 16
    second = horizontal[row_index[n_out_rows:]]
    second *= rows.weight1[row_range, None]
    second >>= 16
    block += second
    block += 2
    block >>= 2
    return block.astype(np.uint8).reshape(n_out_rows, n_out_cols, 3)


def resize_window_sparse(
    image: np.ndarray,
    x0: int,
    y0: int,
    size: int,
    out_size: int,
    fill: np.ndarray,
    padded: PaddedFrame | None = None,
) -> np.ndarray:
    """cv2.resize INTER_LINEAR of the ``size`` square at (x0, y0) of ``image`` padded with ``fill``, to
    ``out_size``, computed from the pixels the resize reads (never materialises the padded square).

    Output pixels whose two source rows, or two source columns, are all padding equal a per-row constant
    (the padding colour through the vertical weights) as long as the column weights sum to 2048. Of the
    block of output rows x columns that touches the image, the part whose taps all fall inside the image
    is cut from cv2.resize of a ``padded`` view when one is given and reaches the window, and the rest (a
    band of a few rows and columns along the image's edges) is computed by ``_resize_block``.
    """
    cols = linear_taps(size, out_size, clamp_weights=True)
    rows = linear_taps(size, out_size, clamp_weights=False)
    height, width = image.shape[:2]
    fill_shifted = fill.astype(np.int32) * (COEF_SCALE >> 4)  # a padding pixel after the horizontal pass
    row_value = _vertical(rows.weight0[:, None], rows.weight1[:, None], fill_shifted, fill_shifted)
    # (out, 1, 3) -> (out, out, 3): nearest-neighbour widening is a plain copy, and faster than numpy's
    # broadcast assignment over a trailing axis of 3
    out = cv2.resize(
        row_value.astype(np.uint8)[:, None, :], (out_size, out_size), interpolation=cv2.INTER_NEAREST
    )
    if np.any(cols.weight0 + cols.weight1 != COEF_SCALE):  # padding columns are not exactly 2048 x fill
        core_rows = core_cols = slice(0, out_size)
    else:
        core_rows = _span(_taps_within(rows, y0, height, both=False))
        core_cols = _span(_taps_within(cols, x0, width, both=False))
    if core_rows.stop == core_rows.start or core_cols.stop == core_cols.start:
        return out
    inner_rows = _span(_taps_within(rows, y0, height, both=True))
    inner_cols = _span(_taps_within(cols, x0, width, both=True))
    view = padded.view(x0, y0, size) if padded is not None else None
    if view is None or inner_rows.stop == inner_rows.start or inner_cols.stop == inner_cols.start:
        out[core_rows, core_cols] = _resize_block(image, x0, y0, rows, cols, core_rows, core_cols, fill)
        return out
    resized = cv2.resize(view, (out_size, out_size), interpolation=cv2.INTER_LINEAR)
    out[inner_rows, inner_cols] = resized[inner_rows, inner_cols]
    bands = [  # core minus inner: rows above/below the inner rows, then columns left/right of them
        (slice(core_rows.start, inner_rows.start), core_cols),
        (slice(inner_rows.stop, core_rows.stop), core_cols),
        (inner_rows, slice(core_cols.start, inner_cols.start)),
        (inner_rows, slice(inner_cols.stop, core_cols.stop)),
    ]
    for band_rows, band_cols in bands:
        if band_rows.stop > band_rows.start and band_cols.stop > band_cols.start:
            out[band_rows, band_cols] = _resize_block(image, x0, y0, rows, cols, band_rows, band_cols, fill)
    return out


# cv2.warpAffine INTER_LINEAR: positions in 1/32 pixel, from the inverted matrix in 10-bit fixed point
_AB_BITS = 10
_AB_SCALE = 1 << _AB_BITS
_INTER_BITS = 5
_ROUND_DELTA = _AB_SCALE >> _INTER_BITS >> 1  # 16: round to the nearest 1/32
_WARP_BLOCK = 64  # warpAffine works in blocks of about BLOCK_SZ * BLOCK_SZ / 2 pixels


def _inverse_scale_shift(scale_x: float, shift_x: float, scale_y: float, shift_y: float) -> tuple[float, ...]:
    """warpAffine's own inversion of [[sx, 0, tx], [0, sy, ty]], operation by operation (double)."""
    det = scale_x * scale_y - 0.0 * 0.0
    det = 1.0 / det if det != 0 else 0.0
    inv_x, inv_y = scale_y * det, scale_x * det
    minus_zero = -0.0 * det
    return inv_x, -inv_x * shift_x - minus_zero * shift_y, inv_y, -minus_zero * shift_x - inv_y * shift_y


def warp_scale_region(
    source: np.ndarray,
    scale_x: float,
    shift_x: float,
    scale_y: float,
    shift_y: float,
    out_hw: tuple[int, int],
    border_value: float,
) -> tuple[int, int, np.ndarray]:
    """``cv2.warpAffine(source, [[sx, 0, tx], [0, sy, ty]], (W, H), INTER_LINEAR, BORDER_CONSTANT)`` on a
    float32 ``source``, returned as (x0, y0, region): the output equals ``border_value`` outside rows
    y0 : y0 + region.shape[0], columns x0 : x0 + region.shape[1] (no tap there reaches the source with a
    non-zero weight).

    warpAffine samples at X(x) = (round(tx' * 1024) + 16 + round(sx' * x * 1024)) >> 5 and
    Y(y) = (round((sy' * y + ty') * 1024) + 16) >> 5 (1/32 pixel; ' = its inverted matrix) and hands them to
    remap in blocks of ``bw`` columns; the region is remapped with the same positions in pieces that end
    where those blocks end, because remap's vectorised and scalar loops round in different places (1 ulp).
    """
    height, width = out_hw
    src_h, src_w = source.shape[:2]
    inv_x, off_x, inv_y, off_y = _inverse_scale_shift(scale_x, shift_x, scale_y, shift_y)
    columns = np.arange(width, dtype=np.float64)
    pos_x = np.rint(inv_x * columns * _AB_SCALE).astype(np.int64) + (
        int(np.rint(off_x * _AB_SCALE)) + _ROUND_DELTA
    )
    pos_x >>= _AB_BITS - _INTER_BITS
    pos_y = np.rint((inv_y * np.arange(height, dtype=np.float64) + off_y) * _AB_SCALE).astype(np.int64)
    pos_y = (pos_y + _ROUND_DELTA) >> (_AB_BITS - _INTER_BITS)
    tap_x, tap_y = pos_x >> _INTER_BITS, pos_y >> _INTER_BITS  # left/top tap; the other is +1
    # a tap reaches the source with a non-zero weight (a left tap at -1 with fraction 0 gives the border)
    cols = np.flatnonzero(((tap_x >= 0) | ((tap_x == -1) & (pos_x & 31 > 0))) & (tap_x <= src_w - 1))
    rows = np.flatnonzero(((tap_y >= 0) | ((tap_y == -1) & (pos_y & 31 > 0))) & (tap_y <= src_h - 1))
    if len(cols) == 0 or len(rows) == 0:
        return 0, 0, np.empty((0, 0), dtype=np.float32)
    x0, x1, y0, y1 = int(cols[0]), int(cols[-1]) + 1, int(rows[0]), int(rows[-1]) + 1
    taps = np.empty((y1 - y0, x1 - x0, 2), dtype=np.int16)
    taps[:, :, 0] = tap_x[x0:x1]
    taps[:, :, 1] = tap_y[y0:y1, None]
    fractions = ((pos_y[y0:y1, None] & 31) << _INTER_BITS) | (pos_x[None, x0:x1] & 31)
    fractions = fractions.astype(np.uint16)
    block_rows = min(_WARP_BLOCK // 2, height)
    block_cols = min(_WARP_BLOCK * _WARP_BLOCK // block_rows, width)
    region = np.empty((y1 - y0, x1 - x0), dtype=np.float32)
    start = x0
    while start < x1:
        stop = min(x1, (start // block_cols + 1) * block_cols)
        piece = slice(start - x0, stop - x0)
        region[:, piece] = cv2.remap(
            source,
            np.ascontiguousarray(taps[:, piece]),
            np.ascontiguousarray(fractions[:, piece]),
            cv2.INTER_LINEAR,
            borderMode=cv2.BORDER_CONSTANT,
            borderValue=border_value,
        )
        start = stop
    return x0, y0, region
