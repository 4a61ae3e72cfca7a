"""``vis-merge DIR... [--out DIR] [--gt GT_OR_VIDEO_LIST.json]``: merge the shards of a vis-run."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vis_pipeline.eval.submission import submission_problems, write_submission
from vis_pipeline.merge import MergeError, merge_runs
from vis_pipeline.pipeline import evaluate_into


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="vis-merge", description=__doc__)
    parser.add_argument("run_dirs", nargs="+", type=Path, help="run directories of the shards")
    parser.add_argument("--out", type=Path, default=None, help="output dir (default: the shards' parent)")
    parser.add_argument(
        "--gt", type=Path, default=None, help="GT or video list: validate + write submission.zip"
    )
    args = parser.parse_args(argv)
    # `vis-merge SWEEP_DIR/*` also matches hydra's multirun.yaml: plain files are never shards
    run_dirs = [d for d in args.run_dirs if not d.is_file()]
    for skipped in sorted(set(args.run_dirs) - set(run_dirs)):
        print(f"vis-merge: skipping {skipped} (a file, not a run directory)", file=sys.stderr)
    out = args.out or Path(args.run_dirs[0]).parent
    try:
        merged = merge_runs(run_dirs, out)
    except MergeError as exc:
        print(f"vis-merge: {exc}", file=sys.stderr)
        sys.exit(2)
    videos = len({r["video_id"] for r in merged})
    print(
        f"vis-merge: {len(run_dirs)} shard(s), {len(merged)} tracks in {videos} videos "
        f"-> {out / 'results.json'}"
    )
    if args.gt is not None:
        problems, warnings = submission_problems(merged, args.gt)
        for warning in warnings[:5]:
            print(f"vis-merge: warning: {warning}", file=sys.stderr)
        if problems:
            print(
                f"vis-merge: not writing submission.zip, {len(problems)} problem(s): {problems[:3]}",
                file=sys.stderr,
            )
            sys.exit(2)
        zip_path = write_submission(merged, out / "submission.zip")
        print(f"wrote {zip_path} ({zip_path.stat().st_size / 1024:.1f} KiB)")
        evaluate_into(out, str(args.gt), merged)  # metrics.json when the GT has annotations


if __name__ == "__main__":
    main()
