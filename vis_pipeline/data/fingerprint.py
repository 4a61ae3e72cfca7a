"""What a video *is*, as a short hash: the key that detection cache and resume depend on.

Names and paths say nothing about content (``vis-synth`` names every video ``synth0000k``; a
dataset regenerated in place keeps its paths), so everything computed from a video is keyed by
:func:`video_fingerprint`: BLAKE2b over the video's frame size, its ordered ``file_names`` (which
encode ``frame_stride``/``max_frames`` for video files) and every byte of every source file (the
frame images, or the video file), with each file's name and size.

Cost: hashing reads every byte once. Measured here (2 busy cores, warm page cache): 500 frames of
180 KB (a 1280x720 JPEG video, 90 MB) take 0.51 s (median of 5), ~1 ms per frame, far below what
detecting or tracking a frame costs.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from vis_pipeline.data.errors import DataError

_CHUNK = 1 << 20


def file_digest(path: Path, digest: Any) -> None:
    """Feed ``path``'s name, size and bytes into ``digest``; DataError naming the file if unreadable."""
    try:
        with open(path, "rb") as f:
            size = 0
            for chunk in iter(lambda: f.read(_CHUNK), b""):
                digest.update(chunk)
                size += len(chunk)
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    digest.update(f"\0{Path(path).name}\0{size}\0".encode())


def video_fingerprint(video: Any) -> str:
    """32 hex characters identifying the frames of ``video`` (a ``Video`` or ``VideoFile``)."""
    digest = hashlib.blake2b(digest_size=16)
    header = {"size": [int(video.height), int(video.width)], "file_names": list(video.file_names)}
    digest.update(json.dumps(header, sort_keys=True).encode())
    for path in video.source_files:
        file_digest(Path(path), digest)
    return digest.hexdigest()


def checkpoint_fingerprint(path: str | Path | None) -> str | None:
    """Hash of a weights file's bytes (None for no file): a file overwritten in place changes it."""
    if path is None:
        return None
    digest = hashlib.blake2b(digest_size=16)
    file_digest(Path(path), digest)
    return digest.hexdigest()
