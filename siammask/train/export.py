"""``python -m siammask.train.export RUN/last.pth weights/out.pth [--fp32]``: release file of a training run
(weights + model_config + epoch + config, no optimizer state; float16 tensors unless ``--fp32``)."""

from __future__ import annotations

import argparse
from pathlib import Path

from siammask.checkpoint import CheckpointError
from siammask.train.checkpointing import export_weights


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and write the release file."""
    parser = argparse.ArgumentParser(description="Export a SiamMask training checkpoint for release.")
    parser.add_argument(
        "checkpoint", type=Path, help="training checkpoint (e.g. outputs/train/<run>/last.pth)"
    )
    parser.add_argument("out", type=Path, help="release file to write")
    parser.add_argument("--fp32", action="store_true", help="keep float32 tensors (default: float16)")
    args = parser.parse_args(argv)
    try:
        export_weights(args.checkpoint, args.out, fp16=not args.fp32)
    except CheckpointError as error:
        raise SystemExit(f"error: {error}") from None
    size_mb = args.out.stat().st_size / 1e6
    print(f"wrote {args.out} ({size_mb:.1f} MB, {'float32' if args.fp32 else 'float16'})")


if __name__ == "__main__":
    main()
