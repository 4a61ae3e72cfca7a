"""Results writer: entries, atomic JSON, top-k per video, deterministic merge."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from pycocotools import mask as mask_utils

from vis_pipeline.masks import decode_rle, encode_mask
from vis_pipeline.results import (
    ResultsError,
    merge_results,
    topk_per_video,
    track_result,
    write_results_json,
)


def square(h: int = 40, w: int = 60) -> np.ndarray:
    mask = np.zeros((h, w), dtype=np.uint8)
    mask[5:20, 10:30] = 1
    return mask


def entry(video_id: int, score: float, tag: str = "") -> dict:
    return {"video_id": video_id, "category_id": 1, "score": score, "segmentations": [None], "tag": tag}


def test_track_result_writes_compressed_str_rle_and_null_frames() -> None:
    mask = square()
    bytes_rle = mask_utils.encode(np.asfortranarray(mask))  # counts as bytes
    uncompressed = {"size": [40, 60], "counts": [100, 50, 40 * 60 - 150]}  # 50 px, column-major
    result = track_result(7, 3, np.float32(0.5), [encode_mask(mask), None, bytes_rle, uncompressed])
    assert result["video_id"] == 7 and result["category_id"] == 3
    assert isinstance(result["score"], float) and result["score"] == 0.5
    segs = result["segmentations"]
    assert segs[1] is None and all(isinstance(s["counts"], str) for s in segs if s)
    assert np.array_equal(decode_rle(segs[0]), mask.astype(bool)) and np.array_equal(
        decode_rle(segs[2]), mask
    )
    decoded = decode_rle(segs[3])  # column-major runs: skip 100 px, then rows 20-39 of col 2, 0-29 of col 3
    assert decoded.sum() == 50 and decoded[20:, 2].all() and decoded[:30, 3].all()
    json.dumps(result)  # JSON-serialisable as is


def test_track_result_rejects_bad_input() -> None:
    with pytest.raises(ResultsError, match="expected the original size 80x120"):
        track_result(1, 1, 0.5, [encode_mask(square())], expected_size=(80, 120))
    with pytest.raises(ResultsError, match="different sizes"):
        track_result(1, 1, 0.5, [encode_mask(square()), encode_mask(square(30, 30))])
    with pytest.raises(ResultsError, match="not finite"):
        track_result(1, 1, float("nan"), [None])
    with pytest.raises(ResultsError, match="frame 0 is not an RLE dict"):
        track_result(1, 1, 0.5, [[[0.0, 0.0, 5.0, 0.0, 5.0, 5.0]]])  # type: ignore[list-item]


def test_topk_per_video_keeps_best_scores_stably() -> None:
    results = [
        entry(2, 0.3, "a"),
        entry(1, 0.9, "b"),
        entry(2, 0.8, "c"),
        entry(2, 0.3, "d"),
        entry(2, 0.5, "e"),
    ]
    kept = topk_per_video(results, k=3)
    assert [(r["video_id"], r["tag"]) for r in kept] == [(1, "b"), (2, "c"), (2, "e"), (2, "a")]
    assert [r["tag"] for r in topk_per_video(results, k=1)] == ["b", "c"]
    assert topk_per_video(results, k=0) == []
    with pytest.raises(ResultsError):
        topk_per_video(results, k=-1)


def test_merge_results_is_deterministic() -> None:
    per_video = [[entry(3, 0.2, "x"), entry(3, 0.7, "y")], [entry(1, 0.1, "z")], [], [entry(3, 0.7, "w")]]
    merged = merge_results(per_video)
    assert [r["tag"] for r in merged] == ["z", "y", "w", "x"]
    assert merge_results(list(reversed(per_video[:2])) + per_video[2:]) == merged


def test_write_results_json_is_atomic_and_readable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "run" / "results.json"
    results = [track_result(1, 2, 0.75, [encode_mask(square()), None])]
    assert write_results_json(results, path) == path
    assert json.loads(path.read_text()) == results

    # A crash during the write leaves the previous file intact and no temp file behind.
    def failing_replace(src: str, dst: str) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_results_json([], path)
    assert json.loads(path.read_text()) == results
    assert [p.name for p in path.parent.iterdir()] == ["results.json"]
