"""End to end on a tiny synthetic dataset: data layer -> oracle -> detect_video -> cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.data import VideoSource, load_ytvis_annotations
from vis_pipeline.data.fingerprint import video_fingerprint
from vis_pipeline.data.synth import SynthConfig, generate_dataset
from vis_pipeline.detect.cache import DetectionCache, detect_video
from vis_pipeline.detect.oracle import OracleDetector


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synth")
    generate_dataset(out, seed=11, videos=2, cfg=SynthConfig(width=160, height=120, frames=6))
    return out


def test_oracle_through_detect_video_equals_gt_and_is_cached(dataset: Path, tmp_path: Path) -> None:
    ann = dataset / "annotations.json"
    gt = load_ytvis_annotations(ann)
    videos, failures = VideoSource(dataset / "JPEGImages", ann).videos_and_failures()
    assert not failures and len(videos) == 2
    detector = OracleDetector.from_config({"seed": 0}, ann)
    cache = DetectionCache(tmp_path / "cache")
    for video in videos:
        fp = video_fingerprint(video)
        dets, from_cache = detect_video(detector, video, cache, batch_size=4, progress=False, fingerprint=fp)
        assert not from_cache
        assert len(dets) == video.length
        for t, frame_dets in enumerate(dets):
            expected = [
                (track.category_id, masks[t])
                for track in gt.tracks_of(video.video_id)
                if (masks := gt.track_masks(track))[t] is not None
            ]
            assert [(int(c), m) for c, m in zip(frame_dets.labels, frame_dets.masks, strict=True)] == expected
            np.testing.assert_array_equal(frame_dets.scores, 1.0)
        assert cache.path(video, detector.cache_key(), fp).exists()

    class Exploding:
        """Same key as the oracle, but running it is an error: the rerun must come from the cache."""

        def cache_key(self) -> str:
            return detector.cache_key()

        def detect(self, frames, video=None, frame_indices=None):
            raise AssertionError("detector ran although the cache was valid")

    for video in videos:
        again, from_cache = detect_video(
            Exploding(), video, cache, progress=False, fingerprint=video_fingerprint(video)
        )
        assert from_cache
        fresh, _ = detect_video(detector, video, None, progress=False)
        assert [d.masks for d in again] == [d.masks for d in fresh]
