"""Detector speed and memory on this machine: seconds per frame, peak RSS, cache speed-up.

    .venv/bin/python scripts/bench_detector.py                      # full table
    .venv/bin/python scripts/bench_detector.py --repeats 2 --video-frames 8 --skip-1333   # short

Rows:
- HTC R-50 (mmdet's htc_r50_fpn_1x_coco, random weights with score_thr 0, so every frame
  carries the config's mmdet_max_per_img detections, each pasted as a full-frame mask: a busy
  frame) at test scales 640x360 and 1333x800 on a --frame-size frame;
- the tiny HTC (weights/tiny_htc.pth, random weights if missing) at its 320x180 test scale;
- a --video-frames video through ``detect_video``: first run (detector) vs rerun (cache).

Each detector row runs in its own subprocess so its peak RSS is its own. Times are medians over
--repeats runs after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]


def _detector_cfg(name: str, scale: list[int] | None) -> dict:
    cfg = yaml.safe_load((REPO / "configs" / "detector" / f"{name}.yaml").read_text())
    cfg.update(device="cpu", batch_size=1)
    if scale is not None:
        cfg["test_scale"] = scale
    if name == "tiny_htc" and not (REPO / cfg["checkpoint"]).exists():
        cfg["checkpoint"] = None
    if name != "tiny_htc":
        cfg["checkpoint"] = None  # random init: timing only
    if cfg["checkpoint"] is None:
        # random weights score every class ~1/num_classes: without this no mask would be pasted
        # and the row would time an empty frame; with it mmdet keeps mmdet_max_per_img detections
        # (and the classes it picks may all be ones the COCO->YTVIS map drops: map them 1:1 here)
        cfg["score_thr"] = 0.0
        cfg["class_map"] = "identity"
    return cfg


def _frames(height: int, width: int, count: int) -> list[np.ndarray]:
    """Smooth random images (noise would give the RPN nothing object-like either way)."""
    import cv2

    rng = np.random.default_rng(0)
    small = rng.integers(0, 255, (count, height // 16 + 1, width // 16 + 1, 3), dtype=np.uint8)
    return [cv2.resize(s, (width, height), interpolation=cv2.INTER_CUBIC) for s in small]


def child(args: argparse.Namespace) -> None:
    """Time one detector config; print one JSON line."""
    import torch

    torch.set_num_threads(args.threads)
    from vis_pipeline.detect.htc import HTCDetector

    scale = [int(v) for v in args.scale.split("x")] if args.scale else None
    cfg = _detector_cfg(args.child, scale)
    detector = HTCDetector.from_config(cfg, allow_random_init=True)
    height, width = (int(v) for v in args.frame_size.split("x"))
    (frame,) = _frames(height, width, 1)
    detector.detect([frame])  # warm-up
    seconds = []
    for _ in range(args.repeats):
        tic = time.perf_counter()
        dets = detector.detect([frame])
        seconds.append(time.perf_counter() - tic)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # kB -> GiB
    row = {
        "detector": args.child + ("" if cfg["checkpoint"] else " (random init)"),
        "test_scale": "x".join(map(str, cfg["test_scale"])),
        "frame": args.frame_size,
        "s_per_frame": statistics.median(seconds),
        "peak_rss_gib": peak_gib,
        "detections": len(dets[0]),
    }
    print(json.dumps(row))


@dataclass
class _Video:
    video_id: int
    name: str
    width: int
    height: int
    frames: list[np.ndarray]

    @property
    def length(self) -> int:
        return len(self.frames)

    def iter_frames(self):
        yield from self.frames


def cache_rows(args: argparse.Namespace) -> list[str]:
    """Uncached vs cached ``detect_video`` time of one video with the tiny HTC."""
    import torch

    torch.set_num_threads(args.threads)
    from vis_pipeline.detect.cache import DetectionCache, detect_video
    from vis_pipeline.detect.htc import HTCDetector

    cfg = _detector_cfg("tiny_htc", None)
    detector = HTCDetector.from_config(cfg, allow_random_init=True)
    video = _Video(1, "bench", 640, 360, _frames(360, 640, args.video_frames))
    with tempfile.TemporaryDirectory() as tmp:
        cache = DetectionCache(tmp)
        tic = time.perf_counter()
        detect_video(
            detector, video, cache, batch_size=int(cfg["batch_size"]), progress=False, fingerprint="0" * 32
        )
        uncached = time.perf_counter() - tic
        cached = []
        for _ in range(args.repeats):
            tic = time.perf_counter()
            detect_video(detector, video, cache, progress=False, fingerprint="0" * 32)
            cached.append(time.perf_counter() - tic)
    return [
        f"| tiny_htc video, {args.video_frames} frames 640x360, first run (detector) | {uncached:.2f} s |",
        f"| same video, rerun (cache) | {statistics.median(cached):.4f} s |",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--frame-size", default="720x1280", help="HxW of the benchmark frame")
    parser.add_argument("--video-frames", type=int, default=24)
    parser.add_argument("--skip-1333", action="store_true", help="skip the slowest row (R-50 at 1333x800)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--scale", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    runs = [("htc_r50", "640x360", args.frame_size), ("htc_r50", "1333x800", args.frame_size)]
    if args.skip_1333:
        runs.pop()
    runs.append(("tiny_htc", None, "360x640"))
    rows = []
    for name, scale, frame_size in runs:
        cmd = [sys.executable, __file__, "--child", name, "--repeats", str(args.repeats)]
        cmd += ["--threads", str(args.threads), "--frame-size", frame_size]
        cmd += ["--scale", scale] if scale else []
        out = subprocess.run(cmd, check=True, capture_output=True, text=True, cwd=REPO).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(f"[bench] {rows[-1]}", file=sys.stderr)
    print(f"\nDetector speed on this CPU ({args.threads} threads, median of {args.repeats} runs)\n")
    print("| detector | test scale | frame (HxW) | s / frame | peak RSS (GiB) | detections |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['detector']} | {r['test_scale']} | {r['frame']} | {r['s_per_frame']:.2f} | "
            f"{r['peak_rss_gib']:.2f} | {r['detections']} |"
        )
    print("\n| detection cache | time |\n|---|---|")
    print("\n".join(cache_rows(args)))


if __name__ == "__main__":
    main()
