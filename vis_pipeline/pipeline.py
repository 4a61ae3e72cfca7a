"""Build the run's parts from the hydra config and drive the videos (see ``vis_pipeline.run``)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig, OmegaConf
from tqdm import tqdm

from siammask.checkpoint import CheckpointError
from siammask.hparams import TrackerConfigError
from vis_pipeline.data.errors import DataError
from vis_pipeline.detect.base import DetectorError
from vis_pipeline.run import (
    VideoOutcome,
    merged_results,
    one_line_error,
    process_video,
    summarize,
    write_outputs,
)
from vis_pipeline.store import RunStore, atomic_write_text, config_hash
from vis_pipeline.track.lifecycle import LifecycleConfig

# Config keys that do not change results (excluded from the config hash used for resume).
NON_RESULT_KEYS = ("progress", "retry_failed", "shard", "evaluate", "submission", "cache_dir", "threads")
# Seed of the tracker's random init when tracker.checkpoint is null (tests, timing runs).
RANDOM_INIT_SEED = 0
# Errors of building the detector/tracker that are the user's input (GT file, checkpoint, config).
STARTUP_ERRORS = (DataError, DetectorError, CheckpointError, TrackerConfigError, OSError)


class RunFailed(RuntimeError):
    """Some videos failed; their errors are in run_summary.json (message lists them)."""


def result_config(cfg: DictConfig) -> dict:
    plain = OmegaConf.to_container(cfg, resolve=True)
    assert isinstance(plain, dict)
    return {k: v for k, v in plain.items() if k not in NON_RESULT_KEYS}


def build_detector(det_cfg: DictConfig, gt_path: str | None) -> Any:
    """The detector named by ``detector.type``: ``mmdet`` (HTC and friends) or ``oracle``."""
    kind = det_cfg.get("type")
    plain = OmegaConf.to_container(det_cfg, resolve=True)
    if kind == "oracle":
        from vis_pipeline.detect.oracle import OracleDetector

        if not gt_path:
            raise RunFailed("detector=oracle needs data.ann=GT.json with annotations")
        return OracleDetector.from_config(plain, gt_path)
    if kind == "mmdet":
        from vis_pipeline.detect.htc import HTCDetector

        return HTCDetector.from_config(plain)
    raise RunFailed(f"unknown detector.type {kind!r} (mmdet | oracle)")


def build_tracker(tracker_cfg: DictConfig, device: str) -> Any:
    """SiamMask from the tracker preset; ``checkpoint: null`` = random init, seeded.

    The random init is seeded (in a forked RNG) so that every process builds the same weights:
    a resumed run or another shard must not mix results of different weights under one config hash.
    """
    from siammask import SiamMaskTracker

    plain = OmegaConf.to_container(tracker_cfg, resolve=True)
    trusted = bool(plain.pop("trusted", False))
    if plain.get("checkpoint") is not None:
        tracker = SiamMaskTracker.from_preset(plain, device=device, trusted=trusted)
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(RANDOM_INIT_SEED)
            tracker = SiamMaskTracker.from_preset(plain, device=device, trusted=trusted)
    return tracker


def list_videos(cfg: DictConfig) -> tuple[list[Any], list[tuple[int, str, str]]]:
    """(videos of this shard, failures found while validating them as (video_id, name, error)).

    The shard is ``[index::count]`` of all videos sorted by id, bad ones included, so every
    video belongs to exactly one shard.
    """
    from vis_pipeline.data import DataError, VideoSource

    index, count = int(cfg.shard.index), int(cfg.shard.count)
    try:
        source = VideoSource(cfg.data.frames, cfg.data.ann)
        videos, failures = source.videos_and_failures(shard=(index, count))
    except DataError as exc:
        raise RunFailed(str(exc)) from None
    return videos, [tuple(f) for f in failures]


def run_pipeline(cfg: DictConfig, run_dir: Path) -> dict:
    """Process every video of the shard into ``run_dir``; returns the run summary."""
    torch.set_num_threads(int(cfg.threads))
    cfg_dict = result_config(cfg)
    store = RunStore(run_dir, config_hash(cfg_dict))
    videos, listing_failures = list_videos(cfg)
    # retry_failed: compute only the videos recorded as failed; finished ones are still listed
    # (as skipped) so results.json and the summary cover the whole shard.
    retry_ids = store.failed_ids() if cfg.retry_failed else None

    try:
        detector = build_detector(cfg.detector, cfg.data.ann)
        tracker = build_tracker(cfg.tracker, cfg.device)
    except STARTUP_ERRORS as exc:  # bad GT, checkpoint or config: one line, no traceback
        raise RunFailed(" ".join(str(exc).split()) or exc.__class__.__name__) from None
    cache = make_cache(cfg.cache_dir)
    lifecycle = LifecycleConfig(**OmegaConf.to_container(cfg.association, resolve=True))

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
            outcome = process_video(
                video, detector, cache, tracker, lifecycle, int(cfg.topk),
                int(cfg.detector.get("batch_size", 1)), bool(cfg.progress),
            )  # fmt: skip
        except Exception as exc:  # one bad video never kills the run
            error = one_line_error(exc)
            store.save_failed(video.video_id, video.name, error)
            outcomes.append(VideoOutcome(video.video_id, video.name, "failed", error=error))
            tqdm.write(f"vis-run: video {video.video_id} ({video.name}) failed: {error}")
            continue
        store.save_done(video.video_id, video.name, outcome.results, {"frames": outcome.frames})
        outcomes.append(outcome)

    all_ids = [o.video_id for o in outcomes]
    results = merged_results(store, all_ids)
    summary = summarize(outcomes, store.cfg_hash, str(cfg.tracker.cascade), cfg_dict)
    summary["shard"] = {"index": int(cfg.shard.index), "count": int(cfg.shard.count)}
    write_outputs(run_dir, results, summary)
    print(
        f"vis-run: {summary['totals']['finished']}/{len(outcomes)} videos, {len(results)} tracks -> {run_dir}"
    )

    if cfg.evaluate and cfg.data.ann and int(cfg.shard.count) == 1:  # a shard would be scored on all GT
        evaluate_into(run_dir, cfg.data.ann, results)
    complete = summary["totals"]["finished"] == summary["totals"]["videos"]  # none failed or pending
    if cfg.submission and cfg.data.ann and complete and int(cfg.shard.count) == 1:
        write_submission_into(run_dir, cfg.data.ann, results, int(cfg.topk))
    failed = summary["failures"]
    if failed:
        lines = "; ".join(f"{f['name']} ({f['video_id']}): {f['error']}" for f in failed[:5])
        more = f" (+{len(failed) - 5} more)" if len(failed) > 5 else ""
        raise RunFailed(f"{len(failed)} video(s) failed: {lines}{more}; rerun with retry_failed=true")
    return summary


def make_cache(cache_dir: str | None) -> Any:
    """The shared detection cache, or None when ``cache_dir`` is empty (always recompute)."""
    from vis_pipeline.detect.cache import DetectionCache

    return DetectionCache(Path(cache_dir).expanduser()) if cache_dir else None


def evaluate_into(run_dir: Path, gt_path: str, results: list[dict]) -> dict | None:
    """Evaluate against annotated GT and write ``metrics.json``; GT without annotations is skipped."""
    from vis_pipeline.eval import evaluate_ytvis, format_metrics_table

    gt = json.loads(Path(gt_path).read_text())
    if not gt.get("annotations"):
        return None
    metrics = evaluate_ytvis(gt, results)
    atomic_write_text(run_dir / "metrics.json", json.dumps(metrics, indent=2, sort_keys=True))
    print(format_metrics_table(metrics))
    return metrics


def write_submission_into(run_dir: Path, gt_path: str, results: list[dict], topk: int) -> None:
    """``submission.zip`` (results.json at its root) if the results pass the server's checks."""
    from vis_pipeline.eval.submission import write_submission
    from vis_pipeline.merge import submission_problems

    problems = submission_problems(results, gt_path, topk)
    if problems:
        print(f"vis-run: no submission.zip, {len(problems)} problem(s), first: {problems[0]}")
        return
    zip_path = write_submission(results, run_dir / "submission.zip")
    print(f"vis-run: wrote {zip_path} ({zip_path.stat().st_size / 1024:.1f} KiB)")
