"""Oracle detector: zero noise == GT, determinism by (seed, video, frame), each knob acts."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.data import DataError, YTVISAnnotations, load_ytvis_annotations
from vis_pipeline.detect.base import DetectorConfigError
from vis_pipeline.detect.oracle import OracleDetector, OracleNoise
from vis_pipeline.masks import decode_rle, encode_mask, rle_area, rle_iou_matrix

H, W, N_FRAMES = 60, 80, 6


@dataclass
class Vid:
    video_id: int
    name: str = "v"
    width: int = W
    height: int = H
    length: int = N_FRAMES


def _square(x: int, y: int, s: int) -> np.ndarray:
    m = np.zeros((H, W), bool)
    m[y : y + s, x : x + s] = True
    return m


def make_gt() -> dict:
    """Video 1: two tracks (cat 1 all frames, cat 2 absent in frame 2); video 2: one polygon track."""
    track_a = [encode_mask(_square(5 + 3 * t, 10, 15)) for t in range(N_FRAMES)]
    track_b = [None if t == 2 else encode_mask(_square(50, 30 + t, 12)) for t in range(N_FRAMES)]
    poly = [[[10.0, 10.0, 40.0, 10.0, 40.0, 40.0, 10.0, 40.0]] for _ in range(N_FRAMES)]
    return {
        "videos": [
            {
                "id": 1,
                "width": W,
                "height": H,
                "length": N_FRAMES,
                "file_names": [f"a/{t}.jpg" for t in range(6)],
            },
            {
                "id": 2,
                "width": W,
                "height": H,
                "length": N_FRAMES,
                "file_names": [f"b/{t}.jpg" for t in range(6)],
            },
        ],
        "annotations": [
            {"id": 1, "video_id": 1, "category_id": 1, "iscrowd": 0, "segmentations": track_a},
            {"id": 2, "video_id": 1, "category_id": 2, "iscrowd": 0, "segmentations": track_b},
            {"id": 3, "video_id": 2, "category_id": 3, "iscrowd": 0, "segmentations": poly},
        ],
        "categories": [{"id": i, "name": f"c{i}"} for i in (1, 2, 3, 4)],
    }


@pytest.fixture(scope="module")
def gt(tmp_path_factory: pytest.TempPathFactory) -> YTVISAnnotations:
    path = tmp_path_factory.mktemp("gt") / "gt.json"
    path.write_text(json.dumps(make_gt()))
    return load_ytvis_annotations(path)


@pytest.fixture()
def oracle(gt: YTVISAnnotations):
    def build(seed: int = 5, **noise) -> OracleDetector:
        return OracleDetector.from_annotations(gt, OracleNoise(**noise), seed=seed, gt_id="test")

    return build


def run(det: OracleDetector, video_id: int = 1, frames: list[int] | None = None):
    frames = list(range(N_FRAMES)) if frames is None else frames
    images = [np.zeros((H, W, 3), np.uint8)] * len(frames)
    return det.detect(images, video=Vid(video_id), frame_indices=frames)


def test_zero_noise_is_exactly_gt(oracle) -> None:
    gt = make_gt()
    dets = run(oracle())
    for t, d in enumerate(dets):
        expected = [a["segmentations"][t] for a in gt["annotations"][:2] if a["segmentations"][t] is not None]
        assert d.masks == expected
        np.testing.assert_array_equal(d.scores, np.ones(len(expected), np.float32))
        np.testing.assert_array_equal(d.labels, [1, 2] if t != 2 else [1])
    x0 = 5 + 3 * 4
    np.testing.assert_array_equal(dets[4].boxes[0], [x0, 10, x0 + 15, 25])
    poly = run(oracle(), video_id=2)[0]
    assert rle_area(poly.masks[0]) > 0 and poly.labels.tolist() == [3]


def test_deterministic_and_independent_of_call_order(oracle) -> None:
    noisy = dict(
        miss_rate=0.3,
        false_positives=1.5,
        morph_pixels=2,
        shift_pixels=3,
        score_noise=0.2,
        class_confusion=0.3,
    )
    forward = run(oracle(**noisy))
    backward = run(oracle(**noisy), frames=list(range(N_FRAMES))[::-1])[::-1]
    single = [run(oracle(**noisy), frames=[t])[0] for t in range(N_FRAMES)]
    for a, b, c in zip(forward, backward, single, strict=True):
        assert a.masks == b.masks == c.masks
        np.testing.assert_array_equal(a.scores, b.scores)
        np.testing.assert_array_equal(a.labels, c.labels)
    other_seed = oracle(seed=6, **noisy)
    assert any(a.masks != b.masks for a, b in zip(forward, run(other_seed), strict=True))


def _count(dets) -> int:
    return sum(len(d) for d in dets)


def test_miss_rate_drops_detections(oracle) -> None:
    assert _count(run(oracle(miss_rate=1.0))) == 0
    partial = _count(run(oracle(miss_rate=0.5)))
    assert 0 < partial < _count(run(oracle()))


def test_false_positives_add_low_score_detections(oracle) -> None:
    dets = run(oracle(false_positives=3.0, fp_score=(0.1, 0.2)))
    extra = _count(dets) - _count(run(oracle()))
    assert extra > 0
    low = np.concatenate([d.scores for d in dets])
    assert ((low >= 0.1) & (low <= 0.2)).sum() == extra
    assert all(d.scores.tolist() == sorted(d.scores.tolist(), reverse=True) for d in dets)


def test_morph_changes_area_and_shift_moves_mask(oracle) -> None:
    clean = run(oracle())
    morphed = run(oracle(morph_pixels=3))
    areas_clean = [rle_area(m) for d in clean for m in d.masks]
    areas_morph = [rle_area(m) for d in morphed for m in d.masks]
    assert areas_clean != areas_morph
    shifted = run(oracle(shift_pixels=4))
    ious = [
        rle_iou_matrix([a], [b])[0, 0]
        for c, s in zip(clean, shifted, strict=True)
        for a, b in zip(c.masks, s.masks, strict=True)
    ]
    assert min(ious) < 1.0
    # boxes follow the noisy mask
    m = decode_rle(shifted[0].masks[0])
    ys, xs = np.nonzero(m)
    np.testing.assert_array_equal(shifted[0].boxes[0], [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])


def test_score_noise_and_class_confusion(oracle) -> None:
    scores = np.concatenate([d.scores for d in run(oracle(score_noise=0.3))])
    assert scores.max() <= 1.0 and scores.min() >= 0.01 and (scores < 1.0).any()
    labels = np.concatenate([d.labels for d in run(oracle(class_confusion=1.0))])
    clean = np.concatenate([d.labels for d in run(oracle())])
    assert (labels != clean).all() and set(labels.tolist()) <= {1, 2, 3, 4}


def test_one_knob_does_not_reshuffle_another(oracle) -> None:
    a = run(oracle(shift_pixels=3))
    b = run(oracle(shift_pixels=3, score_noise=0.2))
    # same masks per frame (the order may differ: detections are sorted by score)
    assert [sorted(m["counts"] for m in d.masks) for d in a] == [
        sorted(m["counts"] for m in d.masks) for d in b
    ]


def test_errors(oracle) -> None:
    with pytest.raises(DetectorConfigError, match="frame_indices"):
        oracle().detect([np.zeros((H, W, 3), np.uint8)])
    with pytest.raises(DetectorConfigError, match="video id 9"):
        run(oracle(), video_id=9)
    with pytest.raises(DetectorConfigError, match="miss_rate"):
        OracleNoise(miss_rate=1.5)


def test_from_config_and_cache_key(tmp_path: Path) -> None:
    gt_path = tmp_path / "gt.json"
    gt_path.write_text(json.dumps(make_gt()))
    cfg = {"seed": 0, "miss_rate": 0.0, "fp_size": [0.05, 0.25], "fp_score": [0.05, 0.6]}
    a = OracleDetector.from_config(cfg, gt_path)
    assert a.cache_key() == OracleDetector.from_config(cfg, gt_path).cache_key()
    assert a.cache_key() != OracleDetector.from_config({**cfg, "miss_rate": 0.1}, gt_path).cache_key()
    assert a.cache_key() != OracleDetector.from_config({**cfg, "seed": 1}, gt_path).cache_key()
    with pytest.raises(DataError, match="missing.json"):
        OracleDetector.from_config(cfg, tmp_path / "missing.json")
