"""One ``vis-run``: every video of a frame folder through detector -> SiamMask tracks -> results.

Each video is independent: it is detected (or read from the detection cache), tracked,
and its results are written atomically to ``<run_dir>/videos/<id>.json`` before the next
video starts. A video that fails is recorded in ``failed/`` and the run goes on. At the end
the finished videos are merged into ``results.json``, ``run_summary.json`` is written, and
with annotated GT ``metrics.json`` too.
"""

from __future__ import annotations

import json
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vis_pipeline.detect.cache import DetectionCache, detect_video
from vis_pipeline.store import RunStore, atomic_write_text, dump_json
from vis_pipeline.track.lifecycle import LifecycleConfig
from vis_pipeline.track.mot import MultiObjectTracker


@dataclass
class VideoOutcome:
    video_id: int
    name: str
    status: str  # done | skipped (finished earlier) | failed | pending (retry_failed: not attempted)
    frames: int = 0
    tracks: int = 0
    detect_s: float = 0.0
    track_s: float = 0.0
    detector_frames: int = 0  # frames that went through the detector (0 when cached)
    error: str | None = None
    results: list[dict] = field(default_factory=list, repr=False)


def one_line_error(exc: BaseException) -> str:
    """``Type: message`` on one line, with the innermost frame of our code for context."""
    msg = " ".join(str(exc).split()) or exc.__class__.__name__
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "vis_pipeline" in f.filename]
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    return f"{exc.__class__.__name__}: {msg}{where}"


def process_video(
    video: Any,
    detector: Any,
    cache: DetectionCache | None,
    tracker: Any,
    lifecycle: LifecycleConfig,
    topk: int,
    batch_size: int,
    progress: bool,
) -> VideoOutcome:
    """Detect (or load cached detections), track, and return the video's result entries."""
    key = detector.cache_key()
    cached = cache is not None and cache.load(video, key) is not None
    t0 = time.perf_counter()
    detections = detect_video(detector, video, cache, batch_size=batch_size, progress=progress)
    t1 = time.perf_counter()
    mot = MultiObjectTracker(tracker, lifecycle)
    frames = tqdm(video.iter_frames(), total=video.length, desc=f"track  {video.name}", unit="frame",
                  disable=not progress, leave=False)  # fmt: skip
    for frame_idx, frame in enumerate(frames):
        mot.step(frame_idx, frame, detections[frame_idx])
    mot.finish()
    t2 = time.perf_counter()
    results = mot.results(video.video_id, video.length, topk)
    return VideoOutcome(
        video_id=video.video_id,
        name=video.name,
        status="done",
        frames=video.length,
        tracks=len(results),
        detect_s=t1 - t0,
        track_s=t2 - t1,
        detector_frames=0 if cached else video.length,
        results=results,
    )


def summarize(outcomes: list[VideoOutcome], cfg_hash: str, cascade: str, config: dict) -> dict:
    """The ``run_summary.json`` content: per-video timings and tracks, failures, totals."""
    done = [o for o in outcomes if o.status in ("done", "skipped")]
    computed = [o for o in outcomes if o.status == "done"]
    frames = sum(o.frames for o in computed)
    track_s = sum(o.track_s for o in computed)
    detect_s = sum(o.detect_s for o in computed)
    per_video = [
        {k: v for k, v in vars(o).items() if k != "results"}
        for o in sorted(outcomes, key=lambda o: o.video_id)
    ]
    return {
        "config_hash": cfg_hash,
        "cascade": cascade,
        "config": config,
        "videos": per_video,
        "failures": [{"video_id": o.video_id, "name": o.name, "error": o.error} for o in outcomes if o.error],
        "totals": {
            "videos": len(outcomes),
            "finished": len(done),
            "failed": sum(o.status == "failed" for o in outcomes),
            "computed_frames": frames,
            "detector_frames": sum(o.detector_frames for o in computed),
            "detect_s": round(detect_s, 3),
            "track_s": round(track_s, 3),
            "track_ms_per_frame": round(1000 * track_s / frames, 2) if frames else None,
            "total_ms_per_frame": round(1000 * (track_s + detect_s) / frames, 2) if frames else None,
        },
    }


def merged_results(store: RunStore, video_ids: list[int]) -> list[dict]:
    """All finished videos' results in video id order (within a video: by score, as written)."""
    merged: list[dict] = []
    for vid in sorted(video_ids):
        record = store.load_done(vid)
        if record is not None:
            merged.extend(record["results"])
    return merged


def write_outputs(run_dir: Path, results: list[dict], summary: dict) -> None:
    atomic_write_text(run_dir / "results.json", dump_json(results))
    atomic_write_text(run_dir / "run_summary.json", json.dumps(summary, indent=2, sort_keys=True))
