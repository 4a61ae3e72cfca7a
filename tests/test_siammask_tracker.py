"""SiamMaskTracker: the reference update rule (with a scripted stand-in network), the two-stage cascade,
batched ``track_many`` against per-track ``track`` and template caching (tiny network, random weights)."""

from __future__ import annotations

import dataclasses
import math
import zlib
from collections.abc import Sequence

import numpy as np
import pytest
import torch
from torch import nn

from siammask.boxes import box_corners
from siammask.crops import crop_subwindow, mask_square, pad_fill_value, search_crop
from siammask.hparams import TrackerConfigError, load_tracker_hparams
from siammask.model import SearchOutput, TemplateKernels, build_siammask
from siammask.track_state import TrackerState, TrackResult
from siammask.tracker import SiamMaskTracker, TrackerInputError

FRAME_HW = (120, 160)
DAVIS_HP = {"penalty_k": 0.04, "window_influence": 0.40, "lr": 1.0, "seg_thr": 0.35, "out_size": 127}


class ScriptedNet(nn.Module):
    """Stand-in network: foreground at one (anchor, y, x) cell, zero box deltas, a square refine mask.

    Records every call so tests can check what the tracker asked for.
    """

    def __init__(self, anchor: int, pos_yx: tuple[int, int], fg_logit: float = 4.0) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.anchor, self.pos_yx, self.fg_logit = anchor, pos_yx, fg_logit
        self.template_calls = 0
        self.search_inputs: list[torch.Tensor] = []
        self.mask_head_requests: list[bool] = []
        self.refine_positions: list[list[tuple[int, int]]] = []

    def template_kernels(self, z: torch.Tensor) -> TemplateKernels:
        self.template_calls += 1
        kernel = z.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).expand(-1, 1, 5, 5)
        return TemplateKernels(kernel, kernel, kernel)

    def search(self, x: torch.Tensor, kernels: TemplateKernels, with_mask_head: bool = False) -> SearchOutput:
        assert x.shape[1:] == (3, 255, 255) and len(kernels) == x.shape[0]
        self.search_inputs.append(x.clone())
        self.mask_head_requests.append(with_mask_head)
        n = x.shape[0]
        cls = torch.zeros(n, 10, 25, 25)
        cls[:, 5 + self.anchor, self.pos_yx[0], self.pos_yx[1]] = self.fg_logit
        empty = torch.zeros(n, 1, 1, 1)
        return SearchOutput(cls, torch.zeros(n, 20, 25, 25), empty, empty, empty, empty, None)

    def refine_at(self, out: SearchOutput, pos_yx: Sequence[tuple[int, int]]) -> torch.Tensor:
        self.refine_positions.append(list(pos_yx))
        logits = torch.full((len(pos_yx), 127, 127), -20.0)
        logits[:, 32:96, 32:96] = 20.0  # centre half of the window
        return logits.view(len(pos_yx), -1)


def _scaled_random_weights(model: nn.Module, seed: int = 0) -> nn.Module:
    """Deterministic weights per state_dict key (seed = crc32(key) + seed) with non-degenerate outputs:
    conv weights randn / sqrt(fan_in) (first conv also / 255 for raw pixels), BN gamma 1 + 0.05 randn,
    biases and running means 0.05 randn, running variances |randn| + 0.5."""
    state = model.state_dict()
    first_conv = next(key for key, value in state.items() if value.dim() == 4)
    for key, value in state.items():
        if not value.is_floating_point():
            continue
        generator = torch.Generator().manual_seed(zlib.crc32(key.encode()) + seed)
        r = torch.randn(value.shape, generator=generator)
        if key.endswith("running_var"):
            value.copy_(r.abs() + 0.5)
        elif key.endswith("running_mean") or key.endswith(".bias"):
            value.copy_(r * 0.05)
        elif value.dim() == 1:
            value.copy_(1.0 + r * 0.05)
        else:
            value.copy_(r / math.sqrt(math.prod(value.shape[1:])) / (255.0 if key == first_conv else 1.0))
    return model


@pytest.fixture(scope="module")
def tiny_net() -> nn.Module:
    torch.set_num_threads(1)
    return _scaled_random_weights(build_siammask("tiny"))


def _frames(count: int, seed: int = 0) -> list[np.ndarray]:
    """Textured frames with three moving blobs (so the tiny net sees structure, not just noise)."""
    rng = np.random.default_rng(seed)
    base = _blur(rng.integers(0, 256, (*FRAME_HW, 3), dtype=np.uint8))
    frames = []
    for t in range(count):
        frame = base.copy()
        for k, (x, y) in enumerate([(40, 40), (100, 70), (130, 30)]):
            frame[y + t : y + t + 20, x + 2 * t : x + 2 * t + 16] = (60 * k + 40, 200 - 50 * k, 90)
        frames.append(frame)
    return frames


def _blur(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.GaussianBlur(image, (7, 7), 2.0)


def _check_result(result: TrackResult, state: TrackerState, seg_thr: float) -> None:
    height, width = FRAME_HW
    assert result.mask.shape == FRAME_HW and result.mask.dtype == bool
    assert result.mask_prob.shape == FRAME_HW and result.mask_prob.dtype == np.float32
    assert result.mask_prob.min() >= -1.0 and result.mask_prob.max() <= 1.0
    np.testing.assert_array_equal(result.mask, result.mask_prob > seg_thr)
    assert result.polygon.shape == (4, 2) and result.polygon.dtype == np.float32
    assert 0.0 <= result.score <= 1.0 and 0 <= result.best_index < 3125
    assert 0 <= state.target_pos[0] <= width and 0 <= state.target_pos[1] <= height
    assert 10 <= state.target_sz[0] <= width and 10 <= state.target_sz[1] <= height
    np.testing.assert_allclose(result.box, [*(state.target_pos - state.target_sz / 2), *state.target_sz])


# ----------------------------------------------------------------------------- reference step, scripted net
def _reference_step(pos, size, anchor_wh, pos_yx, score, hp):
    """The released update for a zero-delta candidate, written out as scalar math (SPEC §2.5)."""
    w, h = size
    context = 0.5 * (w + h)
    s = math.sqrt((h + context) * (w + context))
    scale_x = 127 / s
    crop_size = round(s + 2 * (64 / scale_x))
    cx, cy = (pos_yx[1] - 12) * 8, (pos_yx[0] - 12) * 8
    tw, th = w * scale_x, h * scale_x

    def padded(a, b):
        return math.sqrt((a + (a + b) / 2) * (b + (a + b) / 2))

    s_c = max(padded(*anchor_wh) / padded(tw, th), padded(tw, th) / padded(*anchor_wh))
    ratio = (tw / th) / (anchor_wh[0] / anchor_wh[1])
    penalty = math.exp(-(max(ratio, 1 / ratio) * s_c - 1) * hp["penalty_k"])
    rate = penalty * score * hp["lr"]
    new_pos = (pos[0] + cx / scale_x, pos[1] + cy / scale_x)
    new_size = (
        w * (1 - rate) + anchor_wh[0] / scale_x * rate,
        h * (1 - rate) + anchor_wh[1] / scale_x * rate,
    )
    return new_pos, new_size, crop_size


def _mask_bbox(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()), int(ys.max())


def _expected_mask_bbox(crop_center, crop_size, pos_yx) -> np.ndarray:
    """Pixels covered by refine rows/cols 32..95 of cell pos_yx, incl. the (W-1)/W paste shrink."""
    s = crop_size / 255
    x0 = crop_center[0] - crop_size / 2 + (pos_yx[1] - 4) * 8 * s
    y0 = crop_center[1] - crop_size / 2 + (pos_yx[0] - 4) * 8 * s
    fx, fy = (FRAME_HW[1] - 1) / FRAME_HW[1], (FRAME_HW[0] - 1) / FRAME_HW[0]
    return np.array([fx * (x0 + 32 * s), fy * (y0 + 32 * s), fx * (x0 + 95 * s), fy * (y0 + 95 * s)])


def test_one_stage_step_follows_the_reference_update() -> None:
    net = ScriptedNet(anchor=2, pos_yx=(13, 14))
    tracker = SiamMaskTracker(net, DAVIS_HP, cascade="one_stage")
    frame = _frames(1)[0]
    state = tracker.init(frame, (50.0, 40.0, 30.0, 20.0))
    np.testing.assert_array_equal(state.target_pos, [65.0, 50.0])
    result = tracker.track(frame, state)
    score = 1 / (1 + math.exp(-4.0))  # softmax of (bg 0, fg 4)
    new_pos, new_size, crop_size = _reference_step(
        (65.0, 50.0), (30.0, 20.0), (64, 64), (13, 14), score, DAVIS_HP
    )
    np.testing.assert_allclose(state.target_pos, new_pos, atol=1e-9)
    np.testing.assert_allclose(state.target_sz, new_size, atol=1e-9)
    assert result.best_index == 2 * 625 + 13 * 25 + 14 and result.mask_pos_yx == (13, 14)
    assert result.score == pytest.approx(score, rel=1e-6)
    assert net.refine_positions == [[(13, 14)]] and net.mask_head_requests == [False]
    expected_crop = crop_subwindow(
        frame, (65.0, 50.0), 255, crop_size, pad_fill_value(frame.mean(axis=(0, 1)))
    )
    np.testing.assert_array_equal(net.search_inputs[0][0].permute(1, 2, 0).numpy(), expected_crop)
    x0, y0, x1, y1 = _mask_bbox(result.mask)
    ex0, ey0, ex1, ey1 = _expected_mask_bbox((65.0, 50.0), crop_size, (13, 14))
    assert abs(x0 - ex0) <= 1 and abs(y0 - ey0) <= 1 and abs(x1 - ex1) <= 1 and abs(y1 - ey1) <= 1
    corners = {tuple(p) for p in np.round(result.polygon).astype(int).tolist()}
    assert corners == {(x0, y0), (x1, y0), (x1, y1), (x0, y1)}


class CascadeNet(nn.Module):
    """Stand-in network for the cascade: search call k puts the foreground at ``cells[k % 2]`` (anchor,
    y, x) with box size deltas ``log_scales[k % 2]``; its features (p0) are the search crop itself, and
    ``refine_at`` marks the bright pixels (channel 0 > 200) of the asked cell's exemplar-sized window of the
    features it is given, so the mask depends on which crop's features are refined, and where."""

    def __init__(self, cells: list[tuple[int, int, int]], log_scales: list[float]) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(1))
        self.cells, self.log_scales = cells, log_scales
        self.search_inputs: list[torch.Tensor] = []
        self.refine_positions: list[list[tuple[int, int]]] = []

    def template_kernels(self, z: torch.Tensor) -> TemplateKernels:
        kernel = z.mean(dim=(1, 2, 3)).view(-1, 1, 1, 1).expand(-1, 1, 5, 5)
        return TemplateKernels(kernel, kernel, kernel)

    def search(self, x: torch.Tensor, kernels: TemplateKernels, with_mask_head: bool = False) -> SearchOutput:
        stage = len(self.search_inputs) % 2
        self.search_inputs.append(x.clone())
        (anchor, y, x_cell), log_scale, n = self.cells[stage], self.log_scales[stage], x.shape[0]
        cls = torch.zeros(n, 10, 25, 25)
        cls[:, 5 + anchor, y, x_cell] = 8.0
        loc = torch.zeros(n, 20, 25, 25)
        loc[:, 10 + anchor, y, x_cell] = log_scale  # dw
        loc[:, 15 + anchor, y, x_cell] = log_scale  # dh
        empty = torch.zeros(n, 1, 1, 1)
        return SearchOutput(cls, loc, empty, x.clone(), empty, empty, None)

    def refine_at(self, out: SearchOutput, pos_yx: Sequence[tuple[int, int]]) -> torch.Tensor:
        self.refine_positions.append(list(pos_yx))
        bright = torch.nn.functional.pad(out.p0[:, 0] > 200, (64, 64, 64, 64))  # window may leave the crop
        logits = torch.full((len(pos_yx), 127, 127), -20.0)
        for i, (y, x) in enumerate(pos_yx):
            window = bright[
                i, (y - 4) * 8 + 64 : (y - 4) * 8 + 64 + 127, (x - 4) * 8 + 64 : (x - 4) * 8 + 64 + 127
            ]
            logits[i][window] = 20.0
        return logits.view(len(pos_yx), -1)


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / max((a | b).sum(), 1))


@pytest.mark.parametrize("stage2_box", ["best", "smoothed"])
def test_two_stage_rechooses_the_cell_on_stage_two_features_and_pastes_with_their_geometry(
    stage2_box: str,
) -> None:
    rng = np.random.default_rng(9006)
    frame = rng.integers(0, 90, (240, 320, 3), dtype=np.uint8)  # dark texture
    frame[70:200, 120:260] = 255  # the bright object
    cell1, cell2 = (2, 7, 18), (2, 14, 10)  # different cells: stage 1 also grows the box by e^0.5
    net = CascadeNet([cell1, cell2], [0.5, 0.0])
    hp = dict(DAVIS_HP, lr=0.2)  # a slow size update, so the smoothed and the best box differ
    tracker = SiamMaskTracker(net, hp, cascade="two_stage", stage2_box=stage2_box)
    state = tracker.init(frame, (140.0, 100.0, 50.0, 40.0))
    fill = pad_fill_value(frame.mean(axis=(0, 1)))
    crop1 = search_crop(state.target_pos, state.target_sz, 0.5, 127, 255)
    best_center = state.target_pos + np.array([(cell1[2] - 12) * 8, (cell1[1] - 12) * 8]) / crop1.scale_x
    best_size = np.full(2, 64 * math.exp(0.5) / crop1.scale_x)  # anchor 2 is 64 x 64 crop pixels
    result = tracker.track(frame, state)

    # stage-2 crop: the context rule around the chosen box, centred on the new centre
    np.testing.assert_allclose(state.target_pos, best_center, atol=1e-9)
    box2 = best_size if stage2_box == "best" else state.target_sz  # the state holds the smoothed size
    assert abs(best_size[0] - state.target_sz[0]) > 10  # the two variants crop differently
    crop2 = search_crop(best_center, box2, 0.5, 127, 255)
    expected_crop = crop_subwindow(frame, best_center, 255, crop2.crop_size, fill)
    np.testing.assert_array_equal(net.search_inputs[1][0].permute(1, 2, 0).numpy(), expected_crop)
    # stage 2 re-chooses its own cell and refines it on its own features
    assert net.refine_positions == [[cell2[1:]]] and result.mask_pos_yx == cell2[1:]
    assert result.best_index == cell1[0] * 625 + cell1[1] * 25 + cell1[2]
    assert tracker.forward_counts == {"template": 1, "stage1": 1, "stage2": 1, "refine": 1, "distractor": 0}
    # ... and the mask lands on the object, cut by the frame square of that cell of the stage-2 crop
    square_x, square_y, side = mask_square(crop2.origin, crop2.crop_size, cell2[1:], 255, 127, 8, 8)
    ys, xs = np.mgrid[0:240, 0:320]
    in_square = (xs >= square_x) & (xs < square_x + side) & (ys >= square_y) & (ys < square_y + side)
    expected = in_square & (frame[:, :, 0] > 200)
    assert expected.sum() > 1000 and not expected.all(axis=None)
    assert _iou(result.mask, expected) > 0.9  # 0.97 here; refining stage-1 features gives 0.73


def test_tracker_options_are_checked_once_with_one_line_errors(tiny_net: nn.Module) -> None:
    with pytest.raises(TrackerConfigError, match="SiamMaskTracker: stage2_box must be one of"):
        SiamMaskTracker(tiny_net, TINY_HP, cascade="two_stage", stage2_box="largest")
    with pytest.raises(TrackerConfigError, match="box_strategy must be one of"):
        SiamMaskTracker(tiny_net, TINY_HP, box_strategy="ellipse")
    with pytest.raises(TrackerConfigError, match="<mapping>: cascade must be one of"):
        SiamMaskTracker.from_preset({"model": "tiny", "hp": {}, "cascade": "three_stage"})
    preset = {"model": "tiny", "checkpoint": None, "hp": {"out_size": 127}, "stage2_box": "smoothed"}
    tracker = SiamMaskTracker.from_preset(preset, cascade="two_stage", box_strategy="min_max")
    assert (tracker.cascade, tracker.stage2_box, tracker.options.box_strategy) == (
        "two_stage",
        "smoothed",
        "min_max",
    )
    default = SiamMaskTracker(tiny_net, TINY_HP)
    assert (default.cascade, default.stage2_box, default.max_batch) == ("one_stage", "best", 8)


def test_clip_and_polygon_fallback_use_unclipped_box() -> None:
    # best cell at the bottom-right corner, no window: the object leaves the frame and the (small) refine
    # square lands outside it, so the mask is empty and the polygon falls back to the unclipped box
    net = ScriptedNet(anchor=4, pos_yx=(24, 24), fg_logit=12.0)
    hp = dict(DAVIS_HP, window_influence=0.0)
    tracker = SiamMaskTracker(net, hp, cascade="one_stage")
    frame = _frames(1)[0]
    state = tracker.init(frame, (140.0, 100.0, 18.0, 18.0))
    result = tracker.track(frame, state)
    score = 1 / (1 + math.exp(-12.0))
    new_pos, new_size, _ = _reference_step((149.0, 109.0), (18.0, 18.0), (32, 96), (24, 24), score, hp)
    assert new_pos[0] > 160 and new_pos[1] > 120 and new_size[0] < 10  # unclipped values leave the ranges
    assert not result.mask.any()
    corners = box_corners((new_pos[0] - new_size[0] / 2, new_pos[1] - new_size[1] / 2, *new_size))
    np.testing.assert_allclose(result.polygon, corners, rtol=1e-6)
    assert state.target_pos.tolist() == [160.0, 120.0]  # clipped to (W, H)
    assert state.target_sz[0] == 10.0 and state.target_sz[1] == pytest.approx(new_size[1])  # w clipped to 10
    _check_result(result, state, hp["seg_thr"])
    tracker.track(frame, state)
    _check_result(tracker.track(frame, state), state, hp["seg_thr"])


def test_bad_inputs_raise_one_line_errors() -> None:
    tracker = SiamMaskTracker(ScriptedNet(2, (12, 12)), DAVIS_HP)
    frame = _frames(1)[0]
    with pytest.raises(TrackerInputError, match="uint8"):
        tracker.init(frame.astype(np.float32), (10, 10, 20, 20))
    with pytest.raises(TrackerInputError, match="w, h > 0"):
        tracker.init(frame, (10, 10, 0, 20))
    state = tracker.init(frame, (10, 10, 20, 20))
    with pytest.raises(TrackerInputError, match="started on"):
        tracker.track(frame[:60], state)
    with pytest.raises(ValueError, match="cascade"):
        SiamMaskTracker(ScriptedNet(2, (12, 12)), DAVIS_HP, cascade="three_stage")


# ----------------------------------------------------------------------------- tiny network
def _counting(model: nn.Module) -> dict[str, int]:
    counts = {"template_kernels": 0, "search": 0, "refine_at": 0, "mask_head": 0}
    for name in ("template_kernels", "search", "refine_at"):
        original = getattr(model, name)

        def wrapped(*args, _original=original, _name=name, **kwargs):
            counts[_name] += 1
            if _name == "search" and kwargs.get("with_mask_head", False):
                counts["mask_head"] += 1
            return _original(*args, **kwargs)

        setattr(model, name, wrapped)
    return counts


BOXES = [(38.0, 37.0, 22.0, 26.0), (97.0, 66.0, 22.0, 28.0), (126.0, 26.0, 24.0, 24.0)]
# a weak window, so that the random tiny net's best cells spread over the response map instead of its centre
TINY_HP = dataclasses.replace(load_tracker_hparams("tiny"), window_influence=0.1)


@pytest.mark.parametrize("cascade,max_batch", [("one_stage", 8), ("two_stage", 8), ("one_stage", 2)])
def test_track_many_equals_track_and_templates_are_cached(
    tiny_net: nn.Module, cascade: str, max_batch: int
) -> None:
    frames = _frames(4)
    tracker = SiamMaskTracker(tiny_net, TINY_HP, cascade=cascade, max_batch=max_batch)
    counts = _counting(tiny_net)
    chosen_cells = set()
    try:
        batched = tracker.init_many(frames[0], BOXES)
        single = [state.copy() for state in batched]
        assert counts["template_kernels"] == 1
        for frame in frames[1:]:
            many = tracker.track_many(frame, batched)
            ones = [tracker.track(frame, state) for state in single]
            for res_many, res_one, s_many, s_one in zip(many, ones, batched, single, strict=True):
                assert res_many.best_index == res_one.best_index
                assert res_many.mask_pos_yx == res_one.mask_pos_yx
                chosen_cells.update([res_many.best_index, res_many.mask_pos_yx])
                np.testing.assert_allclose(s_many.target_pos, s_one.target_pos, atol=1e-4)
                np.testing.assert_allclose(s_many.target_sz, s_one.target_sz, atol=1e-4)
                np.testing.assert_allclose(res_many.mask_prob, res_one.mask_prob, atol=1e-4)
                assert (res_many.mask != res_one.mask).sum() <= 5
                _check_result(res_many, s_many, tracker.hp.seg_thr)
        assert len(chosen_cells) >= 6  # the comparison covered many different cells, not one
        stages = 2 if cascade == "two_stage" else 1
        batched_calls = -(-len(BOXES) // max_batch)  # chunks of max_batch tracks
        per_frame_calls = batched_calls + len(BOXES)  # batched chunks + one per track in the looped run
        assert counts["template_kernels"] == 1  # never recomputed per frame
        assert counts["search"] == stages * per_frame_calls * (len(frames) - 1)
        assert counts["refine_at"] == per_frame_calls * (len(frames) - 1)
        assert counts["mask_head"] == 0
    finally:
        for name in ("template_kernels", "search", "refine_at"):
            del tiny_net.__dict__[name]


def test_one_and_two_stage_give_valid_and_related_results(tiny_net: nn.Module) -> None:
    frames = _frames(3, seed=1)
    results = {}
    for cascade in ("one_stage", "two_stage"):
        tracker = SiamMaskTracker(tiny_net, TINY_HP, cascade=cascade)
        states = tracker.init_many(frames[0], BOXES)
        for frame in frames[1:]:
            out = tracker.track_many(frame, states)
            for result, state in zip(out, states, strict=True):
                _check_result(result, state, tracker.hp.seg_thr)
        results[cascade] = (out, [state.target_pos.copy() for state in states])
        counts = tracker.forward_counts  # samples through each network call: which cascade really ran
        stage2 = counts["stage1"] if cascade == "two_stage" else 0
        assert counts == {"template": 3, "stage1": 6, "stage2": stage2, "refine": 6, "distractor": 0}
    # stage 1 of the cascade is the released step, so with the same stage-1 history the boxes agree on the
    # first tracked frame; masks come from a different crop and may differ.
    one, two = (SiamMaskTracker(tiny_net, TINY_HP, cascade=c) for c in ("one_stage", "two_stage"))
    s1, s2 = one.init(frames[0], BOXES[0]), two.init(frames[0], BOXES[0])
    r1, r2 = one.track(frames[1], s1), two.track(frames[1], s2)
    assert r1.best_index == r2.best_index and r1.score == r2.score
    np.testing.assert_array_equal(s1.target_pos, s2.target_pos)
    assert not np.array_equal(r1.mask_prob, r2.mask_prob)


def test_from_preset_loads_the_checkpoint_and_preset(tiny_net: nn.Module, tmp_path) -> None:
    from siammask.checkpoint import save_checkpoint

    path = tmp_path / "tiny.pth"
    save_checkpoint(tiny_net, path)
    tracker = SiamMaskTracker.from_preset("tiny", checkpoint=path, cascade="one_stage")
    assert tracker.cascade == "one_stage" and tracker.hp == load_tracker_hparams("tiny")
    for key, value in tiny_net.state_dict().items():
        assert torch.equal(tracker.model.state_dict()[key], value), key
    assert SiamMaskTracker.from_preset("tiny", checkpoint=path).cascade == "two_stage"  # the preset's


def test_model_checkpoint_builds_the_widths_the_file_records(tmp_path) -> None:
    from siammask.checkpoint import CheckpointError, save_checkpoint

    wide = build_siammask("tiny", stage_planes=(24, 48, 72), adjust_channels=96)
    path = tmp_path / "wide.pth"
    save_checkpoint(wide, path)
    preset = {"model": "checkpoint", "checkpoint": str(path), "hp": {}}
    tracker = SiamMaskTracker.from_preset(preset)
    assert tracker.model.config == wide.config
    for key, value in wide.state_dict().items():
        assert torch.equal(tracker.model.state_dict()[key], value), key
    with pytest.raises(CheckpointError):  # the plain tiny layout cannot take these weights
        SiamMaskTracker.from_preset({**preset, "model": "tiny"})
    with pytest.raises(TrackerConfigError, match="needs a checkpoint"):
        SiamMaskTracker.from_preset({"model": "checkpoint", "hp": {}})


def test_anchor_count_must_match_the_network(tiny_net: nn.Module) -> None:
    with pytest.raises(ValueError, match="2 anchors per cell, the network 5"):
        SiamMaskTracker(tiny_net, {"out_size": 127, "anchors": {"ratios": [1.0, 2.0]}})


# ----------------------------------------------------------------------------- recenter
def _pull_towards_xyxy(pos, size, box_xyxy, weight):
    """The pipeline's former correction on corner boxes (vis_pipeline.track.mot.pull_towards_box)."""
    x0, y0, x1, y1 = (float(v) for v in box_xyxy)
    center = np.array([(x0 + x1) / 2, (y0 + y1) / 2])
    box_size = np.array([max(x1 - x0, 1.0), max(y1 - y0, 1.0)])
    return (1 - weight) * pos + weight * center, (1 - weight) * size + weight * box_size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_recenter_equals_the_corner_box_pull_bit_for_bit(dtype) -> None:
    rng = np.random.default_rng(9000)
    tracker = SiamMaskTracker(ScriptedNet(2, (12, 12)), DAVIS_HP)
    state = tracker.init(_frames(1)[0], (50.0, 40.0, 30.0, 20.0))
    n = 4000
    corners = rng.uniform(-200, 1500, (n, 2)).astype(dtype)
    extents = np.where(rng.random((n, 2)) < 0.1, rng.uniform(-3, 1, (n, 2)), rng.uniform(0, 1400, (n, 2)))
    boxes_xyxy = np.concatenate([corners, (corners + extents).astype(dtype)], axis=1)
    weights = np.concatenate([[0.0, 1.0, 0.5, 1], rng.random(n - 4)])
    for box, weight in zip(boxes_xyxy, weights, strict=True):
        pos, size = rng.uniform(0, 1000, 2), rng.uniform(1, 500, 2)
        state.target_pos, state.target_sz = pos.copy(), size.copy()
        wide = box.astype(np.float64)
        tracker.recenter(state, (wide[0], wide[1], wide[2] - wide[0], wide[3] - wide[1]), weight)
        expected_pos, expected_size = _pull_towards_xyxy(pos, size, box, weight)
        assert state.target_pos.tobytes() == expected_pos.tobytes(), (box, weight)
        assert state.target_sz.tobytes() == expected_size.tobytes(), (box, weight)
    with pytest.raises(TrackerInputError, match="weight"):
        tracker.recenter(state, (0, 0, 10, 10), 1.5)


def test_size_floor_is_a_fraction_of_the_shorter_side_when_larger(tiny_net: nn.Module) -> None:
    hp = dataclasses.replace(TINY_HP, min_size=10.0, min_size_fraction=0.25)
    assert hp.size_floor((120, 160)) == 30.0 and hp.size_floor((20, 160)) == 10.0
    frames = _frames(2, seed=3)
    for cascade in ("one_stage", "two_stage"):
        sizes = {}
        for fraction in (0.0, 0.25):
            hp = dataclasses.replace(TINY_HP, min_size=10.0, min_size_fraction=fraction)
            tracker = SiamMaskTracker(tiny_net, hp, cascade=cascade)
            states = tracker.init_many(frames[0], BOXES)  # 22-28 px boxes
            tracker.track_many(frames[1], states)
            sizes[fraction] = np.array([state.target_sz for state in states])
        assert (sizes[0.0] < 30.0).any()  # without the floor the boxes stay near their 22-28 px
        assert (sizes[0.25] >= 30.0).all()  # 0.25 x 120 px
    with pytest.raises(TrackerConfigError, match="min_size_fraction must be in"):
        load_tracker_hparams({"min_size_fraction": 1.0})
