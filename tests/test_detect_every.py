"""detect_every=k: the detector sees every k-th frame only, the cache is keyed on k, and the frames
in between are SiamMask-only (tracks coast on their predicted masks; no births or deaths there)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from test_detect_cache import FP, CountingDetector, make_video
from test_track_lifecycle import ConstantVelocityTracker, dets, present, preset, rect

from vis_pipeline.detect.cache import DetectionCache, detect_video
from vis_pipeline.track.mot import MultiObjectTracker
from vis_pipeline.types import Detections


class RecordingDetector(CountingDetector):
    def __init__(self) -> None:
        super().__init__("k1")
        self.indices: list[int] = []

    def detect(self, frames, video=None, frame_indices=None):
        self.indices += list(frame_indices or [])
        return super().detect(frames, video, frame_indices)


def test_the_detector_sees_every_kth_frame_and_the_cache_keys_on_k(tmp_path: Path) -> None:
    video, cache = make_video(7), DetectionCache(tmp_path)
    det = RecordingDetector()
    every2, from_cache = detect_video(
        det, video, cache, batch_size=2, progress=False, fingerprint=FP, detect_every=2
    )
    assert det.indices == [0, 2, 4, 6] and not from_cache
    assert [d is not None for d in every2] == [True, False, True, False, True, False, True]
    again, from_cache = detect_video(det, video, cache, progress=False, fingerprint=FP, detect_every=2)
    assert from_cache and [d is None for d in again] == [d is None for d in every2]
    every1, from_cache = detect_video(det, video, cache, progress=False, fingerprint=FP)
    assert not from_cache and all(d is not None for d in every1)  # k=1 is another cache entry
    assert det.indices[-7:] == list(range(7))


def _run(frames: list[Detections | None], tracker) -> tuple[MultiObjectTracker, list[dict]]:
    mot = MultiObjectTracker(tracker, preset("paper", max_lost=1))
    for t, frame_dets in enumerate(frames):
        image = np.zeros((60, 100, 3), np.uint8)
        if frame_dets is None:
            mot.coast(t, image)
        else:
            mot.step(t, image, frame_dets)
    mot.finish()
    return mot, mot.results(video_id=1, num_frames=len(frames))


def test_frames_between_detections_output_tracker_masks_and_never_birth() -> None:
    # the object moves 2 px per frame; the stand-in tracker follows it; detections on even frames;
    # a second object is visible only on odd frames: it is never born (births need the detector)
    frames: list[Detections | None] = []
    for t in range(6):
        frames.append(dets((rect(10 + 2 * t, 20), 0.9, 1)) if t % 2 == 0 else None)
    tracker = ConstantVelocityTracker(lambda box: (2.0, 0.0))
    mot, res = _run(frames, tracker)
    assert len(mot.tracks) == 1 and present(res[0]) == list(range(6))
    for t in (1, 3, 5):  # coasted frames carry SiamMask's predicted mask
        from vis_pipeline.masks import decode_rle

        assert np.array_equal(decode_rle(res[0]["segmentations"][t]), rect(10 + 2 * t, 20))
    assert tracker.inits == 1


def test_max_lost_counts_detector_frames_only() -> None:
    # unmatched on detector frame 2; with max_lost=1 the track survives the coasted frames 1 and 3
    # and dies only after a second unmatched detector frame (frame 4)
    obj = rect(10, 20)
    frames = [dets((obj, 0.9, 1)), None, Detections.empty(), None, Detections.empty(), None]
    mot, _ = _run(frames, ConstantVelocityTracker(lambda box: (40.0, 0.0)))
    (track,) = mot.tracks
    assert not track.is_alive and track.lost_frames == 2
