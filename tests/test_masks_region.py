"""encode_mask_region: the RLE of a mask known only inside a region equals encode_mask of the frame."""

import numpy as np
import pytest

from vis_pipeline.masks import encode_mask, encode_mask_region


@pytest.mark.parametrize("seed", range(300))
def test_region_rle_equals_full_frame_rle(seed: int) -> None:
    rng = np.random.default_rng(seed)
    height, width = int(rng.integers(1, 40)), int(rng.integers(1, 40))
    rows, cols = int(rng.integers(0, height + 1)), int(rng.integers(0, width + 1))
    y0, x0 = int(rng.integers(0, height - rows + 1)), int(rng.integers(0, width - cols + 1))
    region = rng.random((rows, cols)) < rng.choice([0.0, 0.3, 0.9, 1.0])
    full = np.zeros((height, width), dtype=bool)
    full[y0 : y0 + rows, x0 : x0 + cols] = region
    assert encode_mask_region(region, (x0, y0), (height, width)) == encode_mask(full)


def test_a_region_outside_the_frame_is_an_error() -> None:
    with pytest.raises(ValueError, match="leaves the"):
        encode_mask_region(np.ones((3, 3), bool), (8, 0), (10, 10))


@pytest.mark.parametrize("cascade", ["one_stage", "two_stage"])
def test_track_rles_from_the_mask_region_equal_full_frame_rles(cascade: str) -> None:
    """The multi-object loop encodes SiamMask's masks from their region only (prediction_rle): the RLEs
    must equal those of the full frame masks, including objects near and across the frame border."""
    from siammask.tracker import SiamMaskTracker
    from vis_pipeline.track.mot import prediction_rle

    tracker = SiamMaskTracker.from_preset("tiny", cascade=cascade)
    rng = np.random.default_rng(3)
    frames = [(rng.random((90, 160, 3)) * 255).astype(np.uint8) for _ in range(4)]
    boxes = [(60.0, 30.0, 30.0, 25.0), (-5.0, 2.0, 40.0, 30.0), (130.0, 60.0, 40.0, 35.0)]
    states = tracker.init_many(frames[0], boxes)
    seen_nonempty = 0
    for frame in frames[1:]:
        for pred in tracker.track_many(frame, states):
            assert prediction_rle(pred) == encode_mask(pred.mask)
            seen_nonempty += int(pred.mask.any())
    assert seen_nonempty > 0
