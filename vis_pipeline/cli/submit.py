"""``vis-submit results=RESULTS.json gt=GT_OR_VIDEO_LIST.json out=submission.zip``: validate and zip.

Accepts what the challenge server accepts and warns about what is suspicious (more than ``topk``
tracks in a video, all-null tracks, scores outside ``score_range``); ``strict=true`` rejects those
too. ``results`` may be a submission zip (its ``results.json`` is read). Rejected files exit with
code 2 after printing the number of problems and the first few.
"""

from __future__ import annotations

import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig

from vis_pipeline.eval.submission import (
    load_video_set,
    read_submission,
    submission_problems,
    write_submission,
)
from vis_pipeline.eval.ytvis_io import YTVISFormatError, read_json
from vis_pipeline.results import topk_per_video

CONFIG_DIR = str(Path(__file__).resolve().parents[2] / "configs")


def _reject(message: str) -> None:
    print(f"vis-submit: {message}", file=sys.stderr)
    raise SystemExit(2)


# Absolute path: a console script imports this module as vis_pipeline.cli.*, and hydra would then
# look for a relative config_path as a python package ("pkg://configs"), which does not exist.
@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="submit")
def main(cfg: DictConfig) -> None:
    low, high = (float(v) for v in cfg.score_range)
    topk = int(cfg.topk)
    try:
        if str(cfg.results).lower().endswith(".zip"):
            results, source = read_submission(cfg.results), f"{cfg.results}:results.json"
        else:
            results, source = read_json(cfg.results, "results")
        videos, _ = load_video_set(cfg.gt)
        problems, warnings = submission_problems(
            results, cfg.gt, None if cfg.truncate else topk, str(cfg.dataset), (low, high)
        )
    except (YTVISFormatError, ValueError) as exc:
        _reject(str(exc))
    if cfg.strict:
        problems = problems + warnings
    else:
        for warning in warnings[: int(cfg.max_problems_shown)]:
            print(f"vis-submit: warning: {warning}", file=sys.stderr)
        if len(warnings) > int(cfg.max_problems_shown):
            print(
                f"vis-submit: ... and {len(warnings) - int(cfg.max_problems_shown)} more warnings",
                file=sys.stderr,
            )
    if problems:
        shown = int(cfg.max_problems_shown)
        lines = "\n".join(f"  - {p}" for p in problems[:shown])
        more = f"\n  ... and {len(problems) - shown} more" if len(problems) > shown else ""
        _reject(f"{source}: rejected, {len(problems)} problem(s):\n{lines}{more}")
    if cfg.truncate:
        kept = topk_per_video(results, topk)
        if len(kept) < len(results):
            print(f"truncate=true: kept the top {topk} tracks per video ({len(results) - len(kept)} dropped)")
        results = kept
    out = write_submission(results, Path(cfg.out))
    covered = len({entry["video_id"] for entry in results})
    print(
        f"wrote {out} ({out.stat().st_size / 1024:.1f} KiB, results.json at the zip root): "
        f"{len(results)} tracks in {covered} of {len(videos)} videos"
    )


if __name__ == "__main__":
    main()
