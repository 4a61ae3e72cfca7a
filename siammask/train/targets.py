"""Training targets for SiamMask: anchors, anchor labels/deltas and per-RoW mask windows.

Geometry (all in pixels of the 255x255 search crop, pixel index = pixel centre):

* the crop centre is pixel ``search_size // 2`` (127); the GT object of a pair is placed there before the
  random shift, so the anchor at response position (y, x) is centred at
  ``(127 + (x - 12) * 8, 127 + (y - 12) * 8)``, exactly as the tracker decodes it;
* anchors are indexed ``i = a * 625 + y * 25 + x`` (anchor-major), the order of the model's cls/loc
  channels (cls channel ``a`` = background, ``5 + a`` = foreground; loc channel ``5 * c + a``);
* the mask of response position (RoW) (y, x) is the 127x127 window of the search crop with top-left
  ``(8 (x - 4), 8 (y - 4))``; outside the crop the target is background.

Labelling rule (SiamRPN / SiamMask): an anchor is positive at IoU >= ``pos_iou`` (0.6, the paper) with the
GT box, negative at IoU < ``neg_iou`` (0.3), ignored in between. Per pair at most ``max_pos`` positives are
sampled and negatives fill up to ``total`` sampled anchors. A RoW is positive for the mask loss when any of
its anchors is positive (before the sampling). Optionally (``hard_negatives`` > 0, not in the paper) the
network's own highest-scoring anchors far from the target (IoU <= ``hard_negative_max_iou``) join the
sampled negatives after the forward pass (:func:`add_hard_negatives`): random negatives are nearly all plain
background, while a tracker drifts to the *other objects* of the search crop.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class AnchorConfig:
    """Anchor layout of the released model (``stride`` 8, 5 ratios, one scale, 25x25 response)."""

    stride: int = 8
    ratios: tuple[float, ...] = (0.33, 0.5, 1.0, 2.0, 3.0)
    scales: tuple[float, ...] = (8.0,)
    score_size: int = 25
    search_size: int = 255


@dataclass(frozen=True)
class TargetConfig:
    """Anchor labelling and sampling rule (see the module docstring)."""

    pos_iou: float = 0.6
    neg_iou: float = 0.3
    max_pos: int = 16
    total: int = 64
    hard_negatives: int = 0  # per pair, highest-scoring far anchors added as negatives (0 = off)
    hard_negative_max_iou: float = 0.1  # "far": IoU with the GT box at most this

    def __post_init__(self) -> None:
        if self.hard_negatives < 0:
            raise ValueError(f"targets.hard_negatives={self.hard_negatives} must be >= 0")
        if not 0.0 <= self.hard_negative_max_iou < self.neg_iou:
            raise ValueError(
                f"targets.hard_negative_max_iou={self.hard_negative_max_iou} must be in [0, neg_iou)"
            )


@dataclass
class AnchorTargets:
    """Targets of a batch of B pairs over A = 5 * 25 * 25 anchors.

    labels: (B, A) int64; 1 = sampled positive, 0 = sampled negative, -1 = not sampled / ignored.
    deltas: (B, 4, A) float32 normalised (dx, dy, dw, dh) of the GT box w.r.t. every anchor.
    positive_rows: (B, score_size, score_size) bool; RoWs with at least one positive anchor.
    far: (B, A) bool; anchors with IoU <= ``hard_negative_max_iou`` (candidates for hard negatives).
    """

    labels: torch.Tensor
    deltas: torch.Tensor
    positive_rows: torch.Tensor
    far: torch.Tensor


def anchor_sizes(cfg: AnchorConfig) -> list[tuple[int, int]]:
    """(w, h) of each anchor type with the released rounding.

    ``ws = int(sqrt(stride^2 / r))``, ``hs = int(ws r)``, both times the scale.
    """
    base_area = cfg.stride * cfg.stride
    sizes: list[tuple[int, int]] = []
    for ratio in cfg.ratios:
        ws = int(math.sqrt(base_area / ratio))
        hs = int(ws * ratio)
        for scale in cfg.scales:
            sizes.append((int(ws * scale), int(hs * scale)))
    return sizes


def generate_anchors(cfg: AnchorConfig) -> np.ndarray:
    """All anchors as (A, 4) float32 ``(cx, cy, w, h)`` in absolute search-crop pixels, A = K * S * S."""
    size = cfg.score_size
    centre = cfg.search_size // 2
    offsets = (np.arange(size, dtype=np.float32) - size // 2) * cfg.stride + centre
    cy, cx = np.meshgrid(offsets, offsets, indexing="ij")  # (S, S) each, row = y
    rows = []
    for w, h in anchor_sizes(cfg):
        rows.append(
            np.stack([cx.ravel(), cy.ravel(), np.full(size * size, w), np.full(size * size, h)], axis=1)
        )
    return np.concatenate(rows, axis=0).astype(np.float32)


def cxcywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """(N, 4) ``(cx, cy, w, h)`` -> (N, 4) ``(x1, y1, x2, y2)``."""
    half = boxes[:, 2:] / 2.0
    return np.concatenate([boxes[:, :2] - half, boxes[:, :2] + half], axis=1)


def iou_with_box(boxes_xyxy: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
    """IoU of every row of (N, 4) ``boxes_xyxy`` with one (4,) box, shape (N,), float64."""
    ix1 = np.maximum(boxes_xyxy[:, 0], box_xyxy[0])
    iy1 = np.maximum(boxes_xyxy[:, 1], box_xyxy[1])
    ix2 = np.minimum(boxes_xyxy[:, 2], box_xyxy[2])
    iy2 = np.minimum(boxes_xyxy[:, 3], box_xyxy[3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (boxes_xyxy[:, 2] - boxes_xyxy[:, 0]) * (boxes_xyxy[:, 3] - boxes_xyxy[:, 1])
    area_b = (box_xyxy[2] - box_xyxy[0]) * (box_xyxy[3] - box_xyxy[1])
    union = area_a + area_b - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def encode_deltas(anchors_cxcywh: np.ndarray, box_xyxy: np.ndarray) -> np.ndarray:
    """Normalised regression targets (A, 4): ``dx = (gx - ax) / aw``, dy, ``dw = log(gw / aw)``, dh."""
    gw = max(float(box_xyxy[2] - box_xyxy[0]), 1e-6)
    gh = max(float(box_xyxy[3] - box_xyxy[1]), 1e-6)
    gx = float(box_xyxy[0]) + gw / 2.0
    gy = float(box_xyxy[1]) + gh / 2.0
    ax, ay, aw, ah = (anchors_cxcywh[:, k] for k in range(4))
    return np.stack([(gx - ax) / aw, (gy - ay) / ah, np.log(gw / aw), np.log(gh / ah)], axis=1)


def label_anchors(
    anchors_cxcywh: np.ndarray, box_xyxy: np.ndarray, cfg: TargetConfig, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Label the anchors of one pair.

    Returns ``(labels, positive, far)``: labels (A,) int64 in {1, 0, -1} after sampling, the (A,) bool
    mask of all anchors with IoU >= pos_iou (before sampling; used for the RoW positivity of the mask
    loss) and the (A,) bool mask of anchors with IoU <= hard_negative_max_iou.
    """
    iou = iou_with_box(cxcywh_to_xyxy(anchors_cxcywh), box_xyxy)
    positive = iou >= cfg.pos_iou
    negative = iou < cfg.neg_iou
    labels = np.full(len(anchors_cxcywh), -1, dtype=np.int64)
    pos_idx = np.flatnonzero(positive)
    if len(pos_idx) > cfg.max_pos:
        pos_idx = rng.choice(pos_idx, cfg.max_pos, replace=False)
    neg_idx = np.flatnonzero(negative)
    num_neg = min(len(neg_idx), cfg.total - len(pos_idx))
    if len(neg_idx) > num_neg:
        neg_idx = rng.choice(neg_idx, num_neg, replace=False)
    labels[pos_idx] = 1
    labels[neg_idx] = 0
    return labels, positive, iou <= cfg.hard_negative_max_iou


def assign_targets(
    boxes_xyxy: np.ndarray,
    anchors_cxcywh: np.ndarray,
    anchor_cfg: AnchorConfig,
    target_cfg: TargetConfig,
    rng: np.random.Generator,
) -> AnchorTargets:
    """Targets for a batch of GT boxes (B, 4) ``xyxy`` in search-crop pixels (see :class:`AnchorTargets`)."""
    boxes_xyxy = np.asarray(boxes_xyxy, dtype=np.float64).reshape(-1, 4)
    size = anchor_cfg.score_size
    num_types = len(anchors_cxcywh) // (size * size)
    labels, deltas, rows, far = [], [], [], []
    for box in boxes_xyxy:
        sample_labels, positive, far_anchors = label_anchors(anchors_cxcywh, box, target_cfg, rng)
        labels.append(sample_labels)
        far.append(far_anchors)
        deltas.append(encode_deltas(anchors_cxcywh.astype(np.float64), box).T)
        rows.append(positive.reshape(num_types, size, size).any(axis=0))
    return AnchorTargets(
        labels=torch.from_numpy(np.stack(labels)),
        deltas=torch.from_numpy(np.stack(deltas).astype(np.float32)),
        positive_rows=torch.from_numpy(np.stack(rows)),
        far=torch.from_numpy(np.stack(far)),
    )


def add_hard_negatives(
    labels: torch.Tensor, far: torch.Tensor, fg_margin: torch.Tensor, count: int
) -> torch.Tensor:
    """Labels with each pair's ``count`` highest-scoring far anchors added as negatives (label 0).

    labels: (B, A) int64 from :func:`assign_targets`; far: (B, A) bool; fg_margin: (B, A) foreground minus
    background logit of every anchor (the network's current scores, no gradient needed). Anchors already
    sampled keep their label; positives are never far (``hard_negative_max_iou < neg_iou``). Returns a new
    tensor; ``count <= 0`` returns ``labels`` unchanged.
    """
    if count <= 0:
        return labels
    candidates = far.to(labels.device) & (labels < 0)
    ranked = torch.where(
        candidates, fg_margin.detach().to(labels.device), torch.full_like(fg_margin, -torch.inf)
    )
    top = torch.topk(ranked, min(count, ranked.shape[1]), dim=1)
    chosen = torch.zeros_like(candidates)
    chosen.scatter_(1, top.indices, torch.isfinite(top.values))
    return torch.where(chosen, torch.zeros_like(labels), labels)


def select_mask_rows(
    positive_rows: torch.Tensor, max_rows_per_pair: int, rng: np.random.Generator
) -> list[tuple[int, int, int]]:
    """Pick the RoWs that get a mask loss: (batch index, y, x) of positive RoWs, at most
    ``max_rows_per_pair`` per pair (random subset; ``<= 0`` means all), sorted for determinism."""
    chosen: list[tuple[int, int, int]] = []
    for b in range(positive_rows.shape[0]):
        yx = torch.nonzero(positive_rows[b]).tolist()
        if 0 < max_rows_per_pair < len(yx):
            keep = sorted(rng.choice(len(yx), max_rows_per_pair, replace=False).tolist())
            yx = [yx[k] for k in keep]
        chosen.extend((b, int(y), int(x)) for y, x in yx)
    return chosen


def mask_windows(
    search_masks: torch.Tensor,
    rows: Sequence[tuple[int, int, int]],
    stride: int = 8,
    out_size: int = 127,
    score_size: int = 25,
) -> torch.Tensor:
    """Cut the mask target of each RoW from the GT masks of the search crops.

    search_masks: (B, 255, 255) float {0, 1}; rows: (b, y, x) triples.
    Returns (len(rows), 127, 127) float: window with top-left ``(stride (x - 4), stride (y - 4))``,
    zero where it leaves the crop.
    """
    # The window of RoW (y, x) is centred on the anchor centre 127 + (x - 12) * 8, so its left edge is
    # 8 x - pad with pad = 12 * 8 - (127 - 63) = 32: positions 0..3 hang off the crop.
    search_size = search_masks.shape[-1]
    pad = (score_size // 2) * stride - (search_size // 2 - out_size // 2)
    padded = F.pad(search_masks, (pad, pad, pad, pad))
    windows = [
        padded[b, stride * y : stride * y + out_size, stride * x : stride * x + out_size] for b, y, x in rows
    ]
    if not windows:
        return search_masks.new_zeros((0, out_size, out_size))
    return torch.stack(windows)
