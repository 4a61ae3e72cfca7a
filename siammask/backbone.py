"""SiamMask feature extractor: a ResNet trunk truncated after layer3 plus the 1x1 "adjust" layer.

The layout reproduces the released SiamMask (sharp, ResNet-50) checkpoints, including their
padding quirks (see the module docstrings below); the state_dict names are
``features.features.*`` (trunk) and ``features.downsample.downsample.*`` (adjust) once this
module is attached as ``SiamMask.features``.

Geometry (identical for every width configuration):

=========  ====================  =====================
map        127x127 template       255x255 search
=========  ====================  =====================
p0         stem x 61 x 61         stem x 125 x 125
p1         4*planes[0] x 31 x 31  4*planes[0] x 63 x 63
p2         4*planes[1] x 15 x 15  4*planes[1] x 31 x 31
p3         4*planes[2] x 15 x 15  4*planes[2] x 31 x 31
adjusted   adjust x 7 x 7         adjust x 31 x 31
=========  ====================  =====================
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

#: The adjust layer keeps only the centre ``[4:-4, 4:-4]`` of maps narrower than this (template side).
ADJUST_CROP_BELOW_WIDTH = 20
ADJUST_CROP_MARGIN = 4


def _conv_bn(
    in_channels: int, out_channels: int, kernel: int, stride: int, padding: int, dilation: int
) -> nn.Sequential:
    """conv (no bias) + BatchNorm, registered as ``.0`` / ``.1`` like the released downsample paths."""
    return nn.Sequential(
        nn.Conv2d(
            in_channels, out_channels, kernel, stride=stride, padding=padding, dilation=dilation, bias=False
        ),
        nn.BatchNorm2d(out_channels),
    )


class Bottleneck(nn.Module):
    """ResNet bottleneck (1x1 -> 3x3 -> 1x1, expansion ``expansion``) with the released padding rule.

    The released code computes the 3x3 padding as ``2 - stride`` (so a stride-2 block has padding 0)
    and, in the first block of a dilated stage (the one with a downsample path), halves the dilation.
    Input (N, inplanes, H, W) -> output (N, planes*expansion, H', W').
    """

    def __init__(
        self,
        inplanes: int,
        planes: int,
        stride: int = 1,
        dilation: int = 1,
        downsample: nn.Module | None = None,
        expansion: int = 4,
    ) -> None:
        super().__init__()
        padding = 2 - stride
        if downsample is not None and dilation > 1:
            dilation = dilation // 2  # released quirk: layer3 block0 runs with dilation 1
            padding = dilation
        if stride != 1 and dilation != 1:
            raise ValueError(f"Bottleneck: stride {stride} with dilation {dilation} is not supported")
        if dilation > 1:
            padding = dilation
        self.conv1 = nn.Conv2d(inplanes, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(
            planes, planes, 3, stride=stride, padding=padding, dilation=dilation, bias=False
        )
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, planes * expansion, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(planes * expansion)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: Tensor) -> Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + residual)


class ResNetTrunk(nn.Module):
    """Modified ResNet (conv1 padding 0, layer2 stride 2, layer3 dilation 2), truncated after layer3.

    Args:
        stem_channels: conv1 output channels (64 for ResNet-50).
        stage_planes: bottleneck widths of layer1..layer3 (64, 128, 256 for ResNet-50).
        stage_blocks: blocks per stage (3, 4, 6 for ResNet-50).
        expansion: bottleneck expansion factor (4).
    """

    def __init__(
        self,
        stem_channels: int = 64,
        stage_planes: Sequence[int] = (64, 128, 256),
        stage_blocks: Sequence[int] = (3, 4, 6),
        expansion: int = 4,
    ) -> None:
        super().__init__()
        if len(stage_planes) != 3 or len(stage_blocks) != 3:
            raise ValueError(
                f"ResNetTrunk needs 3 stages, got planes {stage_planes} and blocks {stage_blocks}"
            )
        self.expansion = expansion
        self.conv1 = nn.Conv2d(3, stem_channels, 7, stride=2, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(stem_channels)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
        self._inplanes = stem_channels
        self.layer1 = self._make_layer(stage_planes[0], stage_blocks[0], stride=1, dilation=1)
        self.layer2 = self._make_layer(stage_planes[1], stage_blocks[1], stride=2, dilation=1)
        self.layer3 = self._make_layer(stage_planes[2], stage_blocks[2], stride=1, dilation=2)
        self.out_channels = (stem_channels, *(p * expansion for p in stage_planes))

    def _make_layer(self, planes: int, blocks: int, stride: int, dilation: int) -> nn.Sequential:
        out_planes = planes * self.expansion
        downsample: nn.Module | None = None
        if stride != 1 or self._inplanes != out_planes:
            if stride == 1 and dilation == 1:
                downsample = _conv_bn(self._inplanes, out_planes, 1, stride=1, padding=0, dilation=1)
            elif dilation > 1:
                # released quirk: a 3x3 downsample with half the stage dilation, padded to keep the size
                downsample = _conv_bn(self._inplanes, out_planes, 3, stride, dilation // 2, dilation // 2)
            else:
                # released quirk: 3x3 stride-2 downsample with padding 0 (matches the padding-0 conv2)
                downsample = _conv_bn(self._inplanes, out_planes, 3, stride, padding=0, dilation=1)
        layers = [Bottleneck(self._inplanes, planes, stride, dilation, downsample, self.expansion)]
        self._inplanes = out_planes
        layers += [
            Bottleneck(self._inplanes, planes, 1, dilation, None, self.expansion) for _ in range(1, blocks)
        ]
        return nn.Sequential(*layers)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """x (N, 3, H, W) raw BGR 0..255 -> (p0, p1, p2, p3); shapes in the module docstring."""
        p0 = self.relu(self.bn1(self.conv1(x)))
        p1 = self.layer1(self.maxpool(p0))
        p2 = self.layer2(p1)
        p3 = self.layer3(p2)
        return p0, p1, p2, p3


class AdjustLayer(nn.Module):
    """1x1 conv + BN (no ReLU); crops the centre ``[4:-4, 4:-4]`` of maps narrower than 20 (templates).

    (N, in_channels, H, W) -> (N, out_channels, H, W), or (N, out_channels, H-8, W-8) if W < 20.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.downsample = _conv_bn(in_channels, out_channels, 1, stride=1, padding=0, dilation=1)

    def forward(self, x: Tensor) -> Tensor:
        x = self.downsample(x)
        if x.shape[-1] < ADJUST_CROP_BELOW_WIDTH:
            m = ADJUST_CROP_MARGIN
            x = x[:, :, m:-m, m:-m]
        return x


class ResDown(nn.Module):
    """Trunk + adjust layer, attached as ``SiamMask.features`` (names ``features.features.*`` etc.)."""

    def __init__(
        self,
        stem_channels: int,
        stage_planes: Sequence[int],
        stage_blocks: Sequence[int],
        expansion: int,
        adjust_channels: int,
    ) -> None:
        super().__init__()
        self.features = ResNetTrunk(stem_channels, stage_planes, stage_blocks, expansion)
        self.downsample = AdjustLayer(self.features.out_channels[3], adjust_channels)

    def forward(self, x: Tensor) -> Tensor:
        """Template path: x (N, 3, 127, 127) -> adjusted p3 (N, adjust, 7, 7)."""
        return self.downsample(self.features(x)[3])

    def forward_all(self, x: Tensor) -> tuple[tuple[Tensor, Tensor, Tensor, Tensor], Tensor]:
        """Search path: x (N, 3, 255, 255) -> ((p0, p1, p2, p3), adjusted p3 (N, adjust, 31, 31))."""
        maps = self.features(x)
        return maps, self.downsample(maps[3])
