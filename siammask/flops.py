"""Analytic FLOP count of a SiamMask network, per part.

Runs the network once on the ``meta`` device (shapes only, no arithmetic, no weights copied) with
forward hooks on every convolution, transposed convolution and depthwise correlation.
Convention: **2 FLOPs per multiply-accumulate**; bias additions, BatchNorm, ReLU, residual additions,
pooling and upsampling are not counted (together < 1% here).
"""

from __future__ import annotations

from collections import defaultdict

import torch
from torch import Tensor, nn

from siammask.heads import DepthwiseCorrelation
from siammask.model import RESPONSE_SIZE, SEARCH_SIZE, TEMPLATE_SIZE, SiamMask


def _macs(module: nn.Module, inputs: tuple[Tensor, ...], output: Tensor) -> int:
    """Multiply-accumulates of one call (whole batch)."""
    if isinstance(module, nn.ConvTranspose2d):
        kh, kw = module.kernel_size
        return inputs[0].numel() * (module.out_channels // module.groups) * kh * kw
    if isinstance(module, nn.Conv2d):
        kh, kw = module.kernel_size
        return output.numel() * (module.in_channels // module.groups) * kh * kw
    if isinstance(module, DepthwiseCorrelation):
        kernel = inputs[1]
        return output.numel() * kernel.shape[-2] * kernel.shape[-1]
    return 0


def _part(phase: str, name: str) -> str:
    """Map (phase, module name) to a reporting part."""
    if phase == "template":
        return "template_kernels" if ".conv_kernel" in name else "template_trunk_adjust"
    if phase == "refine":
        return "refine"
    if name.startswith("features."):
        return "search_trunk_adjust"
    if name.startswith("rpn_model.cls."):
        return "rpn_cls"
    if name.startswith("rpn_model.loc."):
        return "rpn_loc"
    return "mask_head" if name.startswith("mask_model.mask.head.") else "mask_corr"


@torch.no_grad()
def count_flops(
    model: SiamMask, template_size: int = TEMPLATE_SIZE, search_size: int = SEARCH_SIZE
) -> dict[str, float]:
    """GFLOPs (2 per MAC) of each part of ``model``'s architecture for one template / search crop.

    Returns keys:
        ``template_trunk_adjust`` (trunk + adjust on the template), ``template_kernels`` (3 conv_kernel),
        ``search_trunk_adjust`` (trunk + adjust on the search crop), ``rpn_cls``, ``rpn_loc``,
        ``mask_corr`` (mask-branch conv_search + correlation), ``mask_head`` (the mask_size**2 head),
        ``refine`` (one position), and totals ``template`` (= template_kernels call),
        ``track_mask_released`` (released ``track_mask``: search + all heads + conv_kernel recomputed per
        frame) and ``search_no_mask_head`` (batched ``search`` as the tracker calls it, per crop).
    """
    with torch.device("meta"):
        meta_model = SiamMask(model.config).eval()
    counts: dict[str, int] = defaultdict(int)
    phase = ["template"]
    hooks = []
    for name, module in meta_model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, DepthwiseCorrelation)):

            def hook(mod: nn.Module, inputs: tuple[Tensor, ...], output: Tensor, name: str = name) -> None:
                counts[_part(phase[0], name)] += _macs(mod, inputs, output)

            hooks.append(module.register_forward_hook(hook))
    try:
        kernels = meta_model.template_kernels(torch.empty(1, 3, template_size, template_size, device="meta"))
        phase[0] = "search"
        out = meta_model.search(torch.empty(1, 3, search_size, search_size, device="meta"), kernels, True)
        phase[0] = "refine"
        centre = RESPONSE_SIZE // 2
        meta_model.refine_at(out, [(centre, centre)])
    finally:
        for handle in hooks:
            handle.remove()
    gflops = {part: 2 * macs / 1e9 for part, macs in counts.items()}
    gflops["template"] = gflops["template_trunk_adjust"] + gflops["template_kernels"]
    heads = gflops["rpn_cls"] + gflops["rpn_loc"] + gflops["mask_corr"]
    gflops["search_no_mask_head"] = gflops["search_trunk_adjust"] + heads
    gflops["track_mask_released"] = (
        gflops["search_no_mask_head"] + gflops["mask_head"] + gflops["template_kernels"]
    )
    return gflops
