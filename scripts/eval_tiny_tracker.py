#!/usr/bin/env python
"""Deprecated: use ``siammask-eval`` (DAVIS-protocol J&F). Kept as a thin wrapper for old commands::

    .venv/bin/python scripts/eval_tiny_tracker.py --data DIR [--checkpoint PTH] [--preset tiny]
        [--max-videos N] [--out DIR]

runs ``siammask-eval data.frames=DIR/JPEGImages data.ann=DIR/annotations.json tracker=PRESET
tracker.checkpoint=PTH out=DIR``. Note the protocol changed: frames where the object is absent are
scored too (DAVIS), and the last frame is not (see configs/siammask_eval.yaml).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vis_pipeline.cli import siammask_eval


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="YouTube-VIS-format dir")
    parser.add_argument("--checkpoint", type=Path, default=None)
    parser.add_argument("--preset", default="tiny", help="tracker preset (configs/tracker/)")
    parser.add_argument("--max-videos", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("outputs/siammask_eval"))
    args = parser.parse_args(argv)
    overrides = [
        f"data.frames={args.data / 'JPEGImages'}",
        f"data.ann={args.data / 'annotations.json'}",
        f"tracker={args.preset}",
        f"out={args.out}",
    ]
    if args.checkpoint is not None:
        overrides.append(f"tracker.checkpoint={args.checkpoint}")
    if args.max_videos is not None:
        overrides.append(f"data.max_videos={args.max_videos}")
    sys.argv = [sys.argv[0], *overrides]
    siammask_eval.main()


if __name__ == "__main__":
    main()
