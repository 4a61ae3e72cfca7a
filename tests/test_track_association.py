import numpy as np
import pytest

from vis_pipeline.masks import encode_mask
from vis_pipeline.track.association import associate, linear_assignment


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
