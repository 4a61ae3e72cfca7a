"""Per-video result files of a run directory: atomic writes, resume and failure records.

Layout of a run directory::

    videos/<video_id>.json   one finished video: {"video_id", "name", "config_hash", "input_key",
                             "results", "stats"}
    failed/<video_id>.json   one failed video:  {"video_id", "name", "config_hash", "error"}
    results.json             merged YouTube-VIS results of every finished video
    run_summary.json         timings, tracks, failures, config hash
    .vis-run.lock            held (flock) while a vis-run works in the directory

A video file is written with temp file + ``os.replace`` as soon as the video finishes, so a
run killed at any point (even SIGKILL) leaves only whole files. A rerun skips a video only when
its record has the same config hash AND the same ``input_key``: a hash of what the results
depend on beyond the config (the video's content fingerprint, the detector's cache key, the
tracker weights' bytes), so a regenerated dataset or overwritten weights are never resumed.
Write failures raise :class:`StoreWriteError` naming the file (finished videos stay on disk).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vis_pipeline.fileio import atomic_write_text, dump_json
from vis_pipeline.results import merge_results


def config_hash(cfg: dict) -> str:
    """Short stable hash of the parts of a run config that change results."""
    return hashlib.sha256(dump_json(cfg).encode()).hexdigest()[:16]


class StoreWriteError(OSError):
    """A run-directory file that could not be written (one line naming it)."""


class RunDirBusy(RuntimeError):
    """Another vis-run holds the run directory's lock."""


def input_key(*parts: str | None) -> str:
    """Short hash of the inputs a video's results depend on beyond the config."""
    return hashlib.sha256("\0".join(str(p) for p in parts).encode()).hexdigest()[:16]


@contextmanager
def writing(path: Path, what: str) -> Iterator[None]:
    """Turn an OSError while writing ``path`` into a one-line :class:`StoreWriteError`."""
    try:
        yield
    except OSError as exc:
        if isinstance(exc, StoreWriteError):
            raise
        raise StoreWriteError(f"{path}: cannot write {what} ({exc.strerror or exc})") from None


class RunStore:
    """Reads and writes the per-video files of one run directory."""

    def __init__(self, run_dir: Path, cfg_hash: str) -> None:
        self.run_dir = Path(run_dir)
        self.cfg_hash = cfg_hash
        self.videos_dir = self.run_dir / "videos"
        self.failed_dir = self.run_dir / "failed"

    def _video_path(self, video_id: int) -> Path:
        return self.videos_dir / f"{video_id}.json"

    def _failed_path(self, video_id: int) -> Path:
        return self.failed_dir / f"{video_id}.json"

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the run directory for one vis-run: a second one exits at once (RunDirBusy). The kernel
        releases the lock when the process ends, even by SIGKILL, so a stale lock never blocks."""
        path = self.run_dir / ".vis-run.lock"
        with writing(path, "the run lock"):
            self.run_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                raise RunDirBusy(f"{self.run_dir}: in use by another vis-run (pid {holder})") from None
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            yield
        finally:
            os.close(fd)

    def load_done(self, video_id: int, key: str | None = None) -> dict | None:
        """The finished record of a video if it exists, is whole and has this run's config hash
        (and, with ``key``, this ``input_key``)."""
        path = self._video_path(video_id)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("config_hash") != self.cfg_hash:
            return None
        if key is not None and record.get("input_key") != key:
            return None
        return record

    def save_done(
        self, video_id: int, name: str, results: list[dict], stats: dict, key: str | None = None
    ) -> dict:
        record = {
            "video_id": video_id,
            "name": name,
            "config_hash": self.cfg_hash,
            "input_key": key,
            "results": results,
            "stats": stats,
        }
        path = self._video_path(video_id)
        with writing(path, "the video's results"):
            atomic_write_text(path, dump_json(record))
            self._failed_path(video_id).unlink(missing_ok=True)
        return record

    def save_failed(self, video_id: int, name: str, error: str) -> dict:
        record = {"video_id": video_id, "name": name, "config_hash": self.cfg_hash, "error": error}
        path = self._failed_path(video_id)
        with writing(path, "the failure record"):
            atomic_write_text(path, dump_json(record))
        return record

    def finished_results(self, video_ids: list[int]) -> list[dict]:
        """The results of every finished video among ``video_ids``, in results order (by video id,
        then score): what ``vis-run`` and ``vis-merge`` write as ``results.json``."""
        records = (self.load_done(vid) for vid in video_ids)
        return merge_results([r["results"] for r in records if r is not None])

    def failed_ids(self) -> set[int]:
        """Ids of videos recorded as failed under this config hash."""
        ids = set()
        for path in sorted(self.failed_dir.glob("*.json")):
            try:
                record = json.loads(path.read_text())
            except (OSError, ValueError):
                continue
            if record.get("config_hash") == self.cfg_hash:
                ids.add(int(record["video_id"]))
        return ids
