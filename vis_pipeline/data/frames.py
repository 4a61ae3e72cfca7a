"""Reading single frames and ordering frame / video names.

``read_frame`` always returns a BGR uint8 (H, W, 3) array, whatever the file stores:

- grayscale -> the gray value copied to the 3 channels;
- RGBA / gray+alpha -> the colour channels, alpha dropped (no compositing on a background);
- 16-bit -> 8-bit by the fixed full-range linear map ``round(v * 255 / 65535)`` (no per-image
  stretching, so brightness stays comparable between the frames of a video).

Any file that is missing, empty, truncated or not a decodable JPEG/PNG raises :class:`DataError`
naming the path.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from vis_pipeline.data.errors import DataError

IMAGE_SUFFIXES: frozenset[str] = frozenset({".jpg", ".jpeg", ".png"})
_JPEG_START, _JPEG_END = b"\xff\xd8", b"\xff\xd9"
_DIGITS = re.compile(r"(\d+)")


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders embedded numbers by value: ``2.jpg`` < ``10.jpg``, ``v2`` < ``v10``.

    Case-insensitive; the name itself breaks ties (``a01`` vs ``a1``) so the order is total.
    ``re.split`` with a capture group alternates text / digits, so positions always compare
    str with str and int with int.
    """
    parts = _DIGITS.split(name)
    return (tuple(int(p) if i % 2 else p.lower() for i, p in enumerate(parts)), name)


def is_image_file(path: Path) -> bool:
    """A regular file with a .jpg/.jpeg/.png suffix (any case)."""
    return path.suffix.lower() in IMAGE_SUFFIXES and path.is_file()


def read_frame(path: str | Path) -> np.ndarray:
    """Read a JPEG/PNG frame as BGR uint8 of shape (H, W, 3) (conversions: module docstring)."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: frame file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read frame ({exc.strerror or exc})") from None
    if not data:
        raise DataError(f"{path}: frame file is empty (0 bytes)")
    if data.startswith(_JPEG_START) and _JPEG_END not in data[-4096:]:
        # libjpeg would decode a truncated file into a partly grey image with only a warning
        raise DataError(f"{path}: truncated JPEG (no end-of-image marker)")
    image = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if image is None or image.size == 0:
        raise DataError(f"{path}: not a readable JPEG/PNG image (corrupt or unsupported format)")
    return to_bgr_uint8(image, path)


def to_bgr_uint8(image: np.ndarray, path: str | Path = "<array>") -> np.ndarray:
    """Convert a decoded image (H, W), (H, W, 1|2|3|4) of uint8/uint16 to BGR uint8 (H, W, 3)."""
    if image.dtype == np.uint16:
        image = np.round(image.astype(np.float32) * np.float32(255.0 / 65535.0)).astype(np.uint8)
    elif image.dtype != np.uint8:
        raise DataError(f"{path}: unsupported pixel type {image.dtype} (expected 8- or 16-bit)")
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    channels = image.shape[2]
    if channels == 1:
        return cv2.cvtColor(image[:, :, 0], cv2.COLOR_GRAY2BGR)
    if channels == 2:  # gray + alpha
        return cv2.cvtColor(np.ascontiguousarray(image[:, :, 0]), cv2.COLOR_GRAY2BGR)
    if channels == 3:
        return np.ascontiguousarray(image)
    if channels == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    raise DataError(f"{path}: unsupported image with {channels} channels")


def load_json(path: str | Path, what: str = "JSON") -> Any:
    """Parse a JSON file; missing/unreadable/malformed -> DataError with the file and error position."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise DataError(f"{path}: {what} file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read {what} file ({exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DataError(
            f"{path}: malformed {what} at line {exc.lineno} column {exc.colno} (char {exc.pos}): {exc.msg}"
        ) from None
