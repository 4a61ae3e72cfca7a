import numpy as np
import pytest

from vis_pipeline.masks import encode_mask
from vis_pipeline.track.association import gated_mask_affinity, linear_assignment
from vis_pipeline.types import Detections


def associate(track_masks, det_masks, iou_thr, track_labels=None, det_labels=None, class_gate=False):
    """The production path of one frame's first association (gated IoU, then Hungarian)."""
    n, m = len(track_masks), len(det_masks)
    labels = np.ones(m, np.int64) if det_labels is None else np.asarray(det_labels)
    dets = Detections(np.zeros((m, 4)), np.ones(m), labels, det_masks)
    tl = np.ones(n, np.int64) if track_labels is None else np.asarray(track_labels)
    return linear_assignment(gated_mask_affinity(track_masks, tl, dets, class_gate)[1], iou_thr)


def box_mask(x0: int, y0: int, x1: int, y1: int, h: int = 40, w: int = 60) -> dict:
    m = np.zeros((h, w), bool)
    m[y0:y1, x0:x1] = True
    return encode_mask(m)


def test_empty_inputs():
    for shape in [(0, 0), (0, 3), (2, 0)]:
        m = linear_assignment(np.zeros(shape), 0.5)
        assert m.pairs.shape == (0, 2)
        assert list(m.unmatched_tracks) == list(range(shape[0]))
        assert list(m.unmatched_dets) == list(range(shape[1]))


def test_maximises_total_iou_not_greedy():
    # Greedy would take (0,0)=0.9 and leave track 1 with 0.0; Hungarian takes 0.8+0.85.
    iou = np.array([[0.9, 0.8], [0.85, 0.0]])
    m = linear_assignment(iou, 0.3)
    assert m.pairs.tolist() == [[0, 1], [1, 0]]
    np.testing.assert_allclose(m.ious, [0.8, 0.85])


def test_threshold_drops_weak_pairs():
    iou = np.array([[0.2, 0.0], [0.0, 0.7]])
    m = linear_assignment(iou, 0.3)
    assert m.pairs.tolist() == [[1, 1]]
    assert m.unmatched_tracks.tolist() == [0]
    assert m.unmatched_dets.tolist() == [0]


def test_more_dets_than_tracks_and_vice_versa():
    tracks = [box_mask(0, 0, 10, 10), box_mask(30, 10, 45, 30)]
    dets = [box_mask(31, 10, 45, 30), box_mask(50, 0, 60, 5), box_mask(0, 1, 10, 10)]
    m = associate(tracks, dets, 0.5)
    assert m.pairs.tolist() == [[0, 2], [1, 0]]
    assert m.unmatched_dets.tolist() == [1]
    m2 = associate(dets, tracks, 0.5)
    assert m2.pairs.tolist() == [[0, 1], [2, 0]]
    assert m2.unmatched_tracks.tolist() == [1]


@pytest.mark.parametrize("thr", [0.0, 0.5])
def test_disjoint_masks_never_match(thr):
    m = associate([box_mask(0, 0, 5, 5)], [box_mask(20, 20, 30, 30)], thr)
    assert len(m.pairs) == 0


def test_class_gate_zeroes_cross_class_affinity_but_keeps_raw_iou():
    t = [box_mask(0, 0, 10, 10)]
    d = [box_mask(0, 0, 10, 10), box_mask(0, 0, 10, 10)]
    dets = Detections(np.zeros((2, 4)), np.ones(2), np.array([1, 2]), d)
    iou, affinity = gated_mask_affinity(t, np.array([2]), dets, class_gate=True)
    np.testing.assert_allclose(iou, [[1.0, 1.0]])
    np.testing.assert_allclose(affinity, [[0.0, 1.0]])
    assert associate(t, d, 0.5, [2], [1, 2], class_gate=True).pairs.tolist() == [[0, 1]]


def test_matches_without_removes_later_pairs_from_unmatched_sets():
    from vis_pipeline.track.association import Matches

    m = linear_assignment(np.array([[0.9, 0.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]), 0.3)
    assert m.unmatched_tracks.tolist() == [1, 2] and m.unmatched_dets.tolist() == [1, 2]
    rest = m.without(np.array([[2, 1]]))
    assert isinstance(rest, Matches)
    assert rest.pairs.tolist() == [[0, 0]]
    assert rest.unmatched_tracks.tolist() == [1] and rest.unmatched_dets.tolist() == [2]


def test_recover_lost_returns_pairs_in_original_indices():
    from vis_pipeline.track.association import recover_lost

    # track 0 matched (det 0); track 1 lost, its last mask near det 2; track 2 never matched
    last = [box_mask(0, 0, 10, 10), box_mask(40, 20, 50, 30), None]
    masks = [box_mask(0, 0, 10, 10), box_mask(0, 30, 5, 35), box_mask(42, 20, 52, 30)]
    boxes = np.array([[0, 0, 10, 10], [0, 30, 5, 35], [42, 20, 52, 30]], float)
    dets = Detections(boxes, np.ones(3), np.array([1, 1, 1]), masks)
    m = linear_assignment(np.array([[1.0, 0, 0], [0, 0, 0], [0, 0, 0]]), 0.3)
    pairs = recover_lost(last, np.array([1, 1, 1]), dets, m, 0.3, 4.0)
    assert pairs.tolist() == [[1, 2]]
    # another category never recovers
    assert recover_lost(last, np.array([1, 2, 1]), dets, m, 0.3, 4.0).tolist() == []
    # off: no pairs
    assert recover_lost(last, np.array([1, 1, 1]), dets, m, 0.0, 4.0).tolist() == []


def test_birth_candidates_need_score_and_no_live_duplicate():
    from vis_pipeline.track.association import birth_candidates

    dets = Detections(np.zeros((3, 4)), np.array([0.9, 0.4, 0.9]), np.ones(3), [box_mask(0, 0, 2, 2)] * 3)
    live = np.array([[0.0, 0.0, 0.6]])  # det 2 overlaps a live prediction
    assert birth_candidates(dets, np.array([0, 1, 2]), live, 0.5, 0.5) == [0]
    assert birth_candidates(dets, np.array([0, 1, 2]), np.zeros((0, 3)), 0.5, 0.5) == [0, 2]
