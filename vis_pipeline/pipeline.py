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
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig
from tqdm import tqdm

from siammask.checkpoint import CheckpointError
from siammask.hparams import TrackerConfigError
from vis_pipeline.build import BuildError, build_detector, build_lifecycle, build_tracker, make_cache, plain
from vis_pipeline.data import DataError, VideoSource, YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.detect.base import DetectorError
from vis_pipeline.fileio import atomic_write_text
from vis_pipeline.results import write_results_json
from vis_pipeline.runner import VideoOutcome, VideoRunner, one_line_error, summarize
from vis_pipeline.store import RunStore, config_hash

# Config keys that do not change results (excluded from the config hash used for resume).
NON_RESULT_KEYS = ("progress", "retry_failed", "shard", "evaluate", "submission", "cache_dir", "threads")
# Errors of building the detector/tracker that are the user's input (GT file, checkpoint, config).
STARTUP_ERRORS = (BuildError, DataError, DetectorError, CheckpointError, TrackerConfigError, OSError)


class RunFailed(RuntimeError):
    """Some videos failed; their errors are in run_summary.json (message lists them)."""


def result_config(cfg: DictConfig) -> dict:
    return {k: v for k, v in plain(cfg).items() if k not in NON_RESULT_KEYS}


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
        source = VideoSource(cfg.data.frames, gt)
        videos, failures = source.videos_and_failures(shard=(index, count))
    except DataError as exc:
        raise RunFailed(str(exc)) from None
    return videos, [tuple(f) for f in failures]


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict:
    """Process every video of the shard into ``run_dir``; returns the run summary."""
    torch.set_num_threads(int(cfg.threads))
    cfg_dict = result_config(cfg)
    store = RunStore(run_dir, config_hash(cfg_dict))
    gt = read_ground_truth(cfg.data.ann)
    videos, listing_failures = list_videos(cfg, gt)
    # retry_failed: compute only the videos recorded as failed; finished ones are still listed
    # (as skipped) so results.json and the summary cover the whole shard.
    retry_ids = store.failed_ids() if cfg.retry_failed else None

    try:
        runner = VideoRunner(
            detector=build_detector(cfg.detector, gt),
            tracker=build_tracker(cfg.tracker, cfg.device),
            cache=make_cache(cfg.cache_dir),
            lifecycle=build_lifecycle(cfg.association),
            topk=int(cfg.topk),
            batch_size=int(cfg.detector.get("batch_size", 1)),
            progress=bool(cfg.progress),
        )
    except STARTUP_ERRORS as exc:  # bad GT, checkpoint or config: one line, no traceback
        raise RunFailed(" ".join(str(exc).split()) or exc.__class__.__name__) from None

    outcomes: list[VideoOutcome] = []
    for vid, name, error in listing_failures:
        store.save_failed(vid, name, error)
        outcomes.append(VideoOutcome(vid, name, "failed", error=error))
    for video in tqdm(videos, desc="videos", unit="video", disable=not cfg.progress):
        if store.load_done(video.video_id) is not None:
            outcomes.append(VideoOutcome(video.video_id, video.name, "skipped", frames=video.length))
            continue
        if retry_ids is not None and video.video_id not in retry_ids:  # never attempted
            outcomes.append(VideoOutcome(video.video_id, video.name, "pending", frames=video.length))
            continue
        try:
            outcome = runner.process(video)
        except Exception as exc:  # one bad video never kills the run
            error = one_line_error(exc)
            store.save_failed(video.video_id, video.name, error)
            outcomes.append(VideoOutcome(video.video_id, video.name, "failed", error=error))
            tqdm.write(f"vis-run: video {video.video_id} ({video.name}) failed: {error}")
            continue
        store.save_done(video.video_id, video.name, outcome.results, {"frames": outcome.frames})
        outcomes.append(outcome)

    results = store.finished_results([o.video_id for o in outcomes])
    summary = summarize(outcomes, store.cfg_hash, str(runner.tracker.cascade), cfg_dict)
    summary["shard"] = {"index": int(cfg.shard.index), "count": int(cfg.shard.count)}
    write_results_json(results, run_dir / "results.json")
    atomic_write_text(run_dir / "run_summary.json", json.dumps(summary, indent=2, sort_keys=True))
    print(
        f"vis-run: {summary['totals']['finished']}/{len(outcomes)} videos, {len(results)} tracks -> {run_dir}"
    )

    if cfg.evaluate and gt is not None and int(cfg.shard.count) == 1:  # a shard would be scored on all GT
        evaluate_into(run_dir, gt, results)
    complete = summary["totals"]["finished"] == summary["totals"]["videos"]  # none failed or pending
    if cfg.submission and gt is not None and complete and int(cfg.shard.count) == 1:
        write_submission_into(run_dir, gt, results, int(cfg.topk))
    failed = summary["failures"]
    if failed:
        lines = "; ".join(f"{f['name']} ({f['video_id']}): {f['error']}" for f in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        raise RunFailed(f"{len(failed)} video(s) failed: {lines}{more}; rerun with retry_failed=true")
    return summary


def evaluate_into(run_dir: Path, gt: str | Path | YTVISAnnotations, results: list[dict]) -> dict | None:
    """Evaluate against annotated GT and write ``metrics.json``; GT without annotations is skipped."""
    from vis_pipeline.eval import evaluate_ytvis, format_metrics_table

    annotations = load_ytvis_annotations(gt)
    if not annotations.tracks:
        return None
    metrics = evaluate_ytvis(annotations, results)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    print(format_metrics_table(metrics))
    return metrics


def write_submission_into(
    run_dir: Path, gt: str | Path | YTVISAnnotations, results: list[dict], topk: int
) -> None:
    """``submission.zip`` (results.json at its root) if the results pass the server's checks."""
    from vis_pipeline.eval.submission import submission_problems, write_submission

    problems = submission_problems(results, gt, topk)
    if problems:
        print(f"vis-run: no submission.zip, {len(problems)} problem(s), first: {problems[0]}")
        return
    zip_path = write_submission(results, run_dir / "submission.zip")
    print(f"vis-run: wrote {zip_path} ({zip_path.stat().st_size / 1024:.1f} KiB)")
