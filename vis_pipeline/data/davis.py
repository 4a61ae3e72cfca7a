"""DAVIS folders: ``JPEGImages/<res>/<seq>/*.jpg`` frames and ``Annotations/<res>/<seq>/*.png`` labels.

Label PNGs come in two kinds, told apart by the PNG mode:

* palette (mode ``P``, DAVIS 2017): the pixel value is the object id (1, 2, ...), 0 background,
  255 "void" (not scored);
* single-channel without palette (DAVIS 2016): binary, every non-zero pixel is object 1.

Any other kind (RGB, RGBA) is refused with a one-line :class:`DataError`, never guessed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from vis_pipeline.data.errors import DataError
from vis_pipeline.data.frames import natural_key

#: Palette value of pixels DAVIS leaves unscored.
VOID_LABEL = 255


@dataclass(frozen=True)
class DavisSequence:
    """One DAVIS sequence: frame paths and the label PNG of every frame, in frame order."""

    name: str
    frame_paths: tuple[Path, ...]
    label_paths: tuple[Path, ...]


def read_label_map(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a DAVIS label PNG -> ``(labels, void)``: (H, W) uint8 object ids (0 = background) and the
    (H, W) bool void mask (palette value 255; always empty for binary PNGs)."""
    path = Path(path)
    try:
        with Image.open(path) as image:
            image.load()
            mode = image.mode
            array = np.asarray(image)
    except FileNotFoundError:
        raise DataError(f"{path}: label PNG not found") from None
    except (UnidentifiedImageError, OSError) as exc:
        raise DataError(f"{path}: not a readable PNG ({exc})") from None
    if mode == "P":
        labels = array.astype(np.uint8)
        void = labels == VOID_LABEL
        return np.where(void, 0, labels).astype(np.uint8), void
    if mode in ("1", "L", "I;16", "I"):
        return (array > 0).astype(np.uint8), np.zeros(array.shape, dtype=bool)
    raise DataError(f"{path}: label PNG of mode {mode}; expected a palette (P) or single-channel binary PNG")


def _images(folder: Path, suffixes: tuple[str, ...]) -> list[Path]:
    files = [p for p in folder.iterdir() if p.suffix.lower() in suffixes and p.is_file()]
    return sorted(files, key=lambda p: natural_key(p.name))


def list_davis_sequences(
    root: str | Path, resolution: str = "480p", names: list[str] | None = None
) -> list[DavisSequence]:
    """The sequences of a DAVIS folder that have both frames and one label PNG per frame.

    ``names`` keeps only those sequences (each must exist). A sequence whose frame and label counts
    differ raises :class:`DataError` naming it (DAVIS test sets annotate only the first frame: they
    cannot be scored).
    """
    root = Path(root)
    frames_root, labels_root = root / "JPEGImages" / resolution, root / "Annotations" / resolution
    for folder in (frames_root, labels_root):
        if not folder.is_dir():
            raise DataError(f"{folder}: DAVIS folder not found (expected JPEGImages/ and Annotations/)")
    available = sorted(p.name for p in frames_root.iterdir() if p.is_dir())
    if names is not None:
        missing = sorted(set(names) - set(available))
        if missing:
            raise DataError(f"{frames_root}: no sequence folder {', '.join(missing)}")
        available = [n for n in available if n in set(names)]
    sequences = []
    for name in available:
        frames = _images(frames_root / name, (".jpg", ".jpeg", ".png"))
        labels = _images(labels_root / name, (".png",)) if (labels_root / name).is_dir() else []
        if names is None and not labels:
            continue  # frames without annotations: not part of the evaluated set
        if len(labels) != len(frames) or not frames:
            raise DataError(
                f"{labels_root / name}: {len(labels)} label PNGs for {len(frames)} frames "
                "(need one per frame)"
            )
        sequences.append(DavisSequence(name, tuple(frames), tuple(labels)))
    if not sequences:
        raise DataError(f"{root}: no DAVIS sequence with frames and per-frame annotations")
    return sequences
