"""The default association's additions for occlusions, leave-and-return and crossings: the motion
term, tracklet stitching (vis_pipeline.track.stitch) and the lifecycle pieces they use; hand-built
cases with the stand-in trackers of test_track_lifecycle."""

import numpy as np
import pytest
from test_track_lifecycle import ConstantVelocityTracker, H, W, dets, present, preset, rect, run

from vis_pipeline.masks import decode_rle, encode_mask
from vis_pipeline.track.association import moved_mask
from vis_pipeline.track.stitch import StitchParams, Tracklet, at_border, pair_affinity, stitch_groups
from vis_pipeline.types import Detections

PARAMS = StitchParams(max_gap=10, radius=3.0, min_affinity=0.1, window=3)


def tracklet(frames, x0, vx, y0=20.0, vy=0.0, category=1, size=12.0) -> Tracklet:
    """A track of a ``size`` box moving at (vx, vy) px per frame from (x0, y0) at frame 0."""
    boxes = {f: np.array([x0 + vx * f, y0 + vy * f, size, size]) for f in frames}
    return Tracklet(tuple(frames), boxes, category)


def test_moved_mask_shifts_and_clips_at_the_frame():
    mask = encode_mask(rect(10, 20))
    assert np.array_equal(decode_rle(moved_mask(mask, np.array([5.2, -3.0]))), rect(15, 17))
    assert np.array_equal(decode_rle(moved_mask(mask, np.array([-14.0, 0.0]))), rect(-4, 20))
    assert not decode_rle(moved_mask(mask, np.array([200.0, 0.0]))).any()


def test_at_border():
    assert at_border(np.array([0.0, 20, 12, 12]), (H, W)) and at_border(np.array([88.0, 20, 12, 12]), (H, W))
    assert not at_border(np.array([40.0, 20, 12, 12]), (H, W))


def test_occluded_object_continues_on_its_path():
    before = tracklet(range(0, 5), x0=10, vx=4)
    after = tracklet(range(9, 14), x0=10, vx=4)  # hidden on frames 5-8, reappears where expected
    assert pair_affinity(before, after, PARAMS, (H, W)) == pytest.approx(1.0)
    elsewhere = tracklet(range(9, 14), x0=-40, vx=4)  # 50 px (4 sizes) off the path
    assert pair_affinity(before, elsewhere, PARAMS, (H, W)) == 0.0
    assert pair_affinity(before, tracklet(range(9, 14), 10, 4, category=2), PARAMS, (H, W)) == 0.0
    late = tracklet(range(16, 20), x0=10, vx=4)  # gap of 12 frames > max_gap
    assert pair_affinity(before, late, PARAMS, (H, W)) == 0.0


def test_leaving_and_returning_through_an_edge_is_judged_by_where_it_left():
    # Leaves through the left edge (frames 0-3), comes back through it 8 px lower after 8 frames.
    out = tracklet(range(0, 4), x0=12, vx=-4)
    back = Tracklet(
        tuple(range(12, 16)), {f: np.array([4.0 * (f - 12), 28, 12, 12]) for f in range(12, 16)}, 1
    )
    assert pair_affinity(out, back, PARAMS, (H, W)) > 0.5
    # The same return far from the edge (motion extrapolation alone) is no link.
    inside = Tracklet(back.frames, {f: b + np.array([40.0, 0, 0, 0]) for f, b in back.boxes.items()}, 1)
    assert pair_affinity(out, inside, PARAMS, (H, W)) == 0.0


def test_a_short_track_inside_another_tracks_gap_is_merged_but_not_an_interleaved_one():
    main = tracklet([0, 1, 2, 3, 7, 8, 9], x0=10, vx=4)
    inside = tracklet([5], x0=10, vx=4)  # matched once: no velocity of its own (8 px back-projection error)
    assert pair_affinity(main, inside, PARAMS, (H, W)) == pytest.approx(1 - 4 / 36)
    interleaved = tracklet([2, 5], x0=10, vx=4)
    assert pair_affinity(main, interleaved, PARAMS, (H, W)) == 0.0
    assert stitch_groups([main, interleaved, inside], PARAMS, (H, W)) == [[0, 2], [1]]


def test_greedy_groups_chain_fragments_and_keep_two_objects_apart():
    a1, a2, a3 = tracklet(range(0, 4), 10, 4), tracklet(range(6, 8), 10, 4), tracklet(range(10, 14), 10, 4)
    b = tracklet(range(5, 14), x0=80, vx=-2, y0=40)  # same class, elsewhere, overlaps a2 and a3
    assert stitch_groups([a1, b, a2, a3], PARAMS, (H, W)) == [[0, 2, 3], [1]]


def test_stitching_joins_a_track_the_online_pass_lost_behind_a_pole():
    # Moving right at 4 px per frame, hidden on frames 4-8; max_lost=2 ends the first track.
    frames = [
        dets((rect(10 + 4 * t, 20), 0.9, 1)) if not 4 <= t <= 8 else Detections.empty() for t in range(14)
    ]
    tracker = ConstantVelocityTracker(lambda box: (4.0, 0.0))
    cfg = preset("default", max_lost=2, stitch_max_gap=0)
    online, res = run(frames, cfg, tracker)
    assert len(res) == 2
    stitched, res = run(
        frames, preset("default", max_lost=2), ConstantVelocityTracker(lambda box: (4.0, 0.0))
    )
    assert len(res) == 1 and present(res[0]) == [0, 1, 2, 3, 9, 10, 11, 12, 13]
    assert res[0]["score"] > 0 and stitched.tracks[0].hits == 9


def test_a_different_object_of_the_same_class_elsewhere_stays_its_own_track():
    frames = (
        [dets((rect(10, 10), 0.9, 1))] * 3 + [Detections.empty()] * 4 + [dets((rect(70, 40), 0.9, 1))] * 3
    )
    _, res = run(frames, preset("default", max_lost=1))
    assert sorted(present(r) for r in res) == [[0, 1, 2], [7, 8, 9]]


def _crossing_frames():
    # A moves right (6 px per frame), B left (3 px), same class and row; they pass between frames 5
    # and 6, where B lands exactly where A was.
    frames = []
    for t in range(11):
        a, b = rect(10 + 6 * t, 20), rect(58 - 3 * t, 20)
        frames.append(dets((b, 0.9, 1), (a, 0.9, 1)))
    return frames


@pytest.mark.parametrize(("motion_weight", "keeps"), [(0.0, False), (0.5, True)])
def test_motion_term_keeps_identities_where_a_tracker_that_lags_swaps_them(motion_weight, keeps):
    # The stand-in predicts each object where its detection was on the previous frame (no motion of
    # its own, like a tracker re-centred on every detection that does not follow fast objects):
    # after A and B met, last frame's A overlaps this frame's B as much as this frame's A, and only
    # their motion tells them apart.
    cfg = preset(
        "default", motion_weight=motion_weight, stitch_max_gap=0, iou_thr=0.2, output_mask="detection"
    )
    mot, _ = run(_crossing_frames(), cfg, ConstantVelocityTracker())
    track_a = next(t for t in mot.tracks if np.array_equal(decode_rle(t.masks[0]), rect(10, 20)))
    assert len(mot.tracks) == 2
    assert np.array_equal(decode_rle(track_a.masks[10]), rect(70, 20)) == keeps
