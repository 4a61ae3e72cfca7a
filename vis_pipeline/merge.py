"""Merge the run directories of a sharded ``vis-run`` into one results file (``vis-merge``).

Coverage is checked before anything is written: every shard of ``0..count-1`` present exactly
once, one config hash across shards, every video in exactly one shard, no failed video.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vis_pipeline.fileio import atomic_write_text
from vis_pipeline.results import merge_results, write_results_json
from vis_pipeline.store import RunStore


class MergeError(ValueError):
    """Shards that do not add up to one complete run (one-line message)."""


@dataclass(frozen=True)
class ShardRun:
    run_dir: Path
    index: int
    count: int
    config_hash: str
    video_ids: list[int]
    failed: list[int]


def read_shard(run_dir: Path) -> ShardRun:
    path = Path(run_dir) / "run_summary.json"
    try:
        summary = json.loads(path.read_text())
    except (FileNotFoundError, NotADirectoryError):
        raise MergeError(f"{path}: missing (not a finished vis-run directory)") from None
    except OSError as exc:
        raise MergeError(f"{path}: unreadable ({exc.strerror or exc})") from None
    except ValueError as exc:
        raise MergeError(f"{path}: unreadable JSON ({exc})") from None
    shard = summary.get("shard", {"index": 0, "count": 1})
    videos = summary.get("videos", [])
    return ShardRun(
        run_dir=Path(run_dir),
        index=int(shard["index"]),
        count=int(shard["count"]),
        config_hash=str(summary["config_hash"]),
        video_ids=[int(v["video_id"]) for v in videos],
        failed=[int(v["video_id"]) for v in videos if v.get("status") == "failed"],
    )


def check_coverage(shards: list[ShardRun]) -> None:
    """Raise MergeError unless the shards form exactly one complete, consistent run."""
    if not shards:
        raise MergeError("no run directories given")
    hashes = {s.config_hash for s in shards}
    if len(hashes) != 1:
        raise MergeError(f"shards were run with different configs (config hashes {sorted(hashes)})")
    counts = {s.count for s in shards}
    if len(counts) != 1:
        raise MergeError(f"shards disagree on shard.count: {sorted(counts)}")
    count = counts.pop()
    indices = sorted(s.index for s in shards)
    if indices != list(range(count)):
        missing = sorted(set(range(count)) - set(indices))
        dupes = sorted({i for i in indices if indices.count(i) > 1})
        raise MergeError(f"shard coverage wrong for count={count}: missing {missing}, duplicated {dupes}")
    seen: dict[int, Path] = {}
    for shard in shards:
        for vid in shard.video_ids:
            if vid in seen:
                raise MergeError(f"video {vid} appears in both {seen[vid]} and {shard.run_dir}")
            seen[vid] = shard.run_dir
        if shard.failed:
            raise MergeError(
                f"{shard.run_dir}: {len(shard.failed)} failed video(s) {shard.failed[:5]}; "
                "rerun that shard with retry_failed=true first"
            )


def merge_runs(run_dirs: list[Path], out_dir: Path) -> list[dict]:
    """Check coverage, then write ``out_dir/results.json`` (video id order) and return it."""
    shards = sorted((read_shard(d) for d in run_dirs), key=lambda s: s.index)
    check_coverage(shards)
    per_video: list[list[dict]] = []
    for shard in shards:
        store = RunStore(shard.run_dir, shard.config_hash)
        for vid in sorted(shard.video_ids):
            record = store.load_done(vid)
            if record is None:
                raise MergeError(
                    f"{shard.run_dir}: result file of video {vid} missing or from another config"
                )
            per_video.append(record["results"])
    merged = merge_results(per_video)
    write_results_json(merged, Path(out_dir) / "results.json")
    merge_video_lists([s.run_dir for s in shards], Path(out_dir) / "videos.json")
    return merged


def merge_video_lists(run_dirs: list[Path], out_path: Path) -> None:
    """One ``videos.json`` for the merged run: the shards' video lists, in id order."""
    videos: dict[int, dict] = {}
    for run_dir in run_dirs:
        path = Path(run_dir) / "videos.json"
        if not path.is_file():
            continue
        try:
            entries = json.loads(path.read_text())["videos"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise MergeError(f"{path}: unreadable video list ({exc})") from None
        videos.update({int(v["id"]): v for v in entries})
    if videos:
        atomic_write_text(out_path, json.dumps({"videos": [videos[k] for k in sorted(videos)]}, indent=1))
