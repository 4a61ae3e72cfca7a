"""One ``vis-run``: every video of a frame folder through detector -> SiamMask tracks -> results.

Each video is independent: :class:`~vis_pipeline.runner.VideoRunner` detects it (or reads the
detection cache) and tracks it, and its results are written atomically to
``<run_dir>/videos/<id>.json`` before the next video starts. A video that fails is recorded in
``failed/`` and the run goes on. At the end the finished videos' results are written as
``results.json`` (by the run store), ``run_summary.json`` is written, and with annotated GT
``metrics.json`` and ``submission.zip`` too.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from siammask.checkpoint import CheckpointError
from siammask.hparams import TrackerConfigError
from vis_pipeline.build import (
    RANDOM_INIT_SEED,
    BuildError,
    association_label,
    build_detector,
    build_lifecycle,
    build_tracker,
    check_run_settings,
    make_cache,
    plain,
    tracker_checkpoint,
)
from vis_pipeline.data import DataError, VideoSource, YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.data.fingerprint import checkpoint_fingerprint, video_fingerprint
from vis_pipeline.data.video import write_videos_json
from vis_pipeline.detect.base import DetectorError
from vis_pipeline.fileio import atomic_write_text
from vis_pipeline.results import write_results_json
from vis_pipeline.runner import VideoOutcome, VideoRunner, one_line_error, summarize
from vis_pipeline.settings import SettingsError
from vis_pipeline.store import RunDirBusy, RunStore, StoreWriteError, config_hash, input_key, writing

# Config keys that do not change results (excluded from the config hash used for resume).
NON_RESULT_KEYS = ("progress", "retry_failed", "shard", "evaluate", "submission", "cache_dir", "threads")
# Errors of building the detector/tracker that are the user's input (GT file, checkpoint, config).
STARTUP_ERRORS = (BuildError, DataError, DetectorError, CheckpointError, TrackerConfigError, OSError)


class RunFailed(RuntimeError):
    """Some videos failed; their errors are in run_summary.json (message lists them)."""


def result_config(cfg: DictConfig) -> dict:
    return {k: v for k, v in plain(cfg).items() if k not in NON_RESULT_KEYS}


def protocol(runner: VideoRunner, cfg: DictConfig) -> dict:
    """What the run measured: the tracker's cascade and stage-2 box, the association preset."""
    from vis_pipeline.cli import CONFIG_DIR

    tracker = runner.tracker
    cascade = str(getattr(tracker, "cascade", cfg.tracker.cascade))
    stage2 = getattr(tracker, "stage2_box", None) if cascade == "two_stage" else None
    return {
        "cascade": cascade,
        "stage2_box": None if stage2 is None else str(stage2),
        "association": association_label(cfg.association, Path(CONFIG_DIR) / "association"),
        # samples through each network call in this process: which cascade really ran
        "forward_counts": dict(getattr(tracker, "forward_counts", {})),
    }


def read_ground_truth(ann: str | None) -> YTVISAnnotations | None:
    """The run's GT, read once (VideoSource, oracle, evaluation and submission all use it).
    Problems of single videos do not stop the run: those videos fail alone."""
    if not ann:
        return None
    try:
        return load_ytvis_annotations(ann, strict=False)
    except DataError as exc:
        raise RunFailed(str(exc)) from None


def list_videos(cfg: DictConfig, gt: YTVISAnnotations | None) -> tuple[list[Any], list[tuple[int, str, str]]]:
    """(videos of this shard, failures found while validating them as (video_id, name, error)).

    The shard is ``[index::count]`` of all videos sorted by id, bad ones included, so every
    video belongs to exactly one shard.
    """
    index, count = int(cfg.shard.index), int(cfg.shard.count)
    try:
        source = VideoSource(
            cfg.data.frames, gt, int(cfg.data.get("frame_stride", 1)), cfg.data.get("max_frames")
        )
        videos, failures = source.videos_and_failures(shard=(index, count))
    except DataError as exc:
        raise RunFailed(str(exc)) from None
    return videos, [tuple(f) for f in failures]


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict:
    """Process every video of the shard into ``run_dir``; returns the run summary.

    Raises SettingsError (before any work) for a setting that cannot work, RunFailed for inputs
    that stop the run, a busy run directory, a file that cannot be written, or videos that failed
    (the others are finished and kept: a rerun resumes).
    """
    check_run_settings(cfg)
    torch.set_num_threads(int(cfg.threads))
    store = RunStore(run_dir, config_hash(result_config(cfg)))
    try:
        with store.lock():
            return _run_locked(cfg, store)
    except RunDirBusy as exc:
        raise RunFailed(str(exc)) from None
    except StoreWriteError as exc:
        raise RunFailed(f"{exc}; finished videos are kept, rerun to resume") from None


def _build_runner(cfg: DictConfig, gt: YTVISAnnotations | None) -> tuple[VideoRunner, str]:
    """The run's VideoRunner and the key of its content inputs (detector key, tracker weights)."""
    try:
        runner = VideoRunner(
            detector=build_detector(cfg.detector, gt),
            tracker=build_tracker(cfg.tracker, cfg.device),
            cache=make_cache(cfg.cache_dir),
            lifecycle=build_lifecycle(cfg.association),
            topk=int(cfg.topk),
            batch_size=int(cfg.detector.get("batch_size", 1)),
            progress=bool(cfg.progress),
            detect_every=int(cfg.get("detect_every", 1)),
        )
        weights = checkpoint_fingerprint(tracker_checkpoint(cfg.tracker))
    except TrackerConfigError as exc:  # a tracker setting (cascade, stage2_box, hp ...)
        raise SettingsError(f"tracker: {' '.join(str(exc).split())}") from None
    except STARTUP_ERRORS as exc:  # bad GT, checkpoint or config: one line, no traceback
        raise RunFailed(" ".join(str(exc).split()) or exc.__class__.__name__) from None
    return runner, input_key(runner.detector.cache_key(), weights or f"random-init-{RANDOM_INIT_SEED}")


def _run_locked(cfg: DictConfig, store: RunStore) -> dict:
    run_dir = store.run_dir
    gt = read_ground_truth(cfg.data.ann)
    for message in (gt.dropped if gt is not None else [])[:5]:
        print(f"vis-run: warning: {message} (annotation left out)", file=sys.stderr)
    videos, listing_failures = list_videos(cfg, gt)
    # retry_failed: compute only the videos recorded as failed; finished ones are still listed
    # (as skipped) so results.json and the summary cover the whole shard.
    retry_ids = store.failed_ids() if cfg.retry_failed else None
    runner, run_key = _build_runner(cfg, gt)
    with writing(run_dir / "videos.json", "the video list"):
        write_videos_json(videos, run_dir / "videos.json")

    outcomes: list[VideoOutcome] = []
    for vid, name, error in listing_failures:
        store.save_failed(vid, name, error)
        outcomes.append(VideoOutcome(vid, name, "failed", error=error))
    for video in tqdm(videos, desc="videos", unit="video", disable=not cfg.progress):
        outcomes.append(_run_video(video, runner, run_key, store, retry_ids))

    results = store.finished_results([o.video_id for o in outcomes])
    summary = summarize(outcomes, store.cfg_hash, protocol(runner, cfg), result_config(cfg))
    summary["shard"] = {"index": int(cfg.shard.index), "count": int(cfg.shard.count)}
    with writing(run_dir / "results.json", "results"):
        write_results_json(results, run_dir / "results.json")
    with writing(run_dir / "run_summary.json", "the run summary"):
        atomic_write_text(run_dir / "run_summary.json", json.dumps(summary, indent=2, sort_keys=True))
    print(
        f"vis-run: {summary['totals']['finished']}/{len(outcomes)} videos, {len(results)} tracks -> {run_dir}"
    )

    if cfg.evaluate and gt is not None and int(cfg.shard.count) == 1:  # a shard would be scored on all GT
        unfinished = {o.video_id: o.name for o in outcomes if o.status in ("failed", "pending")}
        with writing(run_dir / "metrics.json", "metrics"):
            evaluate_into(run_dir, gt, results, unfinished)
    complete = summary["totals"]["finished"] == summary["totals"]["videos"]  # none failed or pending
    if cfg.submission and gt is not None and complete and int(cfg.shard.count) == 1:
        with writing(run_dir / "submission.zip", "the submission"):
            write_submission_into(run_dir, gt, results, int(cfg.topk))
    failed = summary["failures"]
    if failed:
        lines = "; ".join(f"{f['name']} ({f['video_id']}): {f['error']}" for f in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        raise RunFailed(f"{len(failed)} video(s) failed: {lines}{more}; rerun with retry_failed=true")
    return summary


def _run_video(
    video: Any, runner: VideoRunner, run_key: str, store: RunStore, retry_ids: set[int] | None
) -> VideoOutcome:
    """One video: skipped when finished before on the same inputs, else processed and saved."""
    vid, name = video.video_id, video.name
    try:
        fingerprint = video_fingerprint(video)
    except DataError as exc:
        store.save_failed(vid, name, str(exc))
        return VideoOutcome(vid, name, "failed", error=str(exc))
    key = input_key(run_key, fingerprint)
    if store.load_done(vid, key) is not None:
        return VideoOutcome(vid, name, "skipped", frames=video.length)
    if retry_ids is not None and vid not in retry_ids:  # never attempted
        return VideoOutcome(vid, name, "pending", frames=video.length)
    try:
        outcome = runner.process(video, fingerprint)
    except Exception as exc:  # one bad video never kills the run
        error = one_line_error(exc)
        store.save_failed(vid, name, error)
        tqdm.write(f"vis-run: video {vid} ({name}) failed: {error}")
        return VideoOutcome(vid, name, "failed", error=error)
    store.save_done(vid, name, outcome.results, {"frames": outcome.frames}, key)
    return outcome


def evaluate_into(
    run_dir: Path,
    gt: str | Path | YTVISAnnotations,
    results: list[dict],
    left_out: dict[int, str] | None = None,
) -> dict | None:
    """Evaluate against annotated GT and write ``metrics.json``; GT without annotations is skipped.

    ``left_out``: {video_id: name} of videos that did not finish (failed, or broken in the GT):
    they are scored by neither side, and ``metrics.json`` lists them under ``left_out_videos``.
    """
    from vis_pipeline.eval import evaluate_ytvis, format_metrics_table

    annotations = load_ytvis_annotations(gt)
    left_out = dict(left_out or {})
    left_out.update({vid: annotations.names.get(vid, f"video{vid}") for vid in annotations.problems})
    annotations = annotations.without_videos(set(left_out))
    if not annotations.tracks:
        return None
    kept = [r for r in results if r["video_id"] in annotations.videos]
    metrics = evaluate_ytvis(annotations, kept)
    metrics["scored_videos"] = len(annotations.videos)
    metrics["left_out_videos"] = [{"video_id": vid, "name": left_out[vid]} for vid in sorted(left_out)]
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    print(format_metrics_table(metrics))
    if left_out:
        names = ", ".join(f"{left_out[v]} ({v})" for v in sorted(left_out)[:5])
        more = f" (+{len(left_out) - 5} more)" if len(left_out) > 5 else ""
        print(
            f"vis-run: metrics over {len(annotations.videos)} videos; left out (not finished): {names}{more}"
        )
    return metrics


def write_submission_into(
    run_dir: Path, gt: str | Path | YTVISAnnotations, results: list[dict], topk: int
) -> None:
    """``submission.zip`` (results.json at its root) if the results pass the server's checks."""
    from vis_pipeline.eval.submission import submission_problems, write_submission

    problems, warnings = submission_problems(results, gt, topk)
    for warning in warnings[:5]:
        print(f"vis-run: warning: {warning}", file=sys.stderr)
    if problems:
        print(f"vis-run: no submission.zip, {len(problems)} problem(s), first: {problems[0]}")
        return
    zip_path = write_submission(results, run_dir / "submission.zip")
    print(f"vis-run: wrote {zip_path} ({zip_path.stat().st_size / 1024:.1f} KiB)")
