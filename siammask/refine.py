"""SiamMask "sharp" refinement module: fuses the mask correlation vector at one response position
with crops of the search backbone maps p0/p1/p2 and upsamples to a 127x127 mask.

Crop geometry (fixed by the released model): for response position (y, x) in the 25x25 grid,
each map is zero-padded and cut at a fixed offset so the crop covers the 127x127 search window
whose top-left corner is at (8(x-4), 8(y-4)) in the 255 crop:

====  ======  =====  =====================  ============
map   pad      size  crop start (unpadded)  scale
====  ======  =====  =====================  ============
p0    16       61    4(y-4), 4(x-4)         4 px / cell
p1    8        31    2(y-4), 2(x-4)         2 px / cell
p2    4        15    (y-4), (x-4)           1 px / cell
====  ======  =====  =====================  ============

Upsampling uses ``F.interpolate(mode="nearest")``: source index ``floor(dst * in / out)``, the legacy
``F.upsample`` default the released model was trained with (not bilinear, not nearest-exact).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: (zero padding, crop size, pixels per response cell) of p0, p1, p2.
REFINE_CROPS: tuple[tuple[int, int, int], ...] = ((16, 61, 4), (8, 31, 2), (4, 15, 1))
#: Spatial sizes after each upsampling stage (to p1-, p0-crop size and the final mask side).
REFINE_UPSAMPLE_SIZES: tuple[int, int, int] = (31, 61, 127)
#: Side of the refined mask.
REFINE_OUT_SIZE = 127
#: Kernel size and stride of the deconvolution that lifts the 1x1 correlation vector to 15x15.
DECONV_SIZE = 15


def _two_convs(channels_in: int, hidden: int, channels_out: int) -> nn.Sequential:
    """conv3x3 -> ReLU -> conv3x3 -> ReLU, with bias, padding 1 (``.0`` and ``.2``)."""
    return nn.Sequential(
        nn.Conv2d(channels_in, hidden, 3, padding=1),
        nn.ReLU(inplace=True),
        nn.Conv2d(hidden, channels_out, 3, padding=1),
        nn.ReLU(inplace=True),
    )


def crop_refine_inputs(
    p0: Tensor, p1: Tensor, p2: Tensor, corr: Tensor, pos_yx: Sequence[tuple[int, int]]
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Cut the refine inputs of sample n at response position ``pos_yx[n]``.

    Args:
        p0, p1, p2: search backbone maps (N, C0, 125, 125), (N, C1, 63, 63), (N, C2, 31, 31).
        corr: mask-branch correlation (N, C, 25, 25).
        pos_yx: N (y, x) integer positions in ``[0, 25)``.

    Returns:
        (P0 (N, C0, 61, 61), P1 (N, C1, 31, 31), P2 (N, C2, 15, 15), P3 (N, C, 1, 1)), zero where a
        crop hangs off its map.
    """
    n = corr.shape[0]
    if len(pos_yx) != n:
        raise ValueError(f"refine: {len(pos_yx)} positions for a batch of {n}")
    rows, cols = corr.shape[2], corr.shape[3]
    for y, x in pos_yx:
        if not (0 <= int(y) < rows and 0 <= int(x) < cols):
            raise ValueError(f"refine: position (y={y}, x={x}) outside the {rows}x{cols} response grid")
    crops: list[Tensor] = []
    for feature, (pad, size, scale) in zip((p0, p1, p2), REFINE_CROPS, strict=True):
        padded = F.pad(feature, [pad, pad, pad, pad])
        crops.append(
            torch.stack(
                [
                    padded[
                        i, :, scale * int(y) : scale * int(y) + size, scale * int(x) : scale * int(x) + size
                    ]
                    for i, (y, x) in enumerate(pos_yx)
                ]
            )
        )
    ys = torch.tensor([int(y) for y, _ in pos_yx], device=corr.device)
    xs = torch.tensor([int(x) for _, x in pos_yx], device=corr.device)
    p3 = corr[torch.arange(n, device=corr.device), :, ys, xs][:, :, None, None]
    return crops[0], crops[1], crops[2], p3


class Refine(nn.Module):
    """``refine_model``: state_dict names v0..v2, h0..h2 (``.0``/``.2``), deconv, post0..post2.

    Args:
        feature_channels: channels of (p0, p1, p2, corr), e.g. (64, 256, 512, 256).
        hidden: first-conv widths of v0, v1, v2, e.g. (16, 64, 128).
        channels: output widths of stage 0, 1, 2 (v_i / h_i outputs), e.g. (4, 16, 32).
    """

    def __init__(
        self,
        feature_channels: Sequence[int] = (64, 256, 512, 256),
        hidden: Sequence[int] = (16, 64, 128),
        channels: Sequence[int] = (4, 16, 32),
    ) -> None:
        super().__init__()
        c0, c1, c2, c_corr = feature_channels
        self.v0 = _two_convs(c0, hidden[0], channels[0])
        self.v1 = _two_convs(c1, hidden[1], channels[1])
        self.v2 = _two_convs(c2, hidden[2], channels[2])
        self.h2 = _two_convs(channels[2], channels[2], channels[2])
        self.h1 = _two_convs(channels[1], channels[1], channels[1])
        self.h0 = _two_convs(channels[0], channels[0], channels[0])
        self.deconv = nn.ConvTranspose2d(c_corr, channels[2], DECONV_SIZE, stride=DECONV_SIZE)
        self.post0 = nn.Conv2d(channels[2], channels[1], 3, padding=1)
        self.post1 = nn.Conv2d(channels[1], channels[0], 3, padding=1)
        self.post2 = nn.Conv2d(channels[0], 1, 3, padding=1)

    def forward(self, p0_crop: Tensor, p1_crop: Tensor, p2_crop: Tensor, corr_vector: Tensor) -> Tensor:
        """Cropped inputs (see :func:`crop_refine_inputs`) -> mask logits (N, 16129) = 127x127 row-major."""
        up31, up61, up127 = REFINE_UPSAMPLE_SIZES
        out = self.deconv(corr_vector)  # (N, c2, 15, 15)
        out = self.post0(F.interpolate(self.h2(out) + self.v2(p2_crop), size=(up31, up31), mode="nearest"))
        out = self.post1(F.interpolate(self.h1(out) + self.v1(p1_crop), size=(up61, up61), mode="nearest"))
        out = self.post2(F.interpolate(self.h0(out) + self.v0(p0_crop), size=(up127, up127), mode="nearest"))
        return out.reshape(out.shape[0], REFINE_OUT_SIZE * REFINE_OUT_SIZE)
