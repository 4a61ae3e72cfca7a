"""Per-video result files of a run directory: atomic writes, resume and failure records.

Layout of a run directory::

    videos/<video_id>.json   one finished video: {"video_id", "name", "config_hash", "results", "stats"}
    failed/<video_id>.json   one failed video:  {"video_id", "name", "config_hash", "error"}
    results.json             merged YouTube-VIS results of every finished video
    run_summary.json         timings, tracks, failures, config hash

A video file is written with temp file + ``os.replace`` as soon as the video finishes, so a
run killed at any point (even SIGKILL) leaves only whole files, and a rerun with the same
config hash skips them.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from vis_pipeline.fileio import atomic_write_text, dump_json
from vis_pipeline.results import merge_results


def config_hash(cfg: dict) -> str:
    """Short stable hash of the parts of a run config that change results."""
    return hashlib.sha256(dump_json(cfg).encode()).hexdigest()[:16]


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

    def load_done(self, video_id: int) -> dict | None:
        """The finished record of a video if it exists, is whole and has this run's config hash."""
        path = self._video_path(video_id)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        if not isinstance(record, dict) or record.get("config_hash") != self.cfg_hash:
            return None
        return record

    def save_done(self, video_id: int, name: str, results: list[dict], stats: dict) -> dict:
        record = {
            "video_id": video_id,
            "name": name,
            "config_hash": self.cfg_hash,
            "results": results,
            "stats": stats,
        }
        atomic_write_text(self._video_path(video_id), dump_json(record))
        self._failed_path(video_id).unlink(missing_ok=True)
        return record

    def save_failed(self, video_id: int, name: str, error: str) -> dict:
        record = {"video_id": video_id, "name": name, "config_hash": self.cfg_hash, "error": error}
        atomic_write_text(self._failed_path(video_id), dump_json(record))
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
