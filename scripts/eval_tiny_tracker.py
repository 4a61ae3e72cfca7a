#!/usr/bin/env python
"""Single-object mask IoU (J) of a SiamMask tracker on a YouTube-VIS-format dataset, vs a copy baseline.

Every object track is tracked on its own: the tracker is initialised from the GT box of the object's first
frame with a non-empty mask and run over the following frames of the video. J of one object = mean mask
IoU over the following frames where the GT has the object (frames where it is absent are skipped); the
table reports the mean over objects ("mean J") and over all scored frames ("frame J"). The baseline
"copy first mask" predicts the first visible GT mask on every later frame.

Usage (held-out synthetic videos; the demo weights were trained on seed 1000)::

    .venv/bin/vis-synth out=outputs/synth_eval seed=1 videos=20
    .venv/bin/python scripts/eval_tiny_tracker.py --data outputs/synth_eval \
        --checkpoint weights/tiny_siammask.pth
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from siammask.tracker import SiamMaskTracker
from vis_pipeline.masks import decode_rle, rle_to_box_xywh, to_compressed_rle


@dataclass
class MethodScores:
    """Per-object mean IoUs and all per-frame IoUs of one method."""

    object_j: list[float] = field(default_factory=list)
    frame_ious: list[float] = field(default_factory=list)
    seconds: float = 0.0


def mask_iou(pred: np.ndarray, gt: np.ndarray) -> float:
    """IoU of two bool (H, W) masks (1.0 when both are empty)."""
    union = np.logical_or(pred, gt).sum()
    return 1.0 if union == 0 else float(np.logical_and(pred, gt).sum() / union)


def load_dataset(data_dir: Path) -> dict[str, Any]:
    """Read ``data_dir/annotations.json`` or exit with a one-line error."""
    path = data_dir / "annotations.json"
    if not path.is_file():
        raise SystemExit(f"error: {path}: annotation file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as error:
        raise SystemExit(f"error: {path}: not valid JSON ({error.msg}, line {error.lineno})") from None


def read_frames(data_dir: Path, video: dict[str, Any]) -> list[np.ndarray]:
    """All frames of a video as (H, W, 3) uint8 BGR."""
    frames = []
    for name in video["file_names"]:
        image = cv2.imread(str(data_dir / "JPEGImages" / name), cv2.IMREAD_COLOR)
        if image is None:
            raise SystemExit(f"error: {data_dir / 'JPEGImages' / name}: frame not found or unreadable")
        frames.append(image)
    return frames


def gt_masks(annotation: dict[str, Any], height: int, width: int) -> list[np.ndarray | None]:
    """Per-frame bool GT masks of one track (None where absent or empty)."""
    masks: list[np.ndarray | None] = []
    for segmentation in annotation["segmentations"]:
        mask = None if segmentation is None else decode_rle(to_compressed_rle(segmentation, height, width))
        masks.append(mask if mask is not None and mask.any() else None)
    return masks


def evaluate(
    data_dir: Path, trackers: dict[str, SiamMaskTracker], max_videos: int | None
) -> dict[str, MethodScores]:
    """Run every tracker and the copy baseline over all object tracks of the dataset."""
    data = load_dataset(data_dir)
    videos = data["videos"][:max_videos] if max_videos else data["videos"]
    by_video: dict[int, list[dict[str, Any]]] = {}
    for annotation in data["annotations"]:
        by_video.setdefault(annotation["video_id"], []).append(annotation)
    scores = {name: MethodScores() for name in [*trackers, "copy first mask"]}
    for video in videos:
        frames = read_frames(data_dir, video)
        for annotation in by_video.get(video["id"], []):
            masks = gt_masks(annotation, video["height"], video["width"])
            visible = [t for t, mask in enumerate(masks) if mask is not None]
            if len(visible) < 2:
                continue  # nothing to track after the init frame
            first = visible[0]
            box = rle_to_box_xywh(
                to_compressed_rle(annotation["segmentations"][first], video["height"], video["width"])
            )
            scored = [t for t in visible if t > first]
            baseline = [mask_iou(masks[first], masks[t]) for t in scored]
            scores["copy first mask"].object_j.append(float(np.mean(baseline)))
            scores["copy first mask"].frame_ious += baseline
            for name, tracker in trackers.items():
                start = time.perf_counter()
                state = tracker.init(frames[first], box)
                ious = []
                for t in range(first + 1, len(frames)):
                    result = tracker.track(frames[t], state)
                    if masks[t] is not None:
                        ious.append(mask_iou(result.mask, masks[t]))
                scores[name].seconds += time.perf_counter() - start
                scores[name].object_j.append(float(np.mean(ious)))
                scores[name].frame_ious += ious
    return scores


def format_table(scores: dict[str, MethodScores]) -> str:
    """Markdown table: method, mean J over objects, J over frames, #objects, #frames, seconds."""
    lines = [
        "| method | mean J (objects) | J (frames) | objects | frames | seconds |",
        "|---|---|---|---|---|---|",
    ]
    for name, s in scores.items():
        lines.append(
            f"| {name} | {np.mean(s.object_j):.3f} | {np.mean(s.frame_ious):.3f} | {len(s.object_j)} "
            f"| {len(s.frame_ious)} | {s.seconds:.1f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, required=True, help="YouTube-VIS-format dir (annotations.json, JPEGImages/)"
    )
    parser.add_argument("--checkpoint", type=Path, default=Path("weights/tiny_siammask.pth"))
    parser.add_argument(
        "--preset", default="tiny", help="tracker preset (configs/tracker/) giving model + hp"
    )
    parser.add_argument("--max-videos", type=int, default=None)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", type=Path, default=None, help="also write the scores here")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not args.checkpoint.is_file():
        raise SystemExit(f"error: {args.checkpoint}: checkpoint not found")
    trackers = {
        f"SiamMask {cascade.replace('_', '-')}": SiamMaskTracker.from_preset(
            args.preset, checkpoint=args.checkpoint, cascade=cascade
        )
        for cascade in ("one_stage", "two_stage")
    }
    scores = evaluate(args.data, trackers, args.max_videos)
    print(f"data: {args.data}  checkpoint: {args.checkpoint}  preset: {args.preset}")
    print(format_table(scores))
    if args.json:
        summary = {
            name: {"mean_J": float(np.mean(s.object_j)), "frame_J": float(np.mean(s.frame_ious)),
                   "objects": len(s.object_j), "frames": len(s.frame_ious)}
            for name, s in scores.items()
        }  # fmt: skip
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
