"""SiamMask tracker: the released per-frame step, the paper's two-stage cascade, and batched multi-track.

One step for a track (SPEC §2.5, reproduced exactly; "one_stage" = the released tracker):
  1. search crop around the previous centre, side round(s_x), s_x = s * 255/127 with
     s = sqrt((w + (w+h)/2)(h + (w+h)/2)), resized to 255;
  2. network: foreground score and box deltas for the 5 x 25 x 25 anchors;
  3. decode boxes, penalise scale/aspect change, mix with the cosine window, take the argmax;
  4. update: centre += best box centre / scale_x, size moves towards the best box by penalty*score*lr;
  5. mask: refine at the best cell, sigmoid, paste into the frame; polygon: the mask's box by
     ``box_strategy`` (mbr = the released minAreaRect) or the unclipped new box; then clip to the frame.

Two-stage cascade (paper §5, Fig. 7; SPEC §2.9). Stage 1 is steps 1-4 (the state is updated exactly as
in one_stage). Stage 2:
  * crop (``stage2_box``): the context rule of step 1 around the new clipped centre with, as size,
    ``best``: the raw size of the best stage-1 candidate (the paper's "bounding box corresponding to the
    highest score in the first stage"), or ``smoothed``: the lr-smoothed new size (the next frame's
    stage-1 crop), clipped like the state: the crop the network was trained on for that box;
  * cell: stage 1's penalty + window scoring against the stage-2 box, so that the window says "agree
    with stage 1" and the penalty rejects boxes of another scale or shape, while the network may still
    correct a small centring error (a fixed centre cell would ignore stage 2, a raw argmax could jump to
    a distractor);
  * mask: refine at that cell of stage 2, pasted with stage 2's geometry; pos/size/score stay stage 1's.
  Templates are cached (never recomputed); no stage computes the 3969-channel mask head; stage 1 of
  two_stage skips refine.

Inference-only options (all off in the released presets): remembered distractors and template updates
(``siammask.track_memory``), the colour model (``siammask.colour_model``) and stage 1's choice with them
(``siammask.selection``), hold and coast (``siammask.motion``). The reported score is always the raw one.

``track_many`` runs a frame's tracks with one ``search`` per stage and one ``refine_at`` on stacked crops;
scoring and pasting run per track with ``track``'s code (differences: batched convolution arithmetic).
Crops and the paste touch only the pixels they need (``siammask.opencv_exact``, bit-identical to the
full-frame OpenCV calls); a result builds frame-sized arrays and its polygon only when asked.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from siammask import motion, track_memory
from siammask.anchors import (
    Candidate,
    anchor_grid,
    decode_boxes,
    foreground_scores,
    loc_deltas,
    score_window,
)
from siammask.checkpoint import MODEL_FROM_CHECKPOINT, build_network
from siammask.colour_model import bin_indices, fused_mask_region
from siammask.crops import (
    SearchCrop,
    clip_box,
    crop_subwindow,
    crops_to_tensor,
    mask_square,
    pad_fill_value,
    paste_mask_region,
    search_crop,
    template_crop_size,
)
from siammask.hparams import (
    TrackerConfigError,
    TrackerHParams,
    TrackerOptions,
    load_tracker_hparams,
    load_tracker_preset,
)
from siammask.model import SearchOutput, TemplateKernels
from siammask.opencv_exact import PaddedFrame
from siammask.selection import choose_candidates, found_by_colour
from siammask.track_state import (
    PolygonRule,
    TrackerInputError,
    TrackerState,
    TrackResult,
    check_frame,
    model_device,
)


class SiamMaskTracker:
    """SiamMask tracker over a :class:`siammask.model.SiamMask` (any device; the model is put in eval mode).

    hp: preset name (``PRESET_FILES``), YAML path, mapping/DictConfig or TrackerHParams.
    options: TrackerOptions (cascade, stage2_box, box_strategy, max_batch; see siammask.hparams), of which
    the keyword arguments override single fields; their defaults are TrackerOptions' own.
    timings: set to a dict to accumulate seconds per phase (crop, network, select, paste) for profiling.
    forward_counts: samples through each network call since construction ('template', 'stage1' and
    'stage2' searches, 'refine', and 'distractor': distractor templates and their scorings), e.g. to check
    which cascade ran.
    """

    def __init__(
        self,
        model: nn.Module,
        hp: str | Mapping[str, Any] | TrackerHParams = "davis",
        cascade: str | None = None,
        max_batch: int | None = None,
        stage2_box: str | None = None,
        box_strategy: str | None = None,
        options: TrackerOptions | None = None,
    ) -> None:
        self.options = (options or TrackerOptions()).replace(
            "SiamMaskTracker",
            cascade=cascade,
            max_batch=max_batch,
            stage2_box=stage2_box,
            box_strategy=box_strategy,
        )
        self.model = model.eval()
        self.hp = load_tracker_hparams(hp)
        hp_ = self.hp
        model_anchors = getattr(getattr(model, "config", None), "anchor_num", hp_.num_anchors)
        if model_anchors != hp_.num_anchors:
            raise TrackerConfigError(
                f"SiamMaskTracker: hp defines {hp_.num_anchors} anchors per cell, the network {model_anchors}"
            )
        self.anchors = anchor_grid(hp_.anchor_ratios, hp_.anchor_scales, hp_.total_stride, hp_.score_size)
        self.window = score_window(hp_.score_size, hp_.num_anchors, hp_.windowing)
        self.timings: dict[str, float] | None = None
        self.forward_counts = {"template": 0, "stage1": 0, "stage2": 0, "refine": 0, "distractor": 0}
        self._padded = PaddedFrame()  # this frame inside a reused buffer, for crops that leave it

    @property
    def cascade(self) -> str:
        return self.options.cascade

    @property
    def stage2_box(self) -> str:
        return self.options.stage2_box

    @property
    def max_batch(self) -> int:
        return self.options.max_batch

    @classmethod
    def from_preset(
        cls,
        preset: str | Path | Mapping[str, Any] = "davis",
        checkpoint: str | Path | None = None,
        device: str | torch.device = "cpu",
        cascade: str | None = None,
        trusted: bool = False,
        stage2_box: str | None = None,
        box_strategy: str | None = None,
    ) -> SiamMaskTracker:
        """Build network + tracker from a preset; given arguments replace the preset's values.

        ``trusted`` allows full unpickling of a trusted file (the released ones are torch 0.4 pickles).
        """
        spec = load_tracker_preset(preset)
        weights = checkpoint if checkpoint is not None else spec.checkpoint
        if spec.model == MODEL_FROM_CHECKPOINT and weights is None:
            raise TrackerConfigError(f"{spec.source}: model 'checkpoint' needs a checkpoint file")
        model = build_network(spec.model, weights, trusted=trusted)
        options = spec.options.replace(
            spec.source, cascade=cascade, stage2_box=stage2_box, box_strategy=box_strategy
        )
        return cls(model.to(device), spec.hp, options=options)

    @property
    def device(self) -> torch.device:
        """Device of the network's parameters (inputs are moved there)."""
        return model_device(self.model)

    # ------------------------------------------------------------------ timing hook
    def _tick(self, phase: str, since: float) -> float:
        if self.timings is None:
            return 0.0
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        now = time.perf_counter()
        self.timings[phase] = self.timings.get(phase, 0.0) + now - since
        return now

    def _search_crop(self, center: np.ndarray, size: np.ndarray) -> SearchCrop:
        hp = self.hp
        return search_crop(center, size, hp.context_amount, hp.exemplar_size, hp.instance_size)

    # ------------------------------------------------------------------ init
    def init(self, image_bgr: np.ndarray, box_xywh: Sequence[float]) -> TrackerState:
        """Start a track on ``box_xywh`` (x, y, w, h) of an (H, W, 3) uint8 BGR frame."""
        return self.init_many(image_bgr, [box_xywh])[0]

    @torch.inference_mode()
    def init_many(self, image_bgr: np.ndarray, boxes_xywh: Sequence[Sequence[float]]) -> list[TrackerState]:
        """Start several tracks on one frame with one batched template forward."""
        check_frame(image_bgr)
        if len(boxes_xywh) == 0:
            return []
        hp = self.hp
        avg_chans = np.mean(image_bgr, axis=(0, 1))
        fill = pad_fill_value(avg_chans)
        self._padded.reset(image_bgr)
        positions, sizes, crops = [], [], []
        for box in boxes_xywh:
            x, y, w, h = (float(v) for v in box)
            if not (np.isfinite([x, y, w, h]).all() and w > 0 and h > 0):
                raise TrackerInputError(f"tracker init: box must be finite with w, h > 0, got {list(box)}")
            pos, size = np.array([x + w / 2, y + h / 2]), np.array([w, h])
            template_side = template_crop_size(size, hp.context_amount)
            if template_side < 1:
                raise TrackerInputError(f"tracker init: box {list(box)} is too small to crop a template")
            crops.append(crop_subwindow(image_bgr, pos, hp.exemplar_size, template_side, fill, self._padded))
            positions.append(pos)
            sizes.append(size)
        colours = [None] * len(crops)
        if self.hp.colour_rule.enabled:  # siammask.colour_model (off in the released presets)
            search = [self._search_crop(pos, size) for pos, size in zip(positions, sizes, strict=True)]
            patches = [self._crop_patch(image_bgr, crop, avg_chans) for crop in search]
            in_crop = [np.r_[0.0, 0.0, size * crop.scale_x] for crop, size in zip(search, sizes, strict=True)]
            sides = [float(np.sqrt(w * h)) for w, h in sizes]
            colours = track_memory.init_colour_models(self.hp.colour_rule, patches, in_crop, sides)
        self._padded.reset(None)
        z = crops_to_tensor(crops, self.device)
        kernels = self.model.template_kernels(z)
        self.forward_counts["template"] += len(crops)
        image_hw = (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        return [
            TrackerState(pos, size, kernels[i], avg_chans.copy(), image_hw, colour=colours[i])
            for i, (pos, size) in enumerate(zip(positions, sizes, strict=True))
        ]

    # ------------------------------------------------------------------ external correction
    def recenter(self, state: TrackerState, box_xywh: Sequence[float], weight: float) -> None:
        """Move ``state``'s search centre and size towards ``box_xywh`` by ``weight`` in [0, 1] (in place;
        see ``TrackerState.move_towards`` for the box convention). The template is kept."""
        state.move_towards(box_xywh, weight)

    # ------------------------------------------------------------------ per-frame step
    def track(self, image_bgr: np.ndarray, state: TrackerState) -> TrackResult:
        """Track one object into this frame; ``state`` is updated in place."""
        return self.track_many(image_bgr, [state])[0]

    @torch.inference_mode()
    def track_many(self, image_bgr: np.ndarray, states: Sequence[TrackerState]) -> list[TrackResult]:
        """Track all given objects into this frame with batched forwards; every state is updated in place.

        Tracks are run in chunks of ``max_batch``: on CPU a batch of 16 search crops was measured 1.27x
        slower per object than a loop (cache pressure), while batches up to 8 are never slower.
        """
        check_frame(image_bgr)
        image_hw = (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        for state in states:
            if state.image_hw != image_hw:
                raise TrackerInputError(
                    f"tracker: frame is {image_hw} but the track was started on {state.image_hw}"
                )
        self._padded.reset(image_bgr)
        step = self.max_batch
        results = [
            result
            for i in range(0, len(states), step)
            for result in self._track_batch(image_bgr, states[i : i + step])
        ]
        self._padded.reset(None)
        return results

    def _track_batch(self, image_bgr: np.ndarray, states: Sequence[TrackerState]) -> list[TrackResult]:
        """``track_many`` for at most ``max_batch`` states."""
        image_hw = (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        kernels = TemplateKernels.cat([state.kernels for state in states])
        avg_chans = [state.avg_chans for state in states]

        # stage 1: search around the previous state, choose the box, update the state
        crops1 = [self._search_crop(state.target_pos, state.target_sz) for state in states]
        out1, patches1 = self._search(image_bgr, crops1, avg_chans, kernels, "stage1")
        started = time.perf_counter()
        scores1, boxes1 = self._decode(out1)
        others = colour = None
        if self.hp.distractor_rule.enabled:  # siammask.track_memory (off in the released presets)
            others, scored = track_memory.distractor_scores(self.model, out1, states)
            self.forward_counts["distractor"] += scored
        if self.hp.colour_rule.enabled:  # siammask.colour_model (off in the released presets)
            bin_maps1 = [bin_indices(patch, self.hp.colour_bins) for patch in patches1]
            colour = track_memory.colour_scores(states, bin_maps1, boxes1)
        sizes1 = [state.target_sz for state in states]
        choices1 = choose_candidates(self.hp, self.window, scores1, boxes1, crops1, sizes1, others, colour)
        found = found_by_colour(choices1, colour, self.hp.colour_min_score)
        if self.hp.distractor_rule.enabled:
            self.forward_counts["distractor"] += track_memory.remember_distractors(
                self.model, self.device, self.hp, image_bgr, self._padded, scores1, boxes1, crops1, choices1,
                states,
            )  # fmt: skip
        new_boxes = [
            motion.updated_box(self.hp, state, crop, choice, is_found)
            for state, crop, choice, is_found in zip(states, crops1, choices1, found, strict=True)
        ]
        self._tick("select", started)

        if self.cascade == "two_stage":
            del out1  # free stage-1 feature maps before the second forward
            boxes2 = [
                motion.stage2_box(
                    self.stage2_box, new_box, crop, choice, image_hw, self.hp.size_floor(image_hw)
                )
                for new_box, crop, choice in zip(new_boxes, crops1, choices1, strict=True)
            ]
            crops2 = [self._search_crop(pos, size) for pos, size in boxes2]
            out2, _ = self._search(image_bgr, crops2, avg_chans, kernels, "stage2")
            started = time.perf_counter()
            scores2, boxes2_decoded = self._decode(out2)
            sizes2 = [size for _, size in boxes2]
            mask_choices = choose_candidates(self.hp, self.window, scores2, boxes2_decoded, crops2, sizes2)
            self._tick("select", started)
            mask_probs = self._refine(out2, mask_choices)
            mask_crops = crops2
        else:
            mask_choices, mask_crops = choices1, crops1
            mask_probs = self._refine(out1, choices1)

        started = time.perf_counter()
        steps = zip(states, new_boxes, choices1, mask_choices, mask_crops, mask_probs, found, strict=True)
        results = [self._finish(image_bgr, *step) for step in steps]
        self._tick("paste", started)
        if colour is not None:
            track_memory.update_colour_models(self.hp.colour_rule, states, bin_maps1, choices1, found)
        if self.hp.template_update_rate > 0:  # siammask.track_memory (off in the released presets)
            started = time.perf_counter()
            scores = [float(choice.score) for choice in choices1]
            self.forward_counts["template"] += track_memory.update_templates(
                self.model, self.device, self.hp, image_bgr, self._padded, states, scores
            )
            self._tick("select", started)
        return results

    def _search(
        self,
        image: np.ndarray,
        crops: Sequence[SearchCrop],
        avg_chans: Sequence[np.ndarray],
        kernels: TemplateKernels,
        stage: str,
    ) -> tuple[SearchOutput, list[np.ndarray]]:
        """The network's output on the search crops, and the (instance_size,)*2 BGR patches it saw."""
        started = time.perf_counter()
        self.forward_counts[stage] += len(crops)
        patches = [self._crop_patch(image, crop, avg) for crop, avg in zip(crops, avg_chans, strict=True)]
        x = crops_to_tensor(patches, self.device)
        started = self._tick("crop", started)
        out = self.model.search(x, kernels, with_mask_head=False)
        self._tick("network", started)
        return out, patches

    def _crop_patch(self, image: np.ndarray, crop: SearchCrop, avg_chans: np.ndarray) -> np.ndarray:
        return crop_subwindow(
            image, crop.center, self.hp.instance_size, crop.crop_size, pad_fill_value(avg_chans), self._padded
        )

    def _decode(self, out: SearchOutput) -> tuple[np.ndarray, list[np.ndarray]]:
        """Foreground scores (N, K) and decoded boxes (4, K) per sample, moved to the CPU once per batch."""
        deltas = loc_deltas(out.loc)
        return foreground_scores(out.cls), [decode_boxes(sample, self.anchors) for sample in deltas]

    def _refine(self, out: SearchOutput, choices: Sequence[Candidate]) -> np.ndarray:
        """One batched refine at each sample's chosen cell -> (N, M, M) float32 probabilities on the CPU."""
        started = time.perf_counter()
        logits = self.model.refine_at(out, [choice.pos_yx for choice in choices])
        self.forward_counts["refine"] += len(choices)
        side = self.hp.out_size
        if logits.shape[1] != side * side:
            raise TrackerConfigError(
                f"tracker hp out_size={side} but refine outputs {logits.shape[1]} values per mask"
            )
        probs = logits.sigmoid().view(len(choices), side, side).cpu().numpy()
        self._tick("network", started)
        return probs

    def _finish(
        self,
        image_bgr: np.ndarray,
        state: TrackerState,
        new_box: tuple[np.ndarray, np.ndarray],
        choice: Candidate,
        mask_choice: Candidate,
        mask_crop: SearchCrop,
        mask_prob_crop: np.ndarray,
        found: bool = True,
    ) -> TrackResult:
        """Paste the mask region, keep the polygon rule (unclipped box), then clip and store the new state."""
        hp = self.hp
        pos, size = new_box
        square = mask_square(
            mask_crop.origin,
            mask_crop.crop_size,
            mask_choice.pos_yx,
            hp.instance_size,
            hp.exemplar_size,
            hp.total_stride,
            hp.base_size,
        )
        image_hw = (int(image_bgr.shape[0]), int(image_bgr.shape[1]))
        x0, y0, region = paste_mask_region(mask_prob_crop, square, image_hw)
        if hp.colour_mask_weight > 0 and state.colour is not None:  # siammask.colour_model
            pixels = image_bgr[y0 : y0 + region.shape[0], x0 : x0 + region.shape[1]]
            region = fused_mask_region(region, pixels, state.colour, hp.colour_mask_weight)
        fallback = (pos[0] - size[0] / 2, pos[1] - size[1] / 2, size[0], size[1])
        rule = PolygonRule(self.options.box_strategy, hp.min_polygon_area, fallback)
        state.velocity = motion.smoothed_velocity(hp, state, pos, float(choice.score), found)
        state.target_pos, state.target_sz = clip_box(pos, size, image_hw, hp.size_floor(image_hw))
        state.score = float(choice.score)
        state.frames_tracked += 1
        return TrackResult(
            mask_prob_region=region,
            mask_origin=(x0, y0),
            image_hw=image_hw,
            seg_thr=hp.seg_thr,
            box=state.box_xywh,
            score=float(choice.score),
            best_index=choice.index,
            mask_pos_yx=mask_choice.pos_yx,
            mask_score=float(mask_choice.score),
            polygon_rule=rule,
            found=found,
        )
