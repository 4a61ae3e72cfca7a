"""Peak memory of ``vis-run`` against video length: is memory bounded (not growing with frames)?

For each length, a one-video synthetic set is generated and ``vis-run`` (oracle detector, tiny
SiamMask) runs on it in a subprocess; the child's peak RSS comes from ``os.wait4`` (its own
``ru_maxrss``, not the maximum over all children). The table prints the ratio of each peak to
the first (shortest) one; the target is <= 1.2 for 500 vs 50 frames.

    .venv/bin/python scripts/bench_memory.py                        # 50 and 500 frames, 320x180
    .venv/bin/python scripts/bench_memory.py --frames 50 200 --checkpoint null
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from vis_pipeline.data.synth import SynthConfig, generate_dataset

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CHECKPOINT = REPO / "weights" / "tiny_siammask.pth"  # configs/tracker/tiny.yaml's file


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--frames", type=int, nargs="+", default=[50, 500], help="video lengths")
    parser.add_argument("--width", type=int, default=320)
    parser.add_argument("--height", type=int, default=180)
    parser.add_argument("--seed", type=int, default=0, help="synthetic video seed (same scene per length)")
    parser.add_argument(
        "--checkpoint",
        default=None,
        help="tracker.checkpoint for vis-run: a file, or 'null' for the seeded random init "
        f"(default: {DEFAULT_CHECKPOINT.relative_to(REPO)} when present, else null)",
    )
    parser.add_argument("--threads", type=int, default=1, help="torch threads of vis-run")
    parser.add_argument("--workdir", type=Path, default=None, help="keep datasets and runs here")
    parser.add_argument("overrides", nargs="*", help="extra vis-run overrides (key=value)")
    return parser.parse_args(argv)


def run_measured(cmd: list[str], log_path: Path) -> tuple[int, int, float]:
    """Run ``cmd``; returns (exit code, the child's own peak RSS in KiB, wall seconds)."""
    start = time.perf_counter()
    with log_path.open("w") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
        _, status, usage = os.wait4(proc.pid, 0)  # rusage of this child only
    proc.returncode = os.waitstatus_to_exitcode(status)
    return proc.returncode, int(usage.ru_maxrss), time.perf_counter() - start


def bench_length(frames: int, args: argparse.Namespace, checkpoint: str, workdir: Path) -> dict:
    """Generate a one-video set of ``frames`` frames, run vis-run on it, return the measurements."""
    dataset = workdir / f"synth_{frames}"
    synth_cfg = SynthConfig.from_mapping({"width": args.width, "height": args.height, "frames": frames})
    ann = generate_dataset(dataset, args.seed, 1, synth_cfg, overwrite=True, progress=False)
    run_dir = workdir / f"run_{frames}"
    cmd = [
        sys.executable, "-m", "vis_pipeline.cli.run",
        f"data.frames={dataset / 'JPEGImages'}", f"data.ann={ann}", "detector=oracle", "tracker=tiny",
        f"tracker.checkpoint={checkpoint}", f"cache_dir={workdir / 'cache'}", f"threads={args.threads}",
        "progress=false", f"hydra.run.dir={run_dir}", *args.overrides,
    ]  # fmt: skip
    code, peak_kib, wall = run_measured(cmd, workdir / f"run_{frames}.log")
    if code != 0:
        tail = (workdir / f"run_{frames}.log").read_text().strip().splitlines()[-3:]
        raise SystemExit(f"bench_memory: vis-run on {frames} frames exited {code}: {' | '.join(tail)}")
    summary = json.loads((run_dir / "run_summary.json").read_text())
    return {
        "frames": frames,
        "peak_mib": peak_kib / 1024,
        "tracks": summary["videos"][0]["tracks"],
        "ms_per_frame": summary["totals"]["total_ms_per_frame"],
        "wall_s": wall,
    }


def format_table(rows: list[dict], size: str, checkpoint: str) -> str:
    base = rows[0]["peak_mib"]
    lines = [
        f"vis-run peak RSS vs video length ({size}, oracle detector, tiny SiamMask {checkpoint})",
        f"{'frames':>7} {'peak RSS MiB':>13} {'ratio':>6} {'tracks':>7} {'ms/frame':>9} {'wall s':>7}",
    ]
    for row in rows:
        lines.append(
            f"{row['frames']:>7} {row['peak_mib']:>13.1f} {row['peak_mib'] / base:>6.3f} {row['tracks']:>7} "
            f"{row['ms_per_frame']:>9.1f} {row['wall_s']:>7.1f}"
        )
    if len(rows) > 1:
        growth = (rows[-1]["peak_mib"] - base) / max(rows[-1]["frames"] - rows[0]["frames"], 1) * 100
        verdict = "OK" if rows[-1]["peak_mib"] / base <= 1.2 else "ABOVE TARGET"
        lines.append(f"growth {growth:.2f} MiB per 100 frames; target ratio <= 1.2: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    checkpoint = args.checkpoint or (str(DEFAULT_CHECKPOINT) if DEFAULT_CHECKPOINT.is_file() else "null")
    with tempfile.TemporaryDirectory(prefix="bench_memory_") as tmp:
        workdir = args.workdir or Path(tmp)
        workdir.mkdir(parents=True, exist_ok=True)
        rows = [bench_length(n, args, checkpoint, workdir) for n in args.frames]
    label = "random init" if checkpoint == "null" else Path(checkpoint).name
    print(format_table(rows, f"{args.width}x{args.height}", label))


if __name__ == "__main__":
    main()
