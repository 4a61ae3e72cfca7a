"""Per-video detection cache: run the detector once per video, reuse it for every tracker setting.

Layout: ``<root>/<cache_key>/<video file stem>-<fingerprint>.dets``, one file per video content.
The fingerprint (``vis_pipeline.data.fingerprint.video_fingerprint``) hashes the video's frames
byte for byte, so another dataset with the same video names, a regenerated dataset or one changed
frame never reuses old detections. A file is a one-line JSON header followed by a JSON body (the
detections of every frame: boxes, scores, labels and compressed-RLE masks). The header holds the
format version, the cache key, the video's name, fingerprint, frame count and size, and the
sha256 of the body bytes.

The cache is optional: a cache that cannot be written (unwritable or full disk, a file where a
folder should be) is reported once with its path and the run goes on without it.

The key is the detector's ``cache_key()``: for mmdet detectors a hash of the effective mmdet
config (test scale, thresholds, proposal counts included), the adapter settings and the
checkpoint's *content* sha256 (a renamed or re-downloaded identical file keeps its cache; an
overwritten file gets a new key, whatever its mtime says). Hashing a 300 MB checkpoint costs
about a second once per process.

Writes are atomic (temp file + ``os.replace``). A file that is truncated, not JSON, fails its
checksum, or belongs to another key / frame count / frame size is reported with a warning and
treated as a miss, so the detector runs again and the file is rewritten.

Floats survive the round trip exactly: float32 -> float64 is exact and JSON keeps float64's
shortest repr, so cached detections equal fresh ones bit for bit.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from tqdm import tqdm

from vis_pipeline.detect.base import Detector, VideoRef
from vis_pipeline.store import atomic_write_text
from vis_pipeline.types import Detections

LOG = logging.getLogger(__name__)
FORMAT_VERSION = 2
_SAFE_NAME = re.compile(r"^[A-Za-z0-9._-]{1,100}$")


def _file_stem(video: VideoRef) -> str:
    """A file name for the video: its name when safe, else id + a hash of the name."""
    if _SAFE_NAME.match(video.name) and not video.name.startswith("."):
        return video.name
    return f"video{video.video_id}_{hashlib.sha256(video.name.encode()).hexdigest()[:12]}"


def _header_fields(video: VideoRef, key: str, fingerprint: str) -> dict[str, Any]:
    """What a cache file's header must say for ``video`` under ``key`` (written on save, checked on load)."""
    return {
        "format": FORMAT_VERSION,
        "key": key,
        "video": video.name,
        "fingerprint": fingerprint,
        "num_frames": int(video.length),
        "height": int(video.height),
        "width": int(video.width),
    }


def _frame_to_json(dets: Detections | None) -> dict[str, Any] | None:
    if dets is None:  # a frame the detector skipped by design (detect_every)
        return None
    return {
        "boxes": dets.boxes.astype(np.float64).tolist(),
        "scores": dets.scores.astype(np.float64).tolist(),
        "labels": dets.labels.tolist(),
        "masks": [{"size": list(m["size"]), "counts": m["counts"]} for m in dets.masks],
    }


def _frame_from_json(frame: dict[str, Any] | None) -> Detections | None:
    if frame is None:
        return None
    return Detections(
        np.asarray(frame["boxes"], dtype=np.float32).reshape(-1, 4),
        np.asarray(frame["scores"], dtype=np.float32),
        np.asarray(frame["labels"], dtype=np.int64),
        [
            {"size": [int(m["size"][0]), int(m["size"][1])], "counts": str(m["counts"])}
            for m in frame["masks"]
        ],
    )


class DetectionCache:
    """Detections of whole videos on disk, keyed by detector cache key and video."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.write_failed = False  # set at the first failed write (warned once)

    def path(self, video: VideoRef, key: str, fingerprint: str) -> Path:
        if not re.match(r"^[A-Za-z0-9_-]{1,64}$", key):
            raise ValueError(f"cache key must be 1-64 [A-Za-z0-9_-] characters, got {key!r}")
        if not re.match(r"^[0-9a-f]{8,64}$", fingerprint):
            raise ValueError(f"video fingerprint must be 8-64 hex characters, got {fingerprint!r}")
        return self.root / key / f"{_file_stem(video)}-{fingerprint[:16]}.dets"

    def load(self, video: VideoRef, key: str, fingerprint: str) -> list[Detections | None] | None:
        """The cached detections of ``video`` (content ``fingerprint``) under ``key``, or None
        (missing, corrupt or stale)."""
        path = self.path(video, key, fingerprint)
        try:
            if not path.exists():
                return None
        except OSError:
            return None
        problem, frames = self._read(path, video, key, fingerprint)
        if problem is not None:
            LOG.warning("detection cache: ignoring %s (%s); recomputing", path, problem)
            return None
        return frames

    def _read(
        self, path: Path, video: VideoRef, key: str, fingerprint: str
    ) -> tuple[str | None, list[Detections | None] | None]:
        try:
            data = path.read_bytes()
        except OSError as err:
            return f"unreadable: {err}", None
        header_bytes, sep, body = data.partition(b"\n")
        if not sep:
            return "truncated: no body", None
        try:
            header = json.loads(header_bytes)
        except ValueError as err:
            return f"bad header JSON: {err}", None
        if not isinstance(header, dict):
            return "bad header", None
        expected = _header_fields(video, key, fingerprint)
        for field, value in expected.items():
            if header.get(field) != value:
                return f"stale: {field} is {header.get(field)!r}, expected {value!r}", None
        if hashlib.sha256(body).hexdigest() != header.get("sha256"):
            return "checksum mismatch (truncated or modified)", None
        try:
            frames = [_frame_from_json(f) for f in json.loads(body)]
        except (ValueError, KeyError, TypeError) as err:
            return f"bad body: {err}", None
        if len(frames) != video.length:
            return f"stale: {len(frames)} frames stored, video has {video.length}", None
        for frame in frames:
            for mask in frame.masks if frame is not None else []:
                if list(mask["size"]) != [video.height, video.width]:
                    return f"stale: mask size {mask['size']} != {[video.height, video.width]}", None
        return None, frames

    def save(
        self, video: VideoRef, key: str, fingerprint: str, detections: list[Detections | None]
    ) -> Path | None:
        """Write the detections of every frame of ``video`` atomically; returns the file path, or None
        when the cache cannot be written (warned once per cache, with the path; the run goes on)."""
        if len(detections) != video.length:
            raise ValueError(
                f"detection cache: {len(detections)} frames of detections for video {video.name!r} "
                f"with {video.length} frames"
            )
        body = json.dumps([_frame_to_json(d) for d in detections], separators=(",", ":")).encode()
        header = {**_header_fields(video, key, fingerprint), "sha256": hashlib.sha256(body).hexdigest()}
        path = self.path(video, key, fingerprint)
        try:
            atomic_write_text(path, json.dumps(header, sort_keys=True) + "\n" + body.decode())
        except OSError as exc:
            if not self.write_failed:
                LOG.warning(
                    "detection cache: cannot write %s (%s); going on without caching",
                    path,
                    exc.strerror or exc,
                )
                print(
                    f"vis-run: warning: detection cache not written: {path} ({exc.strerror or exc}); "
                    "the run goes on without it",
                    file=sys.stderr,
                )
            self.write_failed = True
            return None
        return path


def _batches(frames: Iterator[tuple[int, np.ndarray]], size: int) -> Iterator[list[tuple[int, np.ndarray]]]:
    batch: list[tuple[int, np.ndarray]] = []
    for item in frames:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def detection_key(detector: Detector, detect_every: int = 1) -> str:
    """The cache key of a detector run on every ``detect_every``-th frame."""
    key = detector.cache_key()
    return key if detect_every == 1 else f"{key}-every{detect_every}"


def detect_video(
    detector: Detector,
    video: Any,
    cache: DetectionCache | None,
    batch_size: int = 1,
    progress: bool = True,
    fingerprint: str | None = None,
    detect_every: int = 1,
) -> tuple[list[Detections | None], bool]:
    """(detections of every frame of ``video``, whether they came from the cache). From the cache
    when a valid file exists, else by running the detector (and then saving them). With
    ``detect_every=k`` the detector sees frames 0, k, 2k, ... only; the other frames are None.

    ``video`` needs ``video_id``, ``name``, ``width``, ``height``, ``length`` and ``iter_frames()``
    (BGR uint8 frames, streamed; see ``vis_pipeline.data.Video``). Only one batch of frames is in
    memory at a time; the result holds RLE masks only.
    """
    if detect_every < 1:
        raise ValueError(f"detect_every must be >= 1, got {detect_every}")
    key = detection_key(detector, detect_every)
    if cache is not None and fingerprint is None:
        raise ValueError(f"video {video.name!r}: the detection cache needs the video's content fingerprint")
    if cache is not None:
        assert fingerprint is not None
        cached = cache.load(video, key, fingerprint)
        if cached is not None:
            return cached, True
    detections: list[Detections | None] = []
    decoded = 0

    def selected() -> Iterator[tuple[int, np.ndarray]]:
        nonlocal decoded
        for index, frame in enumerate(video.iter_frames()):
            decoded = index + 1
            if index % detect_every == 0:
                yield index, frame

    found: dict[int, Detections] = {}
    with tqdm(total=video.length, desc=f"detect {video.name}", unit="frame", disable=not progress) as bar:
        for batch in _batches(selected(), batch_size):
            indices = [i for i, _ in batch]
            frames_dets = detector.detect([f for _, f in batch], video=video, frame_indices=indices)
            found.update(zip(indices, frames_dets, strict=True))
            bar.update(len(batch))
    if decoded != video.length:
        raise ValueError(f"video {video.name!r}: got {decoded} frames, expected {video.length}")
    detections = [found.get(i) for i in range(video.length)]
    if cache is not None:
        assert fingerprint is not None
        cache.save(video, key, fingerprint, detections)
    return detections, False
