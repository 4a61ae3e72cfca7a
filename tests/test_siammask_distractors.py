"""Inference-only tracker options: distractor-aware choice, holding on low scores, template update.

Pure functions on hand-built response maps, then the tracker with a scripted stand-in network whose
responses are chosen per frame, so each option's effect on the chosen cell and the state is exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

from siammask.anchors import anchor_grid, choose_candidate, decode_boxes, score_window
from siammask.distractors import DistractorRule, new_distractors, response_peaks, suppressed_scores
from siammask.hparams import TrackerConfigError, load_tracker_hparams
from siammask.model import SearchOutput, TemplateKernels
from siammask.tracker import SiamMaskTracker

S, A = 25, 5
DAVIS_HP = {"penalty_k": 0.04, "window_influence": 0.40, "lr": 1.0, "seg_thr": 0.35, "out_size": 127}


def _scores(cells: dict[tuple[int, int, int], float]) -> np.ndarray:
    """(A*S*S,) scores, 0.01 everywhere but the given (anchor, y, x) cells."""
    scores = np.full((A, S, S), 0.01, dtype=np.float32)
    for (anchor, y, x), value in cells.items():
        scores[anchor, y, x] = value
    return scores.reshape(-1)


def _index(anchor: int, y: int, x: int) -> int:
    return anchor * S * S + y * S + x


def test_response_peaks_are_local_maxima_of_the_best_anchor_best_first() -> None:
    scores = _scores({(2, 12, 12): 0.95, (2, 12, 13): 0.9, (4, 5, 20): 0.7, (1, 20, 3): 0.85})
    indices, values = response_peaks(scores, A, S)
    # (12, 13) is next to a higher cell: not a peak; flat 0.01 cells are peaks too but come last
    assert list(indices[:3]) == [_index(2, 12, 12), _index(1, 20, 3), _index(4, 5, 20)]
    np.testing.assert_allclose(values[:3], [0.95, 0.85, 0.7])
    assert _index(2, 12, 13) not in indices


def test_new_distractors_skip_the_chosen_target_and_weak_or_extra_peaks() -> None:
    anchors = anchor_grid((0.33, 0.5, 1.0, 2.0, 3.0), (8.0,), 8, S)
    boxes = decode_boxes(np.zeros((4, A * S * S), dtype=np.float32), anchors)
    scores = _scores({(2, 12, 12): 0.95, (2, 12, 14): 0.9, (2, 12, 20): 0.85, (2, 3, 3): 0.6})
    target = np.array([64.0, 64.0])  # 64 crop px: (12, 14) is 16 px away, (12, 20) is 64 px away
    rule = DistractorRule(weight=0.5, min_score=0.8, min_distance=0.5, per_frame=2, memory=4)
    found = new_distractors(scores, boxes, _index(2, 12, 12), target, rule, A, S)
    assert len(found) == 1  # (12, 14) is too close, (3, 3) too weak
    np.testing.assert_allclose(found[0][:2], boxes[:2, _index(2, 12, 20)])
    looser = DistractorRule(weight=0.5, min_score=0.5, min_distance=0.2, per_frame=2, memory=4)
    assert len(new_distractors(scores, boxes, _index(2, 12, 12), target, looser, A, S)) == 2  # per_frame
    assert new_distractors(scores, boxes, _index(2, 12, 12), target, DistractorRule(weight=0.0), A, S) == []


def test_suppressed_scores_subtract_the_weighted_mean_distractor_score() -> None:
    scores = np.array([0.9, 0.8, 0.1], dtype=np.float32)
    others = np.array([[0.0, 0.8, 0.2], [0.2, 0.6, 0.0]], dtype=np.float32)
    np.testing.assert_allclose(suppressed_scores(scores, others, 0.5), [0.85, 0.45, 0.05], atol=1e-6)
    np.testing.assert_allclose(suppressed_scores(scores, others[:0], 0.5), scores)


def test_choose_candidate_picks_by_selection_scores_but_reports_the_raw_score() -> None:
    anchors = anchor_grid((0.33, 0.5, 1.0, 2.0, 3.0), (8.0,), 8, S)
    boxes = decode_boxes(np.zeros((4, A * S * S), dtype=np.float32), anchors)
    window = score_window(S, A, "cosine")
    scores = _scores({(2, 12, 12): 0.9, (2, 12, 16): 0.8})
    size = np.array([64.0, 64.0])
    plain = choose_candidate(scores, boxes, size, window, 0.04, 0.4, S)
    selection = scores.astype(np.float64)
    selection[_index(2, 12, 12)] = 0.0  # as if (12, 12) looked exactly like a remembered distractor
    chosen = choose_candidate(scores, boxes, size, window, 0.04, 0.4, S, selection_scores=selection)
    assert plain.pos_yx == (12, 12) and chosen.pos_yx == (12, 16)
    assert chosen.score == np.float32(0.8)


class FrameScriptNet(nn.Module):
    """Stand-in network whose response is scripted per search call.

    ``script[k]`` gives call k's foreground logits per cell {(y, x): logit} (anchor 2, zero box deltas).
    Every template is a kernel of value 1 ('the target') or, for a distractor, 2; ``cls_logits_with``
    answers distractor kernels with ``distractor_map``: high where the remembered distractor is.
    """

    def __init__(self, script: Sequence[dict[tuple[int, int], float]], distractor_map: dict) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.script, self.distractor_map = list(script), distractor_map
        self.calls = 0
        self.templates: list[float] = []

    def template_kernels(self, z: torch.Tensor) -> TemplateKernels:
        value = 1.0 if not self.templates else 2.0
        self.templates.extend([float(m) for m in z.mean(dim=(1, 2, 3))])
        kernel = torch.full((z.shape[0], 1, 5, 5), value)
        return TemplateKernels(kernel, kernel.clone(), kernel.clone())

    @staticmethod
    def _cls(cells: dict[tuple[int, int], float], n: int) -> torch.Tensor:
        cls = torch.zeros(n, 2 * A, S, S)
        cls[:, A:] = -4.0  # background everywhere ...
        for (y, x), logit in cells.items():
            cls[:, A + 2, y, x] = logit  # ... but these cells of anchor 2
        return cls

    def search(self, x: torch.Tensor, kernels: TemplateKernels, with_mask_head: bool = False) -> SearchOutput:
        cells = self.script[min(self.calls, len(self.script) - 1)]
        self.calls += 1
        n = x.shape[0]
        empty = torch.zeros(n, 1, 1, 1)
        return SearchOutput(self._cls(cells, n), torch.zeros(n, 4 * A, S, S), empty, empty, empty, empty)

    def cls_logits_with(self, out: SearchOutput, index: int, cls_kernels: torch.Tensor) -> torch.Tensor:
        return self._cls(self.distractor_map, len(cls_kernels))

    def refine_at(self, out: SearchOutput, pos_yx: Sequence[tuple[int, int]]) -> torch.Tensor:
        logits = torch.full((len(pos_yx), 127, 127), -20.0)
        logits[:, 32:96, 32:96] = 20.0
        return logits.view(len(pos_yx), -1)


def _tracker(net: nn.Module, **hp: float) -> SiamMaskTracker:
    return SiamMaskTracker(net, dict(DAVIS_HP, **hp), cascade="one_stage")


FRAME = np.full((240, 320, 3), 90, dtype=np.uint8)
BOX = (130.0, 90.0, 60.0, 60.0)
TARGET, OTHER = (12, 12), (12, 19)  # the other object sits 7 cells (56 crop px) right of the target


@pytest.mark.parametrize("weight", [0.0, 0.5])
def test_a_remembered_distractor_keeps_the_tracker_off_it_when_the_target_hides(weight: float) -> None:
    both = {TARGET: 4.0, OTHER: 3.5}  # frame 1: both visible, the target wins
    hidden = {OTHER: 4.0, (12, 9): 0.0}  # frame 2: the target is hidden; a weak response left of it
    net = FrameScriptNet([both, hidden], distractor_map={OTHER: 6.0})
    tracker = _tracker(net, distractor_weight=weight, distractor_min_score=0.8, distractor_min_distance=0.5)
    state = tracker.init(FRAME, BOX)
    first = tracker.track(FRAME, state)
    assert first.mask_pos_yx == TARGET
    if weight == 0:
        assert state.distractors is None and tracker.forward_counts["distractor"] == 0
    else:
        assert state.distractors is not None and len(state.distractors) == 1
        assert float(state.distractors[0].mean()) == 2.0  # the distractor's own template
    second = tracker.track(FRAME, state)
    if weight == 0:
        assert second.mask_pos_yx == OTHER and second.score > 0.9  # the released rule jumps onto it
    else:
        assert second.mask_pos_yx != OTHER and second.score < 0.6  # suppressed: a weak, honest answer
        # frame 1: one distractor template; frame 2: one scoring and the next distractor's template
        assert tracker.forward_counts["distractor"] == 3


def test_distractor_memory_keeps_the_newest() -> None:
    net = FrameScriptNet([{TARGET: 4.0, OTHER: 3.5}], distractor_map={})
    tracker = _tracker(
        net, distractor_weight=0.5, distractor_min_score=0.8, distractor_min_distance=0.5, distractor_memory=2
    )
    state = tracker.init(FRAME, BOX)
    # the target stays on the centre cell and the same second peak is found each frame: 4 templates, and
    # each frame after the first scores the distractors remembered so far (1, 2, 2: the memory is 2)
    for _ in range(4):
        tracker.track(FRAME, state)
    assert len(state.distractors) == 2 and tracker.forward_counts["distractor"] == 4 + (1 + 2 + 2)


@pytest.mark.parametrize("hold", [0.0, 0.6])
def test_hold_below_score_keeps_the_box_on_a_weak_step(hold: float) -> None:
    net = FrameScriptNet([{(12, 20): 0.0}], distractor_map={})  # one weak cell (p = 0.5), far right
    tracker = _tracker(net, hold_below_score=hold, window_influence=0.0)
    state = tracker.init(FRAME, BOX)
    before = state.target_pos.copy()
    result = tracker.track(FRAME, state)
    assert result.score == pytest.approx(0.5)
    if hold:
        np.testing.assert_array_equal(state.target_pos, before)
    else:
        assert state.target_pos[0] > before[0] + 20


@pytest.mark.parametrize("coast", [0.0, 1.0])
def test_a_weak_step_coasts_on_the_smoothed_velocity_of_the_confident_ones(coast: float) -> None:
    # frame 1: confident, two cells right of the centre; frame 2: only a weak cell far left
    net = FrameScriptNet([{(12, 14): 6.0}, {(12, 2): 0.0}], distractor_map={})
    tracker = _tracker(net, hold_below_score=0.6, coast_velocity=coast, window_influence=0.0)
    state = tracker.init(FRAME, BOX)
    start = state.target_pos.copy()
    tracker.track(FRAME, state)
    moved = state.target_pos - start
    assert moved[0] > 10 and abs(moved[1]) < 1e-9
    np.testing.assert_allclose(state.velocity, 0.5 * moved)  # smoothing 0.5 from rest
    after_first = state.target_pos.copy()
    result = tracker.track(FRAME, state)
    assert result.score == pytest.approx(0.5)
    np.testing.assert_allclose(state.target_pos, after_first + coast * 0.5 * moved)
    np.testing.assert_allclose(state.velocity, 0.5 * moved)  # a weak step leaves the velocity alone


def test_template_update_blends_kernels_only_on_confident_steps() -> None:
    frame = FRAME.copy()
    frame[100:140, 140:180] = 250  # a bright target under the box
    confident = FrameScriptNet([{TARGET: 6.0}], distractor_map={})
    tracker = _tracker(confident, template_update_rate=0.25, template_update_min_score=0.9)
    state = tracker.init(frame, BOX)
    tracker.track(frame, state)
    # stand-in kernels: 1 for the first template, 2 for the next: 0.75 * 1 + 0.25 * 2
    assert torch.allclose(state.kernels.cls, torch.full_like(state.kernels.cls, 1.25))
    assert torch.allclose(state.kernels.mask, torch.full_like(state.kernels.mask, 1.25))
    weak = FrameScriptNet([{TARGET: 1.0}], distractor_map={})  # p = 0.73 < 0.9: no update
    tracker = _tracker(weak, template_update_rate=0.25, template_update_min_score=0.9)
    state = tracker.init(frame, BOX)
    tracker.track(frame, state)
    assert torch.equal(state.kernels.cls, torch.ones_like(state.kernels.cls))


@pytest.mark.parametrize(
    "bad",
    [
        {"distractor_weight": -0.1},
        {"distractor_min_score": 1.5},
        {"distractor_memory": 0},
        {"hold_below_score": 2.0},
        {"template_update_rate": 1.5},
        {"template_update_min_score": -1.0},
        {"coast_velocity": 3.0},
    ],
)
def test_out_of_range_options_are_rejected_with_their_name(bad: dict) -> None:
    with pytest.raises(TrackerConfigError, match=next(iter(bad))):
        load_tracker_hparams(dict(DAVIS_HP, **bad))


def test_released_presets_leave_every_option_off() -> None:
    for preset in ("davis", "vot", "tiny"):
        hp = load_tracker_hparams(preset)
        assert hp.distractor_weight == 0 and hp.hold_below_score == 0 and hp.template_update_rate == 0
