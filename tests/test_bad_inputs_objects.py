"""Extreme objects and counts: 500 detections in one frame, an object filling the frame, a
1-pixel object, a one-frame video -- correct output, no crash."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from conftest import compose_run_cfg, run_overrides

from vis_pipeline.build import build_tracker
from vis_pipeline.masks import decode_rle, encode_mask
from vis_pipeline.pipeline import run_pipeline
from vis_pipeline.track.association import AssociationConfig
from vis_pipeline.track.mot import MultiObjectTracker
from vis_pipeline.types import Detections

HEIGHT, WIDTH = 72, 96


# ---------------------------------------------------------------- 500 detections in one frame
@dataclass
class Prediction:
    mask: np.ndarray
    score: float
    found: bool = True


class ShiftingTracker:
    """Stand-in for SiamMask: a track's state is its box; each step predicts the box moved 1 px right."""

    def __init__(self, height: int, width: int) -> None:
        self.height, self.width = height, width

    def init_many(self, image_bgr: np.ndarray, boxes_xywh: Sequence[Sequence[float]]) -> list[list[int]]:
        return [[int(round(v)) for v in box] for box in boxes_xywh]

    def recenter(self, state: list[int], box_xywh: Sequence[float], weight: float) -> None:
        state[:] = [int(round((1 - weight) * s + weight * b)) for s, b in zip(state, box_xywh, strict=True)]

    def track_many(self, image_bgr: np.ndarray, states: list[list[int]]) -> list[Prediction]:
        predictions = []
        for state in states:
            state[0] += 1
            predictions.append(Prediction(square_mask(self.height, self.width, *state), 0.9))
        return predictions


def square_mask(height: int, width: int, x: int, y: int, w: int, h: int) -> np.ndarray:
    mask = np.zeros((height, width), dtype=bool)
    mask[y : y + h, x : x + w] = True
    return mask


def grid_detections(
    height: int, width: int, origins: list[tuple[int, int]], squares: Sequence[int], dx: int, side: int
) -> Detections:
    """Detections of the squares ``squares`` (indices into ``origins``) moved ``dx`` px right;
    a square's label is ``index % 7 + 1`` (so the class vote can be checked)."""
    corners = [origins[i] for i in squares]
    masks = [encode_mask(square_mask(height, width, x + dx, y, side, side)) for x, y in corners]
    boxes = [[x + dx, y, x + dx + side, y + side] for x, y in corners]
    labels = [i % 7 + 1 for i in squares]
    return Detections(np.array(boxes), np.full(len(squares), 0.9), np.array(labels), masks)


def test_500_detections_in_one_frame_are_tracked_and_associated_correctly() -> None:
    side, pitch, columns = 4, 6, 25  # 4x4 squares 2 px apart, 25 x 20 grid
    origins = [(1 + pitch * (i % columns), 1 + pitch * (i // columns)) for i in range(500)]
    height, width = 1 + pitch * 20, 2 + pitch * columns
    image = np.zeros((height, width, 3), np.uint8)
    mot = MultiObjectTracker(ShiftingTracker(height, width), AssociationConfig(output_mask="detection"))
    mot.step(0, image, grid_detections(height, width, origins, range(500), 0, side))
    assert len(mot.tracks) == 500
    # frame 1: squares moved 2 px (the stand-in predicts 1 px: IoU 0.6 with the right square,
    # 0 with the neighbours), listed in shuffled order
    order = np.random.default_rng(0).permutation(500)
    shuffled = grid_detections(height, width, origins, order.tolist(), 2, side)
    mot.step(1, image, shuffled)
    mot.finish()
    assert len(mot.tracks) == 500  # every square matched, no duplicate births
    results = mot.results(video_id=3, num_frames=2, topk=500)
    assert len(results) == 500
    for entry in results:
        first, second = (decode_rle(s) for s in entry["segmentations"])
        ys, xs = np.nonzero(first)
        square = origins.index((int(xs.min()), int(ys.min())))
        assert np.array_equal(
            second, square_mask(height, width, origins[square][0] + 2, origins[square][1], 4, 4)
        )
        assert entry["category_id"] == square % 7 + 1


# ---------------------------------------------------------------- pipeline: extreme objects
def write_video(root: Path, name: str, masks: list[np.ndarray], seed: int) -> dict:
    """Textured frames (PNG) for a video with one mask per frame; returns its GT video entry."""
    rng = np.random.default_rng(seed)
    (root / "JPEGImages" / name).mkdir(parents=True)
    names = []
    for index, mask in enumerate(masks):
        frame = cv2.GaussianBlur(rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8), (5, 5), 0)
        frame[mask] = (40, 200, 240)
        names.append(f"{name}/{index:05d}.png")
        assert cv2.imwrite(str(root / "JPEGImages" / names[-1]), frame)
    return {"file_names": names, "length": len(names), "width": WIDTH, "height": HEIGHT}


def one_pixel(y: int, x: int) -> np.ndarray:
    mask = np.zeros((HEIGHT, WIDTH), dtype=bool)
    mask[y, x] = True
    return mask


def extreme_dataset(root: Path) -> tuple[Path, dict[int, list[list[np.ndarray]]]]:
    """Videos: 1 full-frame object; 2 two 1-pixel objects (one in a corner); 3 a one-frame video."""
    full = [np.ones((HEIGHT, WIDTH), dtype=bool)] * 4
    pixel = [one_pixel(30, 40 + i) for i in range(4)]
    corner = [one_pixel(HEIGHT - 1, WIDTH - 1)] * 4
    square = [square_mask(HEIGHT, WIDTH, 20, 20, 12, 12)]
    objects = {1: [full], 2: [pixel, corner], 3: [square]}
    videos, annotations = [], []
    for video_id, tracks in objects.items():
        video = write_video(root, f"v{video_id}", tracks[0], seed=video_id)
        videos.append({**video, "id": video_id})
        for masks in tracks:
            rles = [{"size": [HEIGHT, WIDTH], "counts": encode_mask(m)["counts"]} for m in masks]
            annotations.append(
                {"id": len(annotations) + 1, "video_id": video_id, "category_id": 1, "iscrowd": 0,
                 "segmentations": rles, "areas": [int(m.sum()) for m in masks]}
            )  # fmt: skip
    gt = {"videos": videos, "annotations": annotations, "categories": [{"id": 1, "name": "thing"}]}
    (root / "annotations.json").write_text(json.dumps(gt))
    return root, objects


def test_full_frame_one_pixel_and_one_frame_videos_run_to_valid_results(tmp_path: Path) -> None:
    dataset, objects = extreme_dataset(tmp_path / "extreme")
    run_dir = tmp_path / "run"
    summary = run_pipeline(compose_run_cfg(run_overrides(dataset, "submission=true")), run_dir)
    assert [(v["video_id"], v["status"], v["frames"]) for v in summary["videos"]] == [
        (1, "done", 4),
        (2, "done", 4),
        (3, "done", 1),
    ]
    results = json.loads((run_dir / "results.json").read_text())
    for video_id, tracks in objects.items():
        entries = [e for e in results if e["video_id"] == video_id]
        length = len(tracks[0])
        for entry in entries:
            assert len(entry["segmentations"]) == length and 0.0 <= entry["score"] <= 1.0
            for rle in entry["segmentations"]:
                assert rle is None or decode_rle(rle).shape == (HEIGHT, WIDTH)
        # every GT object starts a track whose first mask is that object's (births take the detection)
        first_masks = [decode_rle(next(s for s in e["segmentations"] if s)) for e in entries]
        for masks in tracks:
            assert any(np.array_equal(m, masks[0]) for m in first_masks), f"video {video_id}"
    assert (run_dir / "submission.zip").exists()


def test_siammask_init_and_track_on_a_1x1_and_a_full_frame_box() -> None:
    tracker = build_tracker(
        compose_run_cfg(["data.frames=.", "tracker=tiny", "tracker.checkpoint=null"]).tracker, "cpu"
    )
    frame = np.random.default_rng(0).integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8)
    boxes = [[40.0, 30.0, 1.0, 1.0], [0.0, 0.0, WIDTH, HEIGHT], [WIDTH - 1.0, HEIGHT - 1.0, 1.0, 1.0]]
    states = tracker.init_many(frame, boxes)
    for _ in range(2):
        predictions = tracker.track_many(frame, states)
        for prediction in predictions:
            assert prediction.mask.shape == (HEIGHT, WIDTH) and prediction.mask.dtype == bool
            assert np.isfinite(prediction.score)
        for state in states:
            assert np.isfinite(state.target_pos).all() and np.isfinite(state.target_sz).all()
