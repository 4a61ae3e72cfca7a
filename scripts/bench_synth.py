#!/usr/bin/env python
"""Benchmark of the synthetic benchmark generator (``vis-synth``): seconds per dataset and per frame.

Not a test: prints a table. For each resolution it generates ``--videos`` videos of ``--frames``
frames into a temporary folder (rendering + JPEG + RLE + JSON, everything ``vis-synth`` does) and
reports the median wall time over ``--repeats``, frames/s and the split between rendering and
writing. Target (reported, not asserted): 4 videos x 24 frames at 640x360 in a few seconds.

    .venv/bin/python scripts/bench_synth.py                              # default table
    .venv/bin/python scripts/bench_synth.py --sizes 1280x720 --videos 2  # larger frames
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from vis_pipeline.data.synth import SynthConfig, generate_dataset, synthesize_video

TARGET_SECONDS = 5.0  # for 4 videos x 24 frames at 640x360


def _render_only(cfg: SynthConfig, seed: int, videos: int) -> float:
    start = time.perf_counter()
    for index in range(videos):
        for _ in synthesize_video(seed, index, cfg)[1]:
            pass
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", default=["160x120", "640x360", "1280x720"], help="WxH list")
    parser.add_argument("--videos", type=int, default=4)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    print(f"{'size':>10} {'videos':>6} {'frames':>6} {'total s':>8} {'render s':>8} {'frames/s':>8}")
    for size in args.sizes:
        width, height = (int(v) for v in size.lower().split("x"))
        cfg = SynthConfig(width=width, height=height, frames=args.frames)
        totals, renders = [], []
        for _ in range(args.repeats):
            with tempfile.TemporaryDirectory() as tmp:
                start = time.perf_counter()
                generate_dataset(Path(tmp) / "data", args.seed, args.videos, cfg, progress=False)
                totals.append(time.perf_counter() - start)
            renders.append(_render_only(cfg, args.seed, args.videos))
        total, render = statistics.median(totals), statistics.median(renders)
        frames = args.videos * args.frames
        print(f"{size:>10} {args.videos:>6} {frames:>6} {total:>8.2f} {render:>8.2f} {frames / total:>8.1f}")
    print(f"target: {args.videos} videos x {args.frames} frames at 640x360 < {TARGET_SECONDS:.0f} s")


if __name__ == "__main__":
    main()
