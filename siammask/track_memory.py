"""What a track may learn while it runs: distractor templates, template updates and its colour model.

All are inference-only options of :class:`siammask.tracker.SiamMaskTracker`, off in the released
presets (``distractor_weight``, ``template_update_rate`` and the ``colour_*`` weights and floors are 0):

* distractors (``siammask.distractors``): a second response peak far from the chosen box gets its own
  template, whose cls kernels are kept in ``TrackerState.distractors`` and scored on later crops;
* template update: on a confident step, ``kernels = (1 - rate) * kernels + rate * kernels(new box)``, so
  a rotating, deforming or growing target stays recognisable;
* colour model (``siammask.colour_model``, ``colour_weight`` / ``colour_min_score``): histograms of the
  target's box against the rest of its search crop, fitted at init and blended in on found steps.

The functions return how many samples went through the network, for the tracker's ``forward_counts``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from siammask.anchors import Candidate, foreground_scores
from siammask.colour_model import (
    ColourModel,
    ColourRule,
    bin_indices,
    blend,
    box_colour_scores,
    fit_colour_model,
)
from siammask.crops import SearchCrop, crop_subwindow, crops_to_tensor, pad_fill_value, template_crop_size
from siammask.distractors import new_distractors
from siammask.hparams import TrackerHParams
from siammask.model import SearchOutput, TemplateKernels
from siammask.opencv_exact import PaddedFrame
from siammask.track_state import TrackerState


def _template_patch(
    image_bgr: np.ndarray,
    padded: PaddedFrame,
    center: np.ndarray,
    size: np.ndarray,
    avg_chans: np.ndarray,
    hp: TrackerHParams,
) -> np.ndarray | None:
    """The exemplar crop of a box (as at init), or None for a box too small to crop."""
    side = template_crop_size(size, hp.context_amount)
    if side < 1:
        return None
    return crop_subwindow(image_bgr, center, hp.exemplar_size, side, pad_fill_value(avg_chans), padded)


def distractor_scores(
    model: nn.Module, out: SearchOutput, states: Sequence[TrackerState]
) -> tuple[list[np.ndarray | None], int]:
    """Per sample of ``out``, the foreground scores (M, K) of its state's distractors, or None."""
    found: list[np.ndarray | None] = []
    scored = 0
    for i, state in enumerate(states):
        if state.distractors is None:
            found.append(None)
            continue
        found.append(foreground_scores(model.cls_logits_with(out, i, state.distractors)))
        scored += len(state.distractors)
    return found, scored


def _box_templates(
    model: nn.Module,
    device: torch.device,
    hp: TrackerHParams,
    image_bgr: np.ndarray,
    padded: PaddedFrame,
    boxes: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
) -> tuple[list[int], TemplateKernels | None]:
    """Template kernels of (owner, centre, size, avg_chans) boxes in one forward; boxes too small to crop
    are skipped, so the owners of the kernels' rows come back too (None: no box could be cropped)."""
    owners, patches = [], []
    for owner, center, size, avg_chans in boxes:
        patch = _template_patch(image_bgr, padded, center, size, avg_chans, hp)
        if patch is not None:
            patches.append(patch)
            owners.append(owner)
    if not patches:
        return owners, None
    return owners, model.template_kernels(crops_to_tensor(patches, device))


def remember_distractors(
    model: nn.Module,
    device: torch.device,
    hp: TrackerHParams,
    image_bgr: np.ndarray,
    padded: PaddedFrame,
    scores: np.ndarray,
    boxes_per_sample: Sequence[np.ndarray],
    crops: Sequence[SearchCrop],
    choices: Sequence[Candidate],
    states: Sequence[TrackerState],
) -> int:
    """Add this frame's second response peaks (``scores`` (N, K), decoded ``boxes_per_sample`` (4, K)) to
    each state's distractors (newest ``memory`` kept)."""
    rule = hp.distractor_rule
    found = []
    for i, (crop, choice, state) in enumerate(zip(crops, choices, states, strict=True)):
        target = state.target_sz * crop.scale_x
        peaks = new_distractors(
            scores[i], boxes_per_sample[i], choice.index, target, rule, hp.num_anchors, hp.score_size
        )
        for box in peaks:
            center, size = crop.center + box[:2] / crop.scale_x, box[2:] / crop.scale_x
            found.append((i, center, size, state.avg_chans))
    owners, kernels = _box_templates(model, device, hp, image_bgr, padded, found)
    if kernels is None:
        return 0
    for i in sorted(set(owners)):
        new = kernels.cls[[k for k, owner in enumerate(owners) if owner == i]]
        old = states[i].distractors
        states[i].distractors = (new if old is None else torch.cat([old, new]))[-rule.memory :]
    return len(owners)


def update_templates(
    model: nn.Module,
    device: torch.device,
    hp: TrackerHParams,
    image_bgr: np.ndarray,
    padded: PaddedFrame,
    states: Sequence[TrackerState],
    scores: Sequence[float],
) -> int:
    """Blend a template of each confident state's (new) box into its kernels; see the module docstring."""
    confident = [
        (i, state.target_pos, state.target_sz, state.avg_chans)
        for i, (state, score) in enumerate(zip(states, scores, strict=True))
        if score >= hp.template_update_min_score
    ]
    owners, fresh = _box_templates(model, device, hp, image_bgr, padded, confident)
    if fresh is None:
        return 0
    rate = hp.template_update_rate
    for k, i in enumerate(owners):
        old = states[i].kernels
        states[i].kernels = TemplateKernels(
            (1 - rate) * old.cls + rate * fresh.cls[k : k + 1],
            (1 - rate) * old.loc + rate * fresh.loc[k : k + 1],
            (1 - rate) * old.mask + rate * fresh.mask[k : k + 1],
        )
    return len(owners)


def init_colour_models(
    rule: ColourRule,
    patches: Sequence[np.ndarray],
    boxes_in_crop: Sequence[np.ndarray],
    init_sides: Sequence[float],
) -> list[ColourModel | None]:
    """A colour model per search-size ``patches`` of the init boxes (``boxes_in_crop``: (cx, cy, w, h)
    relative to the patch centre), or None where the init box's ``sqrt(w h)`` in frame pixels
    (``init_sides``) is below ``rule.min_init_side``: such a target is never called not found."""
    return [
        fit_colour_model(bin_indices(patch, rule.bins), box, rule.bins)
        if side >= rule.min_init_side
        else None
        for patch, box, side in zip(patches, boxes_in_crop, init_sides, strict=True)
    ]


def colour_scores(
    states: Sequence[TrackerState], bin_maps: Sequence[np.ndarray], boxes_per_sample: Sequence[np.ndarray]
) -> list[np.ndarray]:
    """Per sample, the colour score (K,) of each decoded candidate box under its state's colour model;
    ``bin_maps``: ``bin_indices`` of each sample's search patch."""
    scores = []
    for state, bins, boxes in zip(states, bin_maps, boxes_per_sample, strict=True):
        if state.colour is None:  # no model (init box under min_init_side): every box fits, none is lost
            scores.append(np.ones(boxes.shape[1]))  # boxes: (4, K)
        else:
            scores.append(box_colour_scores(state.colour.object_probability()[bins], boxes))
    return scores


def update_colour_models(
    rule: ColourRule,
    states: Sequence[TrackerState],
    bin_maps: Sequence[np.ndarray],
    choices: Sequence[Candidate],
    found: Sequence[bool],
) -> None:
    """Blend a model refitted on the chosen box into each found state's colour model (rate 0: kept);
    ``bin_maps`` as for ``colour_scores``."""
    if rule.update_rate <= 0:
        return
    for state, bins, choice, is_found in zip(states, bin_maps, choices, found, strict=True):
        if is_found and state.colour is not None:
            new = fit_colour_model(bins, choice.box_in_crop, rule.bins)
            state.colour = blend(state.colour, new, rule.update_rate)
