"""One video through the pipeline: detect (or read the detection cache), track, results.

:class:`VideoRunner` holds the parts built once per run (detector, SiamMask tracker, cache,
association config) and turns one video into a :class:`VideoOutcome`; :func:`summarize` turns
the outcomes of a run into ``run_summary.json``. The run itself (resume, failures, files) is
``vis_pipeline.pipeline``.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from vis_pipeline.data.fingerprint import video_fingerprint
from vis_pipeline.detect.base import Detector
from vis_pipeline.detect.cache import DetectionCache, detect_video
from vis_pipeline.track.association import AssociationConfig
from vis_pipeline.track.mot import MultiObjectTracker, SingleObjectTracker


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


@dataclass
class VideoRunner:
    """Detector -> SiamMask tracks -> result entries, one video at a time.

    ``detect_every=k``: the detector runs on frames 0, k, 2k, ...; on the frames between, the live
    tracks coast on SiamMask alone (no births or deaths there; ``max_lost`` counts detector frames).

    ``video`` is a ``vis_pipeline.data.Video`` (id, name, size, length, ``iter_frames()``).
    """

    detector: Detector
    tracker: SingleObjectTracker
    cache: DetectionCache | None
    lifecycle: AssociationConfig
    topk: int = 10
    batch_size: int = 1
    progress: bool = False
    detect_every: int = 1

    def process(self, video: Any, fingerprint: str | None = None) -> VideoOutcome:
        """``fingerprint``: the video's content fingerprint (computed here when not given)."""
        if fingerprint is None:
            fingerprint = video_fingerprint(video)
        t0 = time.perf_counter()
        detections, from_cache = detect_video(
            self.detector,
            video,
            self.cache,
            batch_size=self.batch_size,
            progress=self.progress,
            fingerprint=fingerprint,
            detect_every=self.detect_every,
        )
        t1 = time.perf_counter()
        mot = MultiObjectTracker(self.tracker, self.lifecycle)
        frames = tqdm(
            video.iter_frames(), total=video.length, desc=f"track  {video.name}", unit="frame",
            disable=not self.progress, leave=False,
        )  # fmt: skip
        for frame_idx, frame in enumerate(frames):
            frame_dets = detections[frame_idx]
            if frame_dets is None:  # detect_every: a frame the detector skips by design
                mot.coast(frame_idx, frame)
            else:
                mot.step(frame_idx, frame, frame_dets)
        mot.finish()
        t2 = time.perf_counter()
        results = mot.results(video.video_id, video.length, self.topk)
        return VideoOutcome(
            video_id=video.video_id,
            name=video.name,
            status="done",
            frames=video.length,
            tracks=len(results),
            detect_s=t1 - t0,
            track_s=t2 - t1,
            detector_frames=0 if from_cache else sum(d is not None for d in detections),
            results=results,
        )


def summarize(outcomes: list[VideoOutcome], cfg_hash: str, protocol: dict, config: dict) -> dict:
    """The ``run_summary.json`` content: per-video timings and tracks, failures, totals.

    ``protocol``: what ran, read off the parts that ran (not the config's wish): ``cascade`` and
    ``stage2_box`` of the tracker, the ``association`` preset (see ``build.association_label``).
    """
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
        "cascade": protocol["cascade"],
        "protocol": protocol,
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
