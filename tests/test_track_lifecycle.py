"""Hand-built association/lifecycle cases with a constant-velocity stand-in for SiamMask."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir

from vis_pipeline.masks import decode_rle, encode_mask
from vis_pipeline.track.association import AssociationConfig
from vis_pipeline.track.lifecycle import TrackState
from vis_pipeline.track.mot import MultiObjectTracker
from vis_pipeline.types import Detections

PRESETS = Path(__file__).resolve().parents[1] / "configs" / "association"
H, W = 60, 100


def preset(name: str, **overrides) -> AssociationConfig:
    """A shipped association preset (``configs/association/<name>.yaml``) with overrides."""
    return AssociationConfig(**{**yaml.safe_load((PRESETS / f"{name}.yaml").read_text()), **overrides})


def test_python_defaults_equal_the_default_preset_as_vis_run_composes_it():
    from vis_pipeline.cli import CONFIG_DIR
    from vis_pipeline.cli.run import register_resolvers

    register_resolvers()
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base=None):
        cfg = compose("run", ["data.frames=x"])
    composed = dict(cfg.association)
    assert set(composed) == set(AssociationConfig.__dataclass_fields__)
    assert AssociationConfig(**composed) == AssociationConfig()


def test_paper_preset_has_none_of_the_extras():
    paper = preset("paper")
    assert (paper.class_gate, paper.det_box_weight, paper.recover_min_affinity, paper.bridge_gaps) == (
        False, 0.0, 0.0, False,
    )  # fmt: skip
    assert (paper.motion_weight, paper.stitch_max_gap) == (0.0, 0)
    assert paper.output_mask == "tracker"
    assert set(yaml.safe_load((PRESETS / "paper.yaml").read_text())) == set(
        AssociationConfig.__dataclass_fields__
    )


IMAGE = np.zeros((H, W, 3), np.uint8)


def rect(x: float, y: float, w: float = 12, h: float = 12) -> np.ndarray:
    m = np.zeros((H, W), bool)
    x0, y0 = int(round(x)), int(round(y))
    m[max(y0, 0) : max(y0 + int(h), 0), max(x0, 0) : max(x0 + int(w), 0)] = True
    return m


@dataclass
class FakeState:
    target_pos: np.ndarray  # centre (x, y), like SiamMask's state
    target_sz: np.ndarray  # (w, h)
    velocity: tuple[float, float]


@dataclass
class FakePrediction:
    mask: np.ndarray
    score: float
    found: bool = True


class ConstantVelocityTracker:
    """Predicts the init box moved by a fixed velocity per frame (velocity chosen from the init box)."""

    def __init__(self, velocity_of=lambda box: (0.0, 0.0)):
        self.velocity_of = velocity_of
        self.inits = 0

    def init_many(self, image, boxes_xywh):
        self.inits += len(boxes_xywh)
        return [
            FakeState(
                np.array([b[0] + b[2] / 2, b[1] + b[3] / 2]), np.array(b[2:4], float), self.velocity_of(b)
            )
            for b in boxes_xywh
        ]

    def recenter(self, state, box_xywh, weight):
        x, y, w, h = (float(v) for v in box_xywh)
        state.target_pos = (1 - weight) * state.target_pos + weight * np.array([x + w / 2, y + h / 2])
        state.target_sz = (1 - weight) * state.target_sz + weight * np.array([max(w, 1.0), max(h, 1.0)])

    def track_many(self, image, states):
        out = []
        for s in states:
            s.target_pos = s.target_pos + np.array(s.velocity)
            (cx, cy), (w, h) = s.target_pos, s.target_sz
            mask = rect(cx - w / 2, cy - h / 2, w, h)
            out.append(FakePrediction(mask, 1.0 if mask.any() else 0.0))
        return out


def dets(*items: tuple[np.ndarray, float, int]) -> Detections:
    boxes, scores, labels, masks = [], [], [], []
    for mask, score, label in items:
        ys, xs = np.nonzero(mask)
        boxes.append([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1])
        scores.append(score)
        labels.append(label)
        masks.append(encode_mask(mask))
    return Detections(np.array(boxes).reshape(-1, 4), scores, labels, masks) if items else Detections.empty()


def run(frames: list[Detections], cfg: AssociationConfig, tracker=None):
    mot = MultiObjectTracker(tracker or ConstantVelocityTracker(), cfg)
    for t, d in enumerate(frames):
        mot.step(t, IMAGE, d)
    mot.finish()
    return mot, mot.results(video_id=7, num_frames=len(frames))


def present(entry: dict) -> list[int]:
    return [i for i, s in enumerate(entry["segmentations"]) if s is not None]


@pytest.mark.parametrize("name", ["paper", "default"])
def test_birth_needs_score(name):
    frames = [dets((rect(10, 10), 0.9, 1), (rect(60, 30), 0.3, 2))] * 3
    mot, res = run(frames, preset(name, birth_score=0.5))
    assert len(mot.tracks) == 1 and len(res) == 1
    assert res[0]["video_id"] == 7 and res[0]["category_id"] == 1
    assert present(res[0]) == [0, 1, 2]


@pytest.mark.parametrize("name", ["paper", "default"])
def test_death_after_max_lost_and_trailing_gap_dropped(name):
    frames = [dets((rect(10, 10), 0.9, 1))] * 4 + [Detections.empty()] * 6
    mot, res = run(frames, preset(name, max_lost=2))
    (track,) = mot.tracks
    assert track.state is TrackState.REMOVED
    # The tracker kept predicting on frames 4..6 but the track died: those frames are null.
    assert present(res[0]) == [0, 1, 2, 3]
    assert len(res[0]["segmentations"]) == 10


@pytest.mark.parametrize(("name", "expected"), [("default", list(range(8))), ("paper", [0, 1, 2, 5, 6, 7])])
def test_occlusion_and_reappearance_bridged_by_tracker_unless_paper(name, expected):
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 3 + [Detections.empty()] * 2 + [dets((obj, 0.8, 3))] * 3
    mot, res = run(frames, preset(name, max_lost=3, bridge_gaps=name == "default"))
    assert len(mot.tracks) == 1 and len(res) == 1
    assert present(res[0]) == expected  # default: frames 3-4 come from the tracker (bridge_gaps)
    if name == "default":
        assert np.array_equal(decode_rle(res[0]["segmentations"][4]), obj)


@pytest.mark.parametrize("name", ["paper", "default"])
def test_reappearance_after_death_is_a_new_track(name):
    # (without tracklet stitching, which the default runs after the last frame: test_track_stitch)
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 2 + [Detections.empty()] * 4 + [dets((obj, 0.9, 3))] * 2
    mot, res = run(frames, preset(name, max_lost=1, stitch_max_gap=0))
    assert [t.track_id for t in mot.tracks] == [1, 2]
    assert sorted(present(r) for r in res) == [[0, 1], [6, 7]]


@pytest.mark.parametrize("name", ["paper", "default"])
def test_two_crossing_objects_keep_identities(name):
    # A moves right, B moves left, same category; they overlap around frame 5.
    def velocity(box):
        return (4.0, 0.0) if box[0] < 50 else (-4.0, 0.0)

    frames = []
    for t in range(11):
        a, b = rect(10 + 4 * t, 20), rect(78 - 4 * t, 24)
        items = [(a, 0.9, 1), (b, 0.8, 1)]
        frames.append(dets(*(items if t % 2 else items[::-1])))  # detection order must not matter
    mot, res = run(frames, preset(name, iou_thr=0.3, birth_max_iou=0.3), ConstantVelocityTracker(velocity))
    assert len(mot.tracks) == 2
    track_a = next(t for t in mot.tracks if np.array_equal(decode_rle(t.masks[0]), rect(10, 20)))
    track_b = next(t for t in mot.tracks if t is not track_a)
    assert np.array_equal(decode_rle(track_a.masks[10]), rect(50, 20)), "A's track must end on A"
    assert np.array_equal(decode_rle(track_b.masks[10]), rect(38, 24)), "B's track must end on B"
    assert all(len(t.masks) == 11 for t in mot.tracks)


@pytest.mark.parametrize("name", ["paper", "default"])
def test_more_detections_than_tracks_and_vice_versa(name):
    frames = [
        dets((rect(5, 5), 0.9, 1)),
        dets((rect(5, 5), 0.9, 1), (rect(40, 30), 0.9, 2), (rect(80, 5), 0.7, 2)),
        dets((rect(40, 30), 0.9, 2)),
    ]
    mot, res = run(frames, preset(name, max_lost=5))
    assert len(mot.tracks) == 3
    assert [t.state for t in mot.tracks] == [TrackState.REMOVED] * 3  # finish() closes all
    by_cat = sorted((r["category_id"], present(r)) for r in res)
    assert by_cat == [(1, [0, 1]), (2, [1]), (2, [1, 2])]


@pytest.mark.parametrize("name", ["paper", "default"])
def test_empty_frames_give_no_tracks_and_empty_video_no_results(name):
    mot, res = run([Detections.empty()] * 4, preset(name))
    assert mot.tracks == [] and res == []


def test_category_vote_is_score_weighted_and_score_has_length_factor():
    obj = rect(30, 20)
    frames = [dets((obj, 0.9, 2)), dets((obj, 0.5, 4)), dets((obj, 0.5, 4)), dets((obj, 0.3, 4))]
    _, res = run(frames, preset("paper", birth_score=0.5, full_score_hits=8))
    assert res[0]["category_id"] == 4  # 1.3 for class 4 beats 0.9 for class 2
    np.testing.assert_allclose(res[0]["score"], (0.9 + 0.5 + 0.5 + 0.3) / 4 * (4 / 8), rtol=1e-6)


def test_topk_and_output_policy():
    objs = [rect(8 * i, 0, 6, 6) for i in range(12)]
    frames = [dets(*[(m, 0.5 + 0.04 * i, 1) for i, m in enumerate(objs)])] * 2
    _, res = run(frames, preset("paper", birth_max_iou=0.9))
    assert len(res) == 10
    scores = [r["score"] for r in res]
    assert scores == sorted(scores, reverse=True)

    big = rect(40, 20, 20, 20)
    half = rect(40, 20, 20, 14)
    frames = [dets((big, 0.9, 1)), dets((half, 0.9, 1))]
    for policy, expected in [("tracker", big), ("detection", half), ("fused", big | half)]:
        _, res = run(frames, preset("paper", output_mask=policy))
        assert np.array_equal(decode_rle(res[0]["segmentations"][1]), expected), policy


def test_det_box_weight_recenters_the_tracker_on_matched_detections():
    # A static stand-in tracker and an object moving 4 px per frame: without re-centring the
    # prediction falls behind until IoU < iou_thr and tracks fragment; with weight 1 one track.
    frames = [dets((rect(10 + 4 * t, 20), 0.9, 1)) for t in range(8)]
    drifting, _ = run(frames, preset("paper", det_box_weight=0.0))
    assert len(drifting.tracks) > 1
    followed, res = run(frames, preset("paper", det_box_weight=1.0))
    assert len(followed.tracks) == 1 and present(res[0]) == list(range(8))


def test_recovery_stage_relinks_a_track_the_tracker_lost():
    # The stand-in tracker runs away (wrong velocity); detections stay put next to the last mask.
    def runaway(box):
        return (30.0, 0.0)

    frames = [dets((rect(20 + t, 20), 0.9, 1)) for t in range(4)]
    without, _ = run(frames, preset("paper"), ConstantVelocityTracker(runaway))
    assert len(without.tracks) == 4  # every frame births a new track
    cfg = preset("paper", recover_min_affinity=0.5, output_mask="detection")
    mot, res = run(frames, cfg, ConstantVelocityTracker(runaway))
    assert len(mot.tracks) == 1 and present(res[0]) == [0, 1, 2, 3]
    assert np.array_equal(decode_rle(res[0]["segmentations"][3]), rect(23, 20))  # output_mask=detection


def test_class_gate_stops_a_drifted_track_stealing_another_class():
    # Track of class 1 drifts (stand-in moves it) exactly onto a class-2 object that appears later.
    def to_the_right(box):
        return (10.0, 0.0) if box[0] < 30 else (0.0, 0.0)

    frames = [dets((rect(10, 20), 0.9, 1)), dets((rect(20, 20), 0.9, 2))]
    cfg = preset("paper", det_box_weight=0.0)
    open_mot, _ = run(frames, cfg, ConstantVelocityTracker(to_the_right))
    assert len(open_mot.tracks) == 1  # without gating the class-1 track takes the class-2 detection
    assert open_mot.tracks[0].hits == 2  # ... and votes with it
    gated, res = run(frames, preset("paper", class_gate=True), ConstantVelocityTracker(to_the_right))
    # gated: the class-2 detection is not the track's (hits stay 1, category 1); it starts no
    # duplicate track either, since it lies under a live prediction (births use the raw IoU)
    assert len(gated.tracks) == 1 and gated.tracks[0].hits == 1 and res[0]["category_id"] == 1


@pytest.mark.parametrize("name", ["paper", "default"])
def test_a_class_flip_of_the_detector_never_births_a_duplicate(name):
    obj = rect(30, 20)
    labels = [1, 1, 2, 2, 1, 1]
    frames = [dets((obj, 0.9, label)) for label in labels]
    mot, res = run(frames, preset(name), ConstantVelocityTracker())
    assert len(mot.tracks) == 1 and len(res) == 1
    assert res[0]["category_id"] == 1


class NotFoundOnFrames(ConstantVelocityTracker):
    """The stand-in, but its steps on the given frames (counted from the first step) are not found."""

    def __init__(self, not_found: set[int]):
        super().__init__()
        self.not_found, self.steps = not_found, 0

    def track_many(self, image, states):
        out = super().track_many(image, states)
        found = self.steps not in self.not_found
        self.steps += 1
        return [FakePrediction(p.mask, p.score, found) for p in out]


def test_a_not_found_tracker_mask_does_not_bridge_a_gap():
    """Frames 3-4 have no detection; the tracker's step into frame 4 says the object is not there."""
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 3 + [Detections.empty()] * 2 + [dets((obj, 0.8, 3))] * 3
    cfg = preset("default", max_lost=3, bridge_gaps=True)
    _, res = run(frames, cfg, NotFoundOnFrames({3}))  # step k tracks into frame k + 1
    assert present(res[0]) == [0, 1, 2, 3, 5, 6, 7]
    _, res = run(frames, cfg, NotFoundOnFrames(set()))
    assert present(res[0]) == list(range(8))


def test_bridge_gaps_off_outputs_only_matched_frames():
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 2 + [Detections.empty()] + [dets((obj, 0.9, 3))] * 2
    _, res = run(frames, preset("paper", bridge_gaps=False))
    assert present(res[0]) == [0, 1, 3, 4]


def test_proximity_matrix_units_of_box_size():
    from vis_pipeline.track.association import proximity_matrix

    a = np.array([[0.0, 0.0, 10.0, 10.0]])  # centre (5, 5), size 10
    b = np.array([[10.0, 0.0, 10.0, 10.0], [100.0, 100.0, 2.0, 2.0]])  # centre 10 px away; far away
    np.testing.assert_allclose(proximity_matrix(a, b, radius=2.0), [[0.5, 0.0]])


def test_births_after_a_recovery_in_the_same_frame():
    # Track A is followed (stand-in stays put), track B is lost by the stand-in and recovered,
    # and a third object appears: the birth check must use the first-stage affinity over all
    # detections (regression: the recovery's smaller matrix overwrote it -> IndexError).
    def velocity(box):
        return (30.0, 0.0) if box[0] < 50 else (0.0, 0.0)

    a, b, c = rect(60, 5), rect(20, 20), rect(80, 40)
    frames = [dets((a, 0.9, 1), (b, 0.9, 1)), dets((a, 0.9, 1), (rect(21, 20), 0.9, 1), (c, 0.9, 1))]
    mot, res = run(frames, preset("paper", recover_min_affinity=0.3), ConstantVelocityTracker(velocity))
    assert len(mot.tracks) == 3
    assert sorted(present(r) for r in res) == [[0, 1], [0, 1], [1]]


def _runaway_left_objects(box):
    return (30.0, 0.0) if box[0] < 30 else (0.0, 0.0)


def test_recovered_track_drops_the_gap_frames_siammask_produced_while_lost():
    # Detector misses frames 1-2 while the stand-in runs away (its masks there are drift); at frame
    # 3 the object is detected where it was: the recovery re-links it and frames 1-2 stay null.
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 1)), Detections.empty(), Detections.empty(), dets((obj, 0.9, 1))]
    cfg = preset("default", bridge_gaps=True, motion_weight=0.0)  # motion would match it before recovery
    mot, res = run(frames, cfg, ConstantVelocityTracker(_runaway_left_objects))
    assert len(mot.tracks) == 1
    assert present(res[0]) == [0, 3]


@pytest.mark.parametrize("policy", ["tracker", "detection", "fused"])
def test_recovered_frame_respects_output_mask(policy):
    # At frame 1 the stand-in has run away; the recovery re-centres it on the detection and searches
    # again, which (for this stand-in) lands 30 px right of the detection: that is the tracker mask.
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 1)), dets((obj, 0.9, 1))]
    cfg = preset("paper", recover_min_affinity=0.3, output_mask=policy)
    mot, res = run(frames, cfg, ConstantVelocityTracker(_runaway_left_objects))
    assert len(mot.tracks) == 1
    expected = {"tracker": rect(50, 20), "detection": obj, "fused": obj | rect(50, 20)}[policy]
    assert np.array_equal(decode_rle(res[0]["segmentations"][1]), expected)


def test_recovery_never_takes_a_new_object_nearer_another_live_track():
    # A (class 1) is lost at frame 1; B (class 2) is tracked; a new class-1 object D appears right
    # next to B, still within A's recovery radius: it is B's neighbour, not A, and starts a track.
    a, b, d = rect(10, 20), rect(60, 20), rect(50, 20)
    frames = [dets((a, 0.9, 1), (b, 0.9, 2)), dets((b, 0.9, 2), (d, 0.9, 1))]
    cfg = preset("paper", recover_min_affinity=0.1)
    mot, res = run(
        frames, cfg, ConstantVelocityTracker(lambda box: (0.0, 30.0) if box[0] < 30 else (0.0, 0.0))
    )
    assert len(mot.tracks) == 3
    track_a = mot.tracks[0]
    assert sorted(track_a.masks) == [0]  # A was not re-linked to D


class FrameScoredTracker(ConstantVelocityTracker):
    """The stand-in, but its score on a frame is ``scores[image[0, 0, 0]]`` (frames carry their index)."""

    def __init__(self, scores: dict[int, float]):
        super().__init__()
        self.scores = scores

    def track_many(self, image, states):
        preds = super().track_many(image, states)
        for pred in preds:
            pred.score = self.scores.get(int(image[0, 0, 0]), pred.score)
        return preds


def run_indexed(frames: list[Detections], cfg: AssociationConfig, tracker) -> list[dict]:
    mot = MultiObjectTracker(tracker, cfg)
    for t, d in enumerate(frames):
        mot.step(t, np.full((H, W, 3), t, np.uint8), d)
    mot.finish()
    return mot.results(video_id=7, num_frames=len(frames))


@pytest.mark.parametrize(("backfill", "expected"), [(0, [4, 5]), (2, [2, 3, 4, 5]), (9, [2, 3, 4, 5])])
def test_backward_pass_fills_frames_before_a_late_birth_until_the_score_drops(backfill, expected):
    # The object is there all along, detected from frame 4 on; SiamMask is unsure on frame 1.
    obj = rect(20, 20)
    frames = [Detections.empty()] * 4 + [dets((obj, 0.9, 3))] * 2
    res = run_indexed(frames, preset("default", backfill_frames=backfill), FrameScoredTracker({1: 0.1}))
    assert present(res[0]) == expected  # at most `backfill` frames, stopping at frame 1 (score 0.1)
    if backfill:
        assert np.array_equal(decode_rle(res[0]["segmentations"][2]), obj)


def test_backward_pass_does_not_block_stitching():
    # Hidden on frames 3-9 (dead after 2): the second piece's backward pass would cover 7-9, but
    # stitching sees only matched frames and the merged track starts on frame 0, so 7-9 stay empty.
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 3 + [Detections.empty()] * 7 + [dets((obj, 0.9, 3))] * 3
    cfg = preset("default", backfill_frames=3, max_lost=2)
    res = run_indexed(frames, cfg, FrameScoredTracker({}))
    assert len(res) == 1 and present(res[0]) == [0, 1, 2, 10, 11, 12]


@pytest.mark.parametrize(
    ("n_frames", "tail", "expected"),
    [(10, 0, [0, 1, 2, 3]), (10, 1, [0, 1, 2, 3, 4]), (6, 0, [0, 1, 2, 3]), (6, 5, [0, 1, 2, 3, 4, 5])],
)
def test_tail_frames_keeps_pending_frames_after_the_last_match(n_frames, tail, expected):
    # Detected on frames 0-3 only: the track dies on frame 6 (max_lost 2) or the video ends on frame 5.
    obj = rect(20, 20)
    frames = [dets((obj, 0.9, 3))] * 4 + [Detections.empty()] * (n_frames - 4)
    cfg = preset("default", tail_frames=tail, max_lost=2, bridge_gaps=True)
    res = run_indexed(frames, cfg, FrameScoredTracker({}))
    assert present(res[0]) == expected
