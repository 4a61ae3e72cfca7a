#!/usr/bin/env python
"""Benchmark of the SiamMask tracker step: ms per object-frame, looped vs batched, one- vs two-stage.

Not a test: prints a table. Network = ``--model`` (default the released ResNet-50 layout) with
deterministic random weights (the "scaled" rule: conv weights randn / sqrt(fan_in), the first conv also
/ 255 for raw pixels, BN gammas 1 + 0.05 randn, biases/means 0.05 randn, variances |randn| + 0.5), so the
outputs are not degenerate. Frames are synthetic 480x854 (DAVIS size) textures with N boxes on a grid.

For each cascade mode and N it reports the median over ``--repeats`` of one frame step for N tracks,
run as N ``track`` calls (looped) and as one ``track_many`` call (batched); the FLOPs of one batched step
counted with ``torch.utils.flop_counter.FlopCounterMode`` (2 FLOPs per multiply-accumulate), the
achieved GFLOP/s next to the measured ``torch.mm`` 2048x2048 float32 peak, and the share of the batched
step spent cutting crops and pasting masks (the polygon is built on demand, not in the step;
scripts/bench_host.py times every host step). Targets (reported, not asserted): step GFLOP/s >=
80% of the mm peak, batched never slower than looped, two-stage <= 2.05x one-stage per object.

    .venv/bin/python scripts/bench_tracker.py --n 1 4 8 16 --repeats 5            # full CPU table
    .venv/bin/python scripts/bench_tracker.py --n 1 4 --repeats 2 --threads 2     # short version
    .venv/bin/python scripts/bench_tracker.py --device cuda                       # on a GPU
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
import zlib
from collections.abc import Callable

import cv2
import numpy as np
import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from siammask import SiamMaskTracker, TrackerState, build_siammask, load_tracker_hparams

FRAME_HW = (480, 854)
MM_SIZE = 2048


def scaled_random_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Fill every float tensor deterministically (generator seeded with crc32(key) + seed), in place."""
    state = model.state_dict()
    first_conv = next(key for key, value in state.items() if value.dim() == 4)
    with torch.no_grad():
        for key, value in state.items():
            if not value.is_floating_point():
                continue
            generator = torch.Generator().manual_seed(zlib.crc32(key.encode()) + seed)
            r = torch.randn(value.shape, generator=generator)
            if key.endswith("running_var"):
                r = r.abs() + 0.5
            elif key.endswith("running_mean") or key.endswith(".bias"):
                r = r * 0.05
            elif value.dim() == 1:
                r = 1.0 + r * 0.05
            else:
                r = r / math.sqrt(math.prod(value.shape[1:])) / (255.0 if key == first_conv else 1.0)
            value.copy_(r.to(value.device))
    return model


def synthetic_frame(seed: int = 0) -> np.ndarray:
    """(480, 854, 3) uint8 smooth random texture."""
    rng = np.random.default_rng(seed)
    return cv2.GaussianBlur(rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8), (9, 9), 3.0)


def grid_boxes(count: int) -> list[tuple[float, float, float, float]]:
    """``count`` boxes (x, y, w, h) of 40..90 px spread over the frame on a grid."""
    cols = math.ceil(math.sqrt(count))
    rows = math.ceil(count / cols)
    height, width = FRAME_HW
    boxes = []
    for i in range(count):
        row, col = divmod(i, cols)
        cx, cy = (col + 0.5) * width / cols, (row + 0.5) * height / rows
        w, h = 40.0 + 10 * (i % 6), 90.0 - 8 * (i % 5)
        boxes.append((cx - w / 2, cy - h / 2, w, h))
    return boxes


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def mm_peak_gflops(device: torch.device, repeats: int) -> float:
    """Best-of-repeats GFLOP/s of a 2048x2048 float32 torch.mm on ``device`` (best: the CPU is shared)."""
    a = torch.randn(MM_SIZE, MM_SIZE, device=device)
    b = torch.randn(MM_SIZE, MM_SIZE, device=device)
    torch.mm(a, b)
    synchronize(device)
    best = math.inf
    for _ in range(max(5, repeats)):
        start = time.perf_counter()
        torch.mm(a, b)
        synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * MM_SIZE**3 / best / 1e9


def timed(step: Callable[[], object], device: torch.device) -> float:
    synchronize(device)
    start = time.perf_counter()
    step()
    synchronize(device)
    return time.perf_counter() - start


def bench_mode(
    tracker: SiamMaskTracker, frame: np.ndarray, states: list[TrackerState], repeats: int
) -> dict[str, float]:
    """Median seconds of one looped and one batched step over ``repeats``, FLOPs and phase shares."""
    device = tracker.device
    looped, batched, crop_share, paste_share = [], [], [], []
    tracker.track_many(frame, [state.copy() for state in states])  # warm-up: allocator, kernel caches
    tracker.track(frame, states[0].copy())
    for _ in range(repeats):
        copies = [state.copy() for state in states]
        looped.append(timed(lambda copies=copies: [tracker.track(frame, s) for s in copies], device))
        copies = [state.copy() for state in states]
        tracker.timings = {}
        batched.append(timed(lambda copies=copies: tracker.track_many(frame, copies), device))
        total = sum(tracker.timings.values())
        crop_share.append(tracker.timings.get("crop", 0.0) / total)
        paste_share.append(tracker.timings.get("paste", 0.0) / total)
        tracker.timings = None
    with FlopCounterMode(display=False) as counter:
        tracker.track_many(frame, [state.copy() for state in states])
    return {
        "looped_s": statistics.median(looped),
        "batched_s": statistics.median(batched),
        "flops": float(counter.get_total_flops()),
        "crop_share": statistics.median(crop_share),
        "paste_share": statistics.median(paste_share),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, nargs="+", default=[1, 4, 8, 16], help="tracks per frame")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--threads", type=int, default=os.cpu_count(), help="torch CPU threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--model", choices=["resnet50_sharp", "tiny"], default="resnet50_sharp")
    parser.add_argument("--hp", default="davis", help="tracker preset name or YAML (hyperparameters only)")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("error: --device cuda but torch sees no CUDA device")
    if min(args.n) < 1 or args.repeats < 1:
        raise SystemExit("error: --n values and --repeats must be >= 1")
    torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    model = scaled_random_weights(build_siammask(args.model)).to(device)
    hp = load_tracker_hparams(args.hp)
    frame = synthetic_frame()
    peak = mm_peak_gflops(device, args.repeats)
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else f"CPU, {args.threads} threads"
    print(
        f"model {args.model} (random scaled weights), hp {args.hp}, frame {FRAME_HW[1]}x{FRAME_HW[0]}, {name}"
    )
    print(
        f"torch.mm {MM_SIZE}x{MM_SIZE} float32 peak: {peak:.1f} GFLOP/s; median of {args.repeats} repeats\n"
    )
    header = (
        f"{'cascade':<10}{'N':>4}{'looped ms/obj':>15}{'batched ms/obj':>16}{'batch/loop':>12}"
        f"{'GFLOP/obj':>11}{'GFLOP/s':>9}{'% mm peak':>11}{'crop %':>8}{'paste %':>9}"
    )
    print(header)
    print("-" * len(header))
    per_object: dict[tuple[str, int], float] = {}
    worst_ratio = 0.0
    for cascade in ("one_stage", "two_stage"):
        tracker = SiamMaskTracker(model, hp, cascade=cascade)
        for count in args.n:
            states = tracker.init_many(frame, grid_boxes(count))
            row = bench_mode(tracker, frame, states, args.repeats)
            batched_obj, looped_obj = row["batched_s"] / count, row["looped_s"] / count
            per_object[(cascade, count)] = batched_obj
            worst_ratio = max(worst_ratio, row["batched_s"] / row["looped_s"])
            rate = row["flops"] / row["batched_s"] / 1e9
            print(
                f"{cascade:<10}{count:>4}{looped_obj * 1e3:>15.1f}{batched_obj * 1e3:>16.1f}"
                f"{row['batched_s'] / row['looped_s']:>12.2f}{row['flops'] / count / 1e9:>11.2f}{rate:>9.1f}"
                f"{100 * rate / peak:>10.0f}%"
                f"{100 * row['crop_share']:>7.1f}%{100 * row['paste_share']:>8.1f}%"
            )
    peak_after = mm_peak_gflops(device, args.repeats)
    print(f"\ntorch.mm peak measured again after the table: {peak_after:.1f} GFLOP/s")
    print("targets (reported, not asserted):")
    print(f"  batched never slower than looped: worst batched/looped = {worst_ratio:.2f} (target <= 1.00)")
    for count in args.n:
        ratio = per_object[("two_stage", count)] / per_object[("one_stage", count)]
        print(f"  N={count}: two-stage / one-stage per object = {ratio:.2f} (target <= 2.05)")
    print("  step GFLOP/s vs mm peak: see '% mm peak' (target >= 80%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
