"""SiamMask (sharp variant): three-branch Siamese tracker network with the refine module.

Two APIs on one module:

* a stateless, batched API for the tracker: :meth:`SiamMask.template_kernels` once per track,
  :meth:`SiamMask.search` per frame for a stack of search crops, :meth:`SiamMask.refine_at` for
  one response position per sample;
* the released model's stateful batch-1 API (``template`` / ``track_mask`` / ``track_refine``),
  used for parity with the reference.

Inputs are raw BGR 0..255 float32 NCHW crops (no normalisation): templates 127x127, searches 255x255.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from siammask.backbone import ResDown
from siammask.heads import MaskBranch, RPNHeads
from siammask.refine import Refine, crop_refine_inputs

TEMPLATE_SIZE = 127
SEARCH_SIZE = 255
RESPONSE_SIZE = 25


@dataclass(frozen=True)
class SiamMaskConfig:
    """Widths of a SiamMask network; the spatial geometry is the same for every configuration.

    Attributes:
        stem_channels: conv1 output channels (p0 channels).
        stage_planes: bottleneck widths of layer1..3; p1/p2/p3 have ``expansion`` times as many channels.
        stage_blocks: bottlenecks per stage.
        expansion: bottleneck expansion factor.
        adjust_channels: channels after the adjust layer = DepthCorr input and hidden width (C).
        anchor_num: anchors per position (cls outputs 2x, loc 4x this).
        mask_size: side of the mask head's low-resolution mask (outputs ``mask_size**2`` channels).
        refine_hidden: first-conv widths of refine v0, v1, v2.
        refine_channels: refine stage widths 0, 1, 2 (v_i/h_i outputs; deconv outputs stage 2).
    """

    stem_channels: int = 64
    stage_planes: tuple[int, int, int] = (64, 128, 256)
    stage_blocks: tuple[int, int, int] = (3, 4, 6)
    expansion: int = 4
    adjust_channels: int = 256
    anchor_num: int = 5
    mask_size: int = 63
    refine_hidden: tuple[int, int, int] = (16, 64, 128)
    refine_channels: tuple[int, int, int] = (4, 16, 32)


#: Named configurations. "resnet50_sharp" is the layout of SiamMask_DAVIS.pth / SiamMask_VOT.pth.
PRESETS: dict[str, SiamMaskConfig] = {
    "resnet50_sharp": SiamMaskConfig(),
    # Narrow trunk for CPU training on synthetic data: same strides, dilations, paddings and crops.
    "tiny": SiamMaskConfig(
        stem_channels=16,
        stage_planes=(16, 32, 48),
        stage_blocks=(1, 2, 2),
        adjust_channels=64,
        refine_hidden=(8, 16, 32),
        refine_channels=(4, 8, 16),
    ),
}


def make_config(
    name_or_cfg: str | Mapping[str, Any] | SiamMaskConfig = "resnet50_sharp", **overrides: Any
) -> SiamMaskConfig:
    """Resolve a preset name, a mapping or a config plus keyword overrides into a :class:`SiamMaskConfig`.

    A mapping may name its starting point with ``preset`` (default "resnet50_sharp"); its other keys
    and ``overrides`` replace fields. Unknown names or fields raise ValueError.
    """
    if isinstance(name_or_cfg, SiamMaskConfig):
        base, fields = name_or_cfg, {}
    elif isinstance(name_or_cfg, str):
        base, fields = _preset(name_or_cfg), {}
    elif isinstance(name_or_cfg, Mapping):
        fields = dict(name_or_cfg)
        base = _preset(str(fields.pop("preset", "resnet50_sharp")))
    else:
        raise TypeError(
            f"build_siammask: expected a preset name, mapping or SiamMaskConfig, got {type(name_or_cfg)}"
        )
    fields.update(overrides)
    known = {f.name for f in dataclasses.fields(SiamMaskConfig)}
    unknown = sorted(set(fields) - known)
    if unknown:
        raise ValueError(f"build_siammask: unknown config field(s) {unknown}; valid: {sorted(known)}")
    # YAML / OmegaConf give lists; the config keeps hashable tuples
    fields = {
        k: tuple(int(x) for x in v) if isinstance(v, Sequence) and not isinstance(v, str) else int(v)
        for k, v in fields.items()
    }
    return dataclasses.replace(base, **fields)


def _preset(name: str) -> SiamMaskConfig:
    if name not in PRESETS:
        raise ValueError(f"build_siammask: unknown preset {name!r}; known: {sorted(PRESETS)}")
    return PRESETS[name]


@dataclass
class TemplateKernels:
    """Per-track correlation kernels (``conv_kernel`` outputs) of the three DepthCorr branches.

    Attributes:
        cls, loc, mask: (N, C, 5, 5) each.
    """

    cls: Tensor
    loc: Tensor
    mask: Tensor

    def __len__(self) -> int:
        return int(self.cls.shape[0])

    def __getitem__(self, idx: int | slice | Sequence[int] | Tensor) -> TemplateKernels:
        """Select tracks; an int keeps the batch axis (result has length 1)."""
        if isinstance(idx, int):
            idx = slice(idx, idx + 1) if idx != -1 else slice(-1, None)
        elif not isinstance(idx, (slice, Tensor)):
            idx = torch.as_tensor(list(idx), dtype=torch.long, device=self.cls.device)
        return TemplateKernels(self.cls[idx], self.loc[idx], self.mask[idx])

    @staticmethod
    def cat(items: Sequence[TemplateKernels]) -> TemplateKernels:
        """Concatenate along the track axis."""
        if len(items) == 0:
            raise ValueError("TemplateKernels.cat: no items")
        return TemplateKernels(
            torch.cat([k.cls for k in items]),
            torch.cat([k.loc for k in items]),
            torch.cat([k.mask for k in items]),
        )


@dataclass
class SearchOutput:
    """Outputs of :meth:`SiamMask.search` for N search crops.

    Attributes:
        cls: (N, 2A, 25, 25) logits; channel a = background of anchor a, A + a = foreground.
        loc: (N, 4A, 25, 25); channel A*c + a with c in (dx, dy, dw, dh).
        mask_corr: (N, C, 25, 25) mask-branch correlation before its head (refine input).
        p0, p1, p2: search backbone maps (N, *, 125, 125), (N, *, 63, 63), (N, *, 31, 31).
        mask: (N, mask_size**2, 25, 25) mask-head logits, or None when not requested.
        cls_search: (N, hidden, 29, 29) the cls branch's ``conv_search`` output, so that other kernels
            (distractor templates) can be scored on the same crops without a new backbone pass.
    """

    cls: Tensor
    loc: Tensor
    mask_corr: Tensor
    p0: Tensor
    p1: Tensor
    p2: Tensor
    mask: Tensor | None = None
    cls_search: Tensor | None = None


class SiamMask(nn.Module):
    """SiamMask sharp network; module names reproduce the released checkpoints' state_dict keys."""

    def __init__(self, config: SiamMaskConfig | None = None) -> None:
        super().__init__()
        self.config = config if config is not None else SiamMaskConfig()
        cfg = self.config
        self.features = ResDown(
            cfg.stem_channels, cfg.stage_planes, cfg.stage_blocks, cfg.expansion, cfg.adjust_channels
        )
        c = cfg.adjust_channels
        self.rpn_model = RPNHeads(c, c, cfg.anchor_num)
        self.mask_model = MaskBranch(c, c, cfg.mask_size)
        p_channels = self.features.features.out_channels
        self.refine_model = Refine(
            (p_channels[0], p_channels[1], p_channels[2], c), cfg.refine_hidden, cfg.refine_channels
        )
        self._kernels: TemplateKernels | None = None
        self._last_search: SearchOutput | None = None

    # ---------------------------------------------------------------- batched, stateless API
    def template_features(self, z: Tensor) -> Tensor:
        """z (N, 3, 127, 127) raw BGR -> adjusted template feature (N, C, 7, 7)."""
        return self.features(z)

    def template_kernels(self, z: Tensor) -> TemplateKernels:
        """z (N, 3, 127, 127) raw BGR -> the three branches' correlation kernels, (N, C, 5, 5) each."""
        zf = self.template_features(z)
        return TemplateKernels(
            cls=self.rpn_model.cls.kernel(zf),
            loc=self.rpn_model.loc.kernel(zf),
            mask=self.mask_model.mask.kernel(zf),
        )

    def search(self, x: Tensor, kernels: TemplateKernels, with_mask_head: bool = False) -> SearchOutput:
        """x (N, 3, 255, 255) raw BGR, ``len(kernels) == N`` -> :class:`SearchOutput` (crop n vs kernel n)."""
        if x.shape[0] != len(kernels):
            raise ValueError(
                f"SiamMask.search: {x.shape[0]} search crops for {len(kernels)} template kernels"
            )
        (p0, p1, p2, _), xf = self.features.forward_all(x)
        mask_corr = self.mask_model.mask.forward_corr(kernels.mask, xf)
        cls_branch = self.rpn_model.cls
        cls_search = cls_branch.conv_search(xf)
        return SearchOutput(
            cls=cls_branch.head(cls_branch.correlation(cls_search, kernels.cls)),
            loc=self.rpn_model.loc(kernels.loc, xf),
            mask_corr=mask_corr,
            p0=p0,
            p1=p1,
            p2=p2,
            mask=self.mask_model.mask.head(mask_corr) if with_mask_head else None,
            cls_search=cls_search,
        )

    def cls_logits_with(self, out: SearchOutput, index: int, cls_kernels: Tensor) -> Tensor:
        """cls logits (M, 2A, 25, 25) of M other cls kernels (M, C, 5, 5) on search crop ``index``."""
        if out.cls_search is None:
            raise ValueError("SiamMask.cls_logits_with: the search output kept no cls features")
        branch = self.rpn_model.cls
        search = out.cls_search[index : index + 1].expand(len(cls_kernels), -1, -1, -1)
        return branch.head(branch.correlation(search, cls_kernels))

    def refine_at(self, out: SearchOutput, pos_yx: Sequence[tuple[int, int]]) -> Tensor:
        """Refined mask logits (N, 16129) = 127x127 row-major; sample n refined at response ``pos_yx[n]``."""
        return self.refine_model(*crop_refine_inputs(out.p0, out.p1, out.p2, out.mask_corr, pos_yx))

    # ---------------------------------------------------------------- released stateful API (batch 1)
    def template(self, z: Tensor) -> None:
        """Store the template of z (1, 3, 127, 127) for :meth:`track_mask`."""
        self._kernels = self.template_kernels(z)
        self._last_search = None

    def track_mask(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """x (1, 3, 255, 255) -> (cls (1, 2A, 25, 25), loc (1, 4A, 25, 25), mask (1, 3969, 25, 25)) logits."""
        if self._kernels is None:
            raise RuntimeError("SiamMask.track_mask: call template(z) first")
        out = self.search(x, self._kernels, with_mask_head=True)
        self._last_search = out
        assert out.mask is not None
        return out.cls, out.loc, out.mask

    def track_refine(self, pos: tuple[int, int]) -> Tensor:
        """Refine the last :meth:`track_mask` at response position ``pos`` = (y, x) -> (1, 16129) logits."""
        if self._last_search is None:
            raise RuntimeError("SiamMask.track_refine: call track_mask(x) first")
        return self.refine_at(self._last_search, [pos])


def build_siammask(
    name_or_cfg: str | Mapping[str, Any] | SiamMaskConfig = "resnet50_sharp", **overrides: Any
) -> SiamMask:
    """Build a SiamMask in eval mode (BatchNorm uses running stats; call ``.train()`` to train).

    ``"resnet50_sharp"`` is the released layout (356 state_dict keys); ``"tiny"`` a narrow variant with
    the same geometry. A mapping may start from ``preset`` and override :class:`SiamMaskConfig` fields.
    """
    return SiamMask(make_config(name_or_cfg, **overrides)).eval()
