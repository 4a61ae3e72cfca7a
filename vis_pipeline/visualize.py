"""Overlay videos: predicted masks coloured by track, with category and score labels,
optionally side by side with the ground truth."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from vis_pipeline.masks import RLE, decode_rle

# Distinct BGR colours (tab10-like), cycled by track index.
PALETTE = np.array(
    [
        [180, 119, 31], [14, 127, 255], [44, 160, 44], [40, 39, 214], [189, 103, 148],
        [75, 86, 140], [194, 119, 227], [127, 127, 127], [34, 189, 188], [207, 190, 23],
    ],
    dtype=np.float32,
)  # fmt: skip


def overlay_frame(
    frame_bgr: np.ndarray,
    masks: Sequence[RLE | None],
    labels: Sequence[str],
    alpha: float = 0.5,
) -> np.ndarray:
    """Draw each non-null mask (colour i of the palette) and its label at the mask's top-left."""
    out = frame_bgr.astype(np.float32)
    texts = []
    for i, (rle, label) in enumerate(zip(masks, labels, strict=True)):
        if rle is None:
            continue
        mask = decode_rle(rle)
        if not mask.any():
            continue
        colour = PALETTE[i % len(PALETTE)]
        out[mask] = (1 - alpha) * out[mask] + alpha * colour
        ys, xs = np.nonzero(mask)
        texts.append((label, (int(xs.min()), max(int(ys.min()) - 4, 10)), colour))
    img = np.clip(out, 0, 255).astype(np.uint8)
    for label, org, colour in texts:
        cv2.putText(img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
        cv2.putText(
            img, label, org, cv2.FONT_HERSHEY_SIMPLEX, 0.4, tuple(int(c) for c in colour), 1, cv2.LINE_AA
        )
    return img


def write_overlay_video(
    frames: Iterable[np.ndarray],
    tracks: Sequence[dict],
    out_path: Path,
    category_names: dict[int, str],
    gt_tracks: Sequence[dict] | None = None,
    fps: float = 6.0,
) -> Path:
    """Write an MP4 of ``frames`` with the predicted ``tracks`` (YouTube-VIS result entries of
    one video) drawn on them; with ``gt_tracks`` (annotation entries, compressed RLE) the GT is
    drawn on a second panel to the right."""
    out_path.parent.mkdir(parents=True, exist_ok=True)
    pred_labels = [
        f"#{i + 1} {category_names.get(t['category_id'], t['category_id'])} {t['score']:.2f}"
        for i, t in enumerate(tracks)
    ]
    gt_labels = [f"GT {category_names.get(t['category_id'], t['category_id'])}" for t in gt_tracks or []]
    writer = None
    try:
        for f, frame in enumerate(frames):
            panel = overlay_frame(frame, [t["segmentations"][f] for t in tracks], pred_labels)
            if gt_tracks is not None:
                gt_panel = overlay_frame(frame, [t["segmentations"][f] for t in gt_tracks], gt_labels)
                panel = np.concatenate([panel, gt_panel], axis=1)
            if writer is None:
                h, w = panel.shape[:2]
                writer = cv2.VideoWriter(str(out_path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
                if not writer.isOpened():
                    raise RuntimeError(f"{out_path}: OpenCV cannot open an MP4 writer here")
            writer.write(panel)
    finally:
        if writer is not None:
            writer.release()
    return out_path
