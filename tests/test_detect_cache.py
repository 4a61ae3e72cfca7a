"""Detection cache: round trip, reuse without the detector, corrupt/stale files recomputed."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from vis_pipeline.detect.cache import DetectionCache, detect_video
from vis_pipeline.masks import encode_mask
from vis_pipeline.types import Detections

FP = "0123456789abcdef0123456789abcdef"  # a video content fingerprint (the real ones hash the frames)


@dataclass
class FakeVideo:
    video_id: int
    name: str
    width: int
    height: int
    frames: list[np.ndarray] = field(default_factory=list)

    @property
    def length(self) -> int:
        return len(self.frames)

    def iter_frames(self):
        yield from self.frames


class CountingDetector:
    """Deterministic detector: one square per frame whose position depends on the frame content."""

    def __init__(self, key: str = "k1") -> None:
        self.calls = 0
        self.frames_seen = 0
        self.key = key

    def cache_key(self) -> str:
        return self.key

    def detect(self, frames, video=None, frame_indices=None):
        self.calls += 1
        self.frames_seen += len(frames)
        out = []
        for frame in frames:
            h, w = frame.shape[:2]
            x = int(frame[0, 0, 0]) % (w - 8)
            mask = np.zeros((h, w), bool)
            mask[2:9, x : x + 7] = True
            out.append(
                Detections(
                    np.array([[x, 2, x + 7, 9]], np.float32) + np.float32(0.1),
                    np.array([0.1234567], np.float32),
                    np.array([3]),
                    [encode_mask(mask)],
                )
            )
        return out


def make_video(n: int = 5, name: str = "vid_a", h: int = 24, w: int = 32) -> FakeVideo:
    frames = [np.full((h, w, 3), 7 * i, np.uint8) for i in range(n)]
    return FakeVideo(1, name, w, h, frames)


def assert_same(a: list[Detections], b: list[Detections]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x.boxes, y.boxes)
        np.testing.assert_array_equal(x.scores, y.scores)
        np.testing.assert_array_equal(x.labels, y.labels)
        assert x.masks == y.masks
        assert x.boxes.dtype == y.boxes.dtype and x.scores.dtype == y.scores.dtype


def test_round_trip_is_exact_and_second_run_skips_detector(tmp_path: Path) -> None:
    video, cache, det = make_video(), DetectionCache(tmp_path), CountingDetector()
    first, from_cache = detect_video(det, video, cache, batch_size=2, progress=False, fingerprint=FP)
    assert det.calls == 3 and det.frames_seen == 5 and not from_cache  # batches of 2, 2, 1
    second, from_cache = detect_video(det, video, cache, batch_size=2, progress=False, fingerprint=FP)
    assert det.calls == 3 and from_cache  # served from the cache
    assert_same(first, second)
    assert_same(first, cache.load(video, "k1", FP))


def test_empty_frames_round_trip(tmp_path: Path) -> None:
    video, cache = make_video(3), DetectionCache(tmp_path)
    dets = [Detections.empty() for _ in range(3)]
    cache.save(video, "k", FP, dets)
    assert_same(cache.load(video, "k", FP), dets)


def _corrupt_truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[:-20])


def _corrupt_header(path: Path) -> None:
    path.write_bytes(b"{not json\n" + path.read_bytes().partition(b"\n")[2])


def _corrupt_body_keep_length(path: Path) -> None:
    data = bytearray(path.read_bytes())
    i = data.index(b'"scores":[') + len(b'"scores":[')
    data[i] = ord("9") if data[i] != ord("9") else ord("8")
    path.write_bytes(bytes(data))


def _no_newline(path: Path) -> None:
    path.write_bytes(path.read_bytes().partition(b"\n")[0])


@pytest.mark.parametrize(
    "corrupt", [_corrupt_truncate, _corrupt_header, _corrupt_body_keep_length, _no_newline]
)
def test_corrupt_file_is_recomputed_with_warning(tmp_path: Path, corrupt, caplog) -> None:
    video, cache, det = make_video(), DetectionCache(tmp_path), CountingDetector()
    first, _ = detect_video(det, video, cache, progress=False, fingerprint=FP)
    corrupt(cache.path(video, "k1", FP))
    with caplog.at_level(logging.WARNING, logger="vis_pipeline.detect.cache"):
        assert cache.load(video, "k1", FP) is None
    assert "recomputing" in caplog.text
    calls = det.calls
    again, from_cache = detect_video(det, video, cache, progress=False, fingerprint=FP)
    assert det.calls > calls and not from_cache
    assert_same(first, again)
    assert cache.load(video, "k1", FP) is not None  # rewritten whole


def test_stale_frame_count_or_size_is_recomputed(tmp_path: Path) -> None:
    cache, det = DetectionCache(tmp_path), CountingDetector()
    detect_video(det, make_video(5), cache, progress=False, fingerprint=FP)
    longer = make_video(6)
    assert cache.load(longer, "k1", FP) is None
    bigger = make_video(5, h=30)
    assert cache.load(bigger, "k1", FP) is None
    calls = det.calls
    dets, _ = detect_video(det, longer, cache, progress=False, fingerprint=FP)
    assert det.calls > calls and len(dets) == 6


def test_stale_key_in_header_is_rejected(tmp_path: Path) -> None:
    video, cache = make_video(), DetectionCache(tmp_path)
    detect_video(CountingDetector("k1"), video, cache, progress=False, fingerprint=FP)
    # a file copied under another key directory must not be trusted
    src = cache.path(video, "k1", FP)
    dst = cache.path(video, "k2", FP)
    dst.parent.mkdir(parents=True)
    dst.write_bytes(src.read_bytes())
    assert cache.load(video, "k2", FP) is None
    header = json.loads(src.read_bytes().partition(b"\n")[0])
    assert header["key"] == "k1" and header["num_frames"] == 5


def test_other_key_recomputes_and_keeps_both(tmp_path: Path) -> None:
    video, cache = make_video(), DetectionCache(tmp_path)
    a, b = CountingDetector("ka"), CountingDetector("kb")
    detect_video(a, video, cache, progress=False, fingerprint=FP)
    detect_video(b, video, cache, progress=False, fingerprint=FP)
    detect_video(a, video, cache, progress=False, fingerprint=FP)
    assert a.calls == 5 and b.calls == 5  # one frame per call, each detector ran once per frame


def test_unsafe_video_name_gets_a_safe_file_name(tmp_path: Path) -> None:
    video = make_video(2, name="../evil name")
    cache = DetectionCache(tmp_path)
    path = cache.save(video, "k", FP, [Detections.empty(), Detections.empty()])
    assert path.parent == tmp_path / "k" and ".." not in path.name
    assert cache.load(video, "k", FP) is not None


def test_save_rejects_wrong_frame_count(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="2 frames of detections"):
        DetectionCache(tmp_path).save(make_video(3), "k", FP, [Detections.empty()] * 2)


def test_another_content_under_the_same_name_is_never_reused(tmp_path: Path) -> None:
    video, cache, det = make_video(), DetectionCache(tmp_path), CountingDetector()
    detect_video(det, video, cache, progress=False, fingerprint=FP)
    calls = det.calls
    other = "fedcba9876543210fedcba9876543210"  # same name, size and length; other frames
    assert cache.load(video, "k1", other) is None
    _, from_cache = detect_video(det, video, cache, progress=False, fingerprint=other)
    assert det.calls > calls and not from_cache
    _, from_cache = detect_video(det, video, cache, progress=False, fingerprint=FP)
    assert from_cache  # both contents stay cached side by side


def test_unwritable_cache_warns_once_and_the_detections_still_come_back(tmp_path: Path, capsys) -> None:
    blocker = tmp_path / "not_a_dir"
    blocker.write_text("a file where the cache folder should be")
    cache, det = DetectionCache(blocker / "cache"), CountingDetector()
    for _ in range(2):
        dets, from_cache = detect_video(det, make_video(), cache, progress=False, fingerprint=FP)
        assert len(dets) == 5 and not from_cache
    err = capsys.readouterr().err
    assert err.count("detection cache not written") == 1 and str(blocker / "cache") in err
