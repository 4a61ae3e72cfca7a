"""Depthwise-correlation heads of SiamMask: RPN (cls, loc) and the mask branch.

Each branch is a :class:`DepthCorr` with its own ``conv_kernel`` (template side), ``conv_search``
(search side), a parameter-free depthwise cross-correlation and a two-layer 1x1 ``head``.
With a 7x7 template feature and a 31x31 search feature: kernel 5x5, search 29x29, response 25x25.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


def _conv3x3_bn_relu(channels_in: int, channels_out: int) -> nn.Sequential:
    """3x3 conv without padding or bias + BN + ReLU (``.0`` conv, ``.1`` BN)."""
    return nn.Sequential(
        nn.Conv2d(channels_in, channels_out, 3, bias=False),
        nn.BatchNorm2d(channels_out),
        nn.ReLU(inplace=True),
    )


class DepthwiseCorrelation(nn.Module):
    """Per-sample, per-channel cross-correlation (no kernel flip, no padding); no parameters.

    A module (rather than a function) so FLOP counting hooks see it.
    search (N, C, Hs, Ws), kernel (N, C, Hk, Wk) -> (N, C, Hs-Hk+1, Ws-Wk+1).
    """

    def forward(self, search: Tensor, kernel: Tensor) -> Tensor:
        n, c = kernel.shape[:2]
        if search.shape[:2] != kernel.shape[:2]:
            raise ValueError(
                f"correlation: search {tuple(search.shape)} and kernel {tuple(kernel.shape)} differ in N/C"
            )
        # fold the batch into the channel axis so one grouped conv correlates every (sample, channel) pair
        out = F.conv2d(
            search.reshape(1, n * c, *search.shape[2:]),
            kernel.reshape(n * c, 1, *kernel.shape[2:]),
            groups=n * c,
        )
        return out.reshape(n, c, *out.shape[2:])


class DepthCorr(nn.Module):
    """One SiamMask branch; state_dict names ``conv_kernel.{0,1}``, ``conv_search.{0,1}``, ``head.{0,1,3}``.

    Args:
        in_channels: adjusted feature channels (256 for the released model).
        hidden: channels of the conv_kernel / conv_search / head hidden layer (256 released).
        out_channels: head outputs (10 cls, 20 loc, 3969 mask).
    """

    def __init__(self, in_channels: int, hidden: int, out_channels: int) -> None:
        super().__init__()
        self.conv_kernel = _conv3x3_bn_relu(in_channels, hidden)
        self.conv_search = _conv3x3_bn_relu(in_channels, hidden)
        self.correlation = DepthwiseCorrelation()
        self.head = nn.Sequential(
            nn.Conv2d(hidden, hidden, 1, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels, 1),
        )

    def kernel(self, template_feature: Tensor) -> Tensor:
        """(N, in, 7, 7) adjusted template feature -> (N, hidden, 5, 5) correlation kernel."""
        return self.conv_kernel(template_feature)

    def forward_corr(self, kernel: Tensor, search_feature: Tensor) -> Tensor:
        """kernel (N, hidden, 5, 5), search feature (N, in, 31, 31) -> correlation (N, hidden, 25, 25)."""
        return self.correlation(self.conv_search(search_feature), kernel)

    def forward(self, kernel: Tensor, search_feature: Tensor) -> Tensor:
        """kernel (N, hidden, 5, 5), search feature (N, in, 31, 31) -> head output (N, out, 25, 25)."""
        return self.head(self.forward_corr(kernel, search_feature))


class RPNHeads(nn.Module):
    """``rpn_model``: classification (2 x anchors logits) and box regression (4 x anchors) branches."""

    def __init__(self, in_channels: int, hidden: int, anchor_num: int) -> None:
        super().__init__()
        self.cls = DepthCorr(in_channels, hidden, 2 * anchor_num)
        self.loc = DepthCorr(in_channels, hidden, 4 * anchor_num)


class MaskBranch(nn.Module):
    """``mask_model``: a DepthCorr whose head predicts a ``mask_size**2`` low-resolution mask per position."""

    def __init__(self, in_channels: int, hidden: int, mask_size: int) -> None:
        super().__init__()
        self.mask = DepthCorr(in_channels, hidden, mask_size * mask_size)
