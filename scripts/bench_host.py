#!/usr/bin/env python
"""Host-side budget of one object-frame of the two-stage cascade, and the crop speed before/after.

Not a test: prints two markdown tables. Everything the CPU does for one tracked object in one frame
besides the network forwards is timed step by step, with the production functions:

  crop (x2)      siammask.crops.crop_subwindow, stage 1 and stage 2 search crops (255 x 255)
  to tensor (x2) siammask.crops.crops_to_tensor (uint8 HWC -> float32 NCHW)
  select (x2)    decode, penalty, window and argmax over the 3125 anchors (SiamMaskTracker._decode and
                 siammask.selection.choose_candidates) on
                 network-shaped outputs
  mask to numpy  sigmoid of the 127 x 127 refine logits, moved to numpy
  paste          siammask.crops.paste_mask_region (the region the mask reaches; full-frame warpAffine today)
  threshold      probability > seg_thr on the region (on the frame today)
  RLE encode     COCO RLE of the frame mask from the region (``encode_region``, proposed for
                 vis_pipeline/masks.py; bit-identical to pycocotools on the full frame, checked on every
                 sample) vs pycocotools.mask.encode of the full frame (today)
  IoU vs 10 dets pycocotools.mask.iou of the prediction against 10 detection RLEs
  polygon        siammask.boxes.mask_box (mbr), only when a caller asks (the VIS pipeline does not)

Frame 1280 x 720 (smooth random texture). Object sizes, an assumed YouTube-VIS-like spread (the
YouTube-VIS annotations are not available offline): sqrt(w h) = r * sqrt(1280 * 720) with r log-uniform
in [0.05, 0.6] (48 .. 576 px), aspect w / h log-uniform in [1/2, 2], centre uniform over the frame; the
mask is an ellipse of the object's size in the refine window. Each step: median over the objects of the
median of ``--repeats`` runs. The "today" column times the pre-issue-15 implementation in the same run.

    .venv/bin/python scripts/bench_host.py                    # 200 objects, 1 thread
    .venv/bin/python scripts/bench_host.py --objects 50 --repeats 3
"""

from __future__ import annotations

import argparse
import math
import statistics
import time
from collections.abc import Callable

import cv2
import numpy as np
import torch
from pycocotools import mask as mask_utils

from siammask.anchors import Candidate
from siammask.boxes import mask_box
from siammask.crops import (
    SearchCrop,
    _crop_reference,
    crop_subwindow,
    crops_to_tensor,
    mask_square,
    paste_mask,
    paste_mask_region,
    search_crop,
)
from siammask.hparams import load_tracker_hparams
from siammask.model import SearchOutput
from siammask.opencv_exact import PaddedFrame
from siammask.selection import choose_candidates
from siammask.tracker import SiamMaskTracker
from vis_pipeline.masks import encode_mask, encode_mask_region

FRAME_HW = (720, 1280)
CROP_SIDES = (100, 200, 400, 800, 1000, 1500, 2000, 3000)


def sample_objects(count: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """(centre, size) of ``count`` objects drawn from the spread in the module docstring."""
    rng = np.random.default_rng(seed)
    side = math.sqrt(FRAME_HW[0] * FRAME_HW[1])
    objects = []
    for _ in range(count):
        scale = side * math.exp(rng.uniform(math.log(0.05), math.log(0.6)))
        aspect = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))
        size = np.array([scale * math.sqrt(aspect), scale / math.sqrt(aspect)])
        center = np.array([rng.uniform(0, FRAME_HW[1]), rng.uniform(0, FRAME_HW[0])])
        objects.append((center, size))
    return objects


def ellipse_logits(size_in_crop: np.ndarray) -> torch.Tensor:
    """(1, 16129) refine-like logits: +8 inside an ellipse of the object's size, -8 outside, blurred."""
    image = np.full((127, 127), -8.0, dtype=np.float32)
    axes = (int(min(60, size_in_crop[0] / 2)), int(min(60, size_in_crop[1] / 2)))
    cv2.ellipse(image, (63, 63), axes, 0, 0, 360, 8.0, -1)
    return torch.from_numpy(cv2.GaussianBlur(image, (0, 0), 2.0)).view(1, -1)


def detection_rles(count: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rles = []
    for _ in range(count):
        mask = np.zeros(FRAME_HW, np.uint8)
        center = (int(rng.integers(0, FRAME_HW[1])), int(rng.integers(0, FRAME_HW[0])))
        axes = (int(rng.integers(20, 200)), int(rng.integers(20, 200)))
        cv2.ellipse(mask, center, axes, 0, 0, 360, 1, -1)
        rles.append(mask_utils.encode(np.asfortranarray(mask)))
    return rles


def median_time(step: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        step()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def network_like_output(rng: np.random.Generator) -> SearchOutput:
    cls = torch.from_numpy(rng.normal(0, 1, (1, 10, 25, 25)).astype(np.float32))
    loc = torch.from_numpy(rng.normal(0, 0.1, (1, 20, 25, 25)).astype(np.float32))
    empty = torch.zeros(1, 1, 1, 1)
    return SearchOutput(cls, loc, empty, empty, empty, empty, None)


def _select(
    tracker: SiamMaskTracker, out: SearchOutput, crop: SearchCrop, size: np.ndarray
) -> list[Candidate]:
    """Stage 1's decode and choice for one sample, as the tracker runs them."""
    scores, boxes = tracker._decode(out)
    return choose_candidates(tracker.hp, tracker.window, scores, boxes, [crop], [size])


def object_frame(
    tracker: SiamMaskTracker,
    frame: np.ndarray,
    padded: PaddedFrame,
    center: np.ndarray,
    size: np.ndarray,
    detections: list[dict],
    rng: np.random.Generator,
    repeats: int,
) -> dict[str, tuple[float, float | None]]:
    """Seconds per step (new, today or None) for one object-frame of the two-stage cascade."""
    hp = tracker.hp
    fill = np.array([110, 120, 130], dtype=np.uint8)
    steps: dict[str, tuple[float, float | None]] = {}
    crop1 = search_crop(center, size, hp.context_amount, hp.exemplar_size, hp.instance_size)
    crop2 = search_crop(
        center + size * 0.05, size * 1.05, hp.context_amount, hp.exemplar_size, hp.instance_size
    )
    for name, crop in (("crop stage 1", crop1), ("crop stage 2", crop2)):
        steps[name] = (
            median_time(
                lambda c=crop: crop_subwindow(frame, c.center, 255, c.crop_size, fill, padded), repeats
            ),
            median_time(lambda c=crop: _crop_reference(frame, c.center, 255, c.crop_size, fill), repeats),
        )
    patch = crop_subwindow(frame, crop1.center, 255, crop1.crop_size, fill)
    steps["to tensor (x2)"] = (2 * median_time(lambda: crops_to_tensor([patch], "cpu"), repeats), None)
    out = network_like_output(rng)
    steps["select (x2)"] = (2 * median_time(lambda: _select(tracker, out, crop1, size), repeats), None)
    logits = ellipse_logits(size * crop2.scale_x)
    steps["mask to numpy"] = (median_time(lambda: logits.sigmoid().view(127, 127).numpy(), repeats), None)
    prob = logits.sigmoid().view(127, 127).numpy()
    square = mask_square(crop2.origin, crop2.crop_size, (12, 12), 255, 127, 8, 8)
    steps["paste"] = (
        median_time(lambda: paste_mask_region(prob, square, FRAME_HW), repeats),
        median_time(lambda: paste_mask(prob, square, FRAME_HW), repeats),
    )
    x0, y0, region = paste_mask_region(prob, square, FRAME_HW)
    full = paste_mask(prob, square, FRAME_HW)
    steps["threshold"] = (
        median_time(lambda: region > hp.seg_thr, repeats),
        median_time(lambda: full > hp.seg_thr, repeats),
    )
    mask_region, mask_full = region > hp.seg_thr, full > hp.seg_thr
    rle = encode_mask_region(mask_region, (x0, y0), FRAME_HW)
    assert rle == encode_mask(mask_full), "encode_region differs from pycocotools"
    steps["RLE encode"] = (
        median_time(lambda: encode_mask_region(mask_region, (x0, y0), FRAME_HW), repeats),
        median_time(lambda: encode_mask(mask_full), repeats),
    )
    coco_rle = {"size": rle["size"], "counts": rle["counts"].encode("ascii")}
    steps["IoU vs 10 dets"] = (
        median_time(lambda: mask_utils.iou([coco_rle], detections, [0] * len(detections)), repeats),
        None,
    )
    fallback = (*(center - size / 2), *size)
    steps["polygon (mbr, on demand)"] = (
        median_time(lambda: mask_box(mask_region, (x0, y0), fallback, hp.min_polygon_area, "mbr"), repeats),
        None,
    )
    return steps


def host_table(objects: int, repeats: int, seed: int) -> str:
    hp = load_tracker_hparams("tiny")
    tracker = SiamMaskTracker(_AnchorsOnly(hp.num_anchors), hp, cascade="two_stage")
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8), (9, 9), 3.0)
    detections = detection_rles(10, seed + 1)
    padded = PaddedFrame()  # as the tracker: the frame is copied once per frame, shared by its objects
    padded.reset(frame)
    frame_copy = median_time(lambda: (padded.reset(frame), padded.view(-1, -1, 2)), repeats)
    per_step: dict[str, list[float]] = {}
    per_step_today: dict[str, list[float]] = {}
    totals, totals_today = [], []
    for center, size in sample_objects(objects, seed + 2):
        steps = object_frame(tracker, frame, padded, center, size, detections, rng, repeats)
        pipeline_total = pipeline_total_today = 0.0
        for name, (new, today) in steps.items():
            per_step.setdefault(name, []).append(new)
            per_step_today.setdefault(name, []).append(today if today is not None else new)
            if "on demand" not in name:
                pipeline_total += new
                pipeline_total_today += today if today is not None else new
        totals.append(pipeline_total)
        totals_today.append(pipeline_total_today)
    medians = {name: statistics.median(v) for name, v in per_step.items()}
    share_base = sum(v for name, v in medians.items() if "on demand" not in name)
    lines = [
        f"Host steps of one object-frame, two-stage cascade, {FRAME_HW[1]}x{FRAME_HW[0]}, {objects} objects "
        f"(sqrt(area) 48-576 px log-uniform), {torch.get_num_threads()} thread(s)",
        "",
        "| step | median ms | share | today (median ms) |",
        "|---|---:|---:|---:|",
    ]
    for name, value in medians.items():
        today = statistics.median(per_step_today[name])
        share = "-" if "on demand" in name else f"{100 * value / share_base:.0f} %"
        lines.append(f"| {name} | {1e3 * value:.3f} | {share} | {1e3 * today:.3f} |")
    lines.append(
        f"| **total per object-frame** (median of sums, no polygon) | "
        f"**{1e3 * statistics.median(totals):.2f}** | 100 % | {1e3 * statistics.median(totals_today):.2f} |"
    )
    lines.append(
        f"| frame into the padding buffer (once per frame, all objects) | {1e3 * frame_copy:.3f} | | - |"
    )
    lines.append(
        f"| 90th percentile of the total | {1e3 * float(np.percentile(totals, 90)):.2f} | | "
        f"{1e3 * float(np.percentile(totals_today, 90)):.2f} |"
    )
    return "\n".join(lines)


class _AnchorsOnly(torch.nn.Module):
    """No network: the host-side steps only need the tracker's anchors, window and hyperparameters."""

    def __init__(self, anchor_num: int) -> None:
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))
        self.config = type("Config", (), {"anchor_num": anchor_num})()


def crop_table(repeats: int, seed: int) -> str:
    rng = np.random.default_rng(seed)
    frame = cv2.GaussianBlur(rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8), (9, 9), 3.0)
    fill = np.array([110, 120, 130], dtype=np.uint8)
    padded = PaddedFrame()
    padded.reset(frame)
    lines = [
        f"Search crop (-> 255x255) on a {FRAME_HW[1]}x{FRAME_HW[0]} frame: median ms of {repeats} "
        "interleaved runs, same-run ratio (the frame already in the padding buffer, as for every object "
        "after a frame's first)",
        "",
        "| crop side | centre: today | centre: now | ratio | corner: today | corner: now | ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for side in CROP_SIDES:
        row = [f"| {side}"]
        for center in ((640.0, 360.0), (40.0, 30.0)):
            old, new = [], []
            for _ in range(repeats):
                start = time.perf_counter()
                _crop_reference(frame, center, 255, side, fill)
                middle = time.perf_counter()
                crop_subwindow(frame, center, 255, side, fill, padded)
                old.append(middle - start)
                new.append(time.perf_counter() - middle)
            old_ms, new_ms = 1e3 * statistics.median(old), 1e3 * statistics.median(new)
            row.append(f"{old_ms:.3f} | {new_ms:.3f} | {old_ms / new_ms:.1f}x")
        lines.append(" | ".join(row) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--objects", type=int, default=200, help="objects drawn from the size spread")
    parser.add_argument("--repeats", type=int, default=5, help="runs per step and object (median)")
    parser.add_argument("--crop-repeats", type=int, default=15, help="runs per crop side (median)")
    parser.add_argument("--threads", type=int, default=1, help="torch and OpenCV threads")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    print(crop_table(args.crop_repeats, args.seed))
    print()
    print(host_table(args.objects, args.repeats, args.seed))


if __name__ == "__main__":
    main()
