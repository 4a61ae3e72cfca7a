"""AP vs speed of ``detect_every=k``: the detector on every k-th frame, SiamMask alone in between.

    .venv/bin/python scripts/bench_detect_every.py --data DIR [--k 1 2 5] [--threads 1] [-- OVERRIDES...]

DIR is a synthetic set (``vis-synth out=DIR seed=S videos=20``). Every k runs without the detection
cache (so the detector time is real), with the same tracker and association; the table gives the
metrics and frames per second of the whole pipeline (detector + tracking, from run_summary.json).
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import sys
import tempfile
from pathlib import Path

from vis_pipeline.cli.run import compose_run_cfg
from vis_pipeline.pipeline import run_pipeline


def run_once(data: Path, k: int, threads: int, overrides: list[str]) -> tuple[dict, dict]:
    cfg = compose_run_cfg(
        [
            f"data.frames={data / 'JPEGImages'}",
            f"data.ann={data / 'annotations.json'}",
            f"detect_every={k}",
            "cache_dir=null",
            "progress=false",
            "submission=false",
            f"threads={threads}",
            *overrides,
        ]
    )
    run_dir = Path(tempfile.mkdtemp(prefix=f"detect_every{k}_"))
    with contextlib.redirect_stdout(io.StringIO()):
        summary = run_pipeline(cfg, run_dir)
    return summary, json.loads((run_dir / "metrics.json").read_text())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--k", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("overrides", nargs="*", help="vis-run overrides (after --)")
    args = parser.parse_args()
    rows = [
        "| detect_every | AP | AP50 | AP75 | AR10 | detector frames | frames/s (det + track) |",
        "|---:|" + "---:|" * 6,
    ]
    for k in args.k:
        summary, metrics = run_once(args.data, k, args.threads, args.overrides)
        totals = summary["totals"]
        fps = totals["computed_frames"] / (totals["detect_s"] + totals["track_s"])
        rows.append(
            f"| {k} | {100 * metrics['AP']:.1f} | {100 * metrics['AP50']:.1f} | {100 * metrics['AP75']:.1f} "
            f"| {100 * metrics['AR10']:.1f} | {totals['detector_frames']} | {fps:.1f} |"
        )
        print(rows[-1], file=sys.stderr, flush=True)
    print("\n".join(rows))


if __name__ == "__main__":
    main()
