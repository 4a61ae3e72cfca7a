"""SiamMask three-branch loss (paper §3.2, Eq. 10 and L3B = l1 Lmask + l2 Lscore + l3 Lreg).

Conventions (stated here because the paper leaves the normalisation open):

* ``score_loss``: softmax cross-entropy (background vs foreground) averaged over all *sampled* anchors of
  the batch (label 1 or 0; -1 is ignored).
* ``box_loss``: smooth-L1 (transition ``beta``) on the normalised deltas (dx, dy, dw, dh), summed over the
  4 coordinates and averaged over the positive anchors of the batch.
* ``mask_loss`` (Eq. 10): per-pixel binary logistic loss ``log(1 + exp(-c m))`` with labels c = +1 / -1,
  over the RoWs that are positive (the (1 + y_n)/2 factor keeps only those), averaged over the 127x127
  pixels of each RoW's mask and then averaged over the positive RoWs of the batch.

Each loss is 0 (still attached to the graph) when there is nothing to average over.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass(frozen=True)
class LossWeights:
    """Weights of L3B (paper: lambda1 = 32 for the mask, 1 for score and box) and the smooth-L1 beta."""

    mask: float = 32.0
    score: float = 1.0
    reg: float = 1.0
    smooth_l1_beta: float = 1.0 / 9.0


@dataclass
class LossTerms:
    """Scalar tensors of one batch: the weighted total and the three unweighted terms."""

    total: torch.Tensor
    mask: torch.Tensor
    score: torch.Tensor
    reg: torch.Tensor


def cls_to_anchor_logits(cls: torch.Tensor) -> torch.Tensor:
    """(B, 2K, S, S) cls map (channel a = background of anchor a, K + a = foreground) -> (B, 2, K*S*S),
    the anchor index being ``a * S * S + y * S + x``."""
    batch, channels = cls.shape[:2]
    return cls.reshape(batch, 2, (channels // 2) * cls.shape[2] * cls.shape[3])


def loc_to_anchor_deltas(loc: torch.Tensor) -> torch.Tensor:
    """(B, 4K, S, S) loc map (channel ``K * c + a``) -> (B, 4, K*S*S) with the same anchor index."""
    batch, channels = loc.shape[:2]
    return loc.reshape(batch, 4, (channels // 4) * loc.shape[2] * loc.shape[3])


def score_loss(cls: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Cross-entropy over the sampled anchors.

    cls: (B, 2K, S, S) logits; labels: (B, K*S*S) int64 in {1, 0, -1}. Returns a scalar.
    """
    logits = cls_to_anchor_logits(cls).permute(0, 2, 1).reshape(-1, 2)  # (B*A, 2) [bg, fg]
    flat_labels = labels.reshape(-1)
    sampled = flat_labels >= 0
    if not bool(sampled.any()):
        return cls.sum() * 0.0
    return F.cross_entropy(logits[sampled], flat_labels[sampled])


def box_loss(loc: torch.Tensor, deltas: torch.Tensor, labels: torch.Tensor, beta: float) -> torch.Tensor:
    """Smooth-L1 on the normalised deltas of the positive anchors.

    loc: (B, 4K, S, S) predictions; deltas: (B, 4, K*S*S) targets; labels: (B, K*S*S). Returns a scalar:
    sum over the 4 coordinates, mean over the positive anchors.
    """
    predicted = loc_to_anchor_deltas(loc)  # (B, 4, A)
    positive = labels == 1  # (B, A)
    num_pos = int(positive.sum())
    if num_pos == 0:
        return loc.sum() * 0.0
    pred_pos = predicted.permute(0, 2, 1)[positive]  # (P, 4)
    target_pos = deltas.permute(0, 2, 1)[positive]
    per_coord = F.smooth_l1_loss(pred_pos, target_pos, reduction="none", beta=beta)
    return per_coord.sum() / num_pos


def mask_loss(mask_logits: torch.Tensor, mask_targets: torch.Tensor) -> torch.Tensor:
    """Eq. 10 over positive RoWs.

    mask_logits: (N, 16129) or (N, 127, 127) logits of N positive RoWs (``refine_at`` output);
    mask_targets: (N, 127, 127) float in {0, 1} (1 = object). Returns a scalar: mean over RoWs of the
    mean over pixels of ``log(1 + exp(-c m))``, c = 2 t - 1.
    """
    if mask_logits.shape[0] == 0:
        return mask_logits.sum() * 0.0
    logits = mask_logits.reshape(mask_logits.shape[0], -1)
    signs = mask_targets.reshape(mask_targets.shape[0], -1).to(logits.dtype) * 2.0 - 1.0
    per_row = F.softplus(-signs * logits).mean(dim=1)  # softplus(v) = log(1 + exp(v)), stable
    return per_row.mean()


def combine(mask: torch.Tensor, score: torch.Tensor, reg: torch.Tensor, weights: LossWeights) -> LossTerms:
    """L3B = w_mask Lmask + w_score Lscore + w_reg Lreg."""
    total = weights.mask * mask + weights.score * score + weights.reg * reg
    return LossTerms(total=total, mask=mask, score=score, reg=reg)
