"""SiamMask network: released state_dict layout, geometry quirks, batched vs stateful APIs (tiny variant)."""

from __future__ import annotations

from collections import Counter

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from siammask import (
    PRESETS,
    SiamMask,
    SiamMaskConfig,
    TemplateKernels,
    build_siammask,
    count_flops,
    make_config,
)
from siammask.backbone import AdjustLayer
from siammask.refine import crop_refine_inputs

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def resnet50() -> SiamMask:
    torch.manual_seed(0)
    return build_siammask("resnet50_sharp")


@pytest.fixture(scope="module")
def tiny() -> SiamMask:
    torch.manual_seed(0)
    model = build_siammask("tiny")
    _randomise_bn(model)
    return model


def _randomise_bn(model: nn.Module) -> None:
    """Non-trivial BatchNorm statistics so that eval-mode outputs depend on every buffer."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.BatchNorm2d):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=gen))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=gen))
                m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=gen))


def _assert_close_scaled(actual: torch.Tensor, expected: torch.Tensor, tol: float = 1e-5) -> None:
    """Equal to ``tol`` relative to the tensor's magnitude (untrained maps reach ~100 on raw 0..255 input)."""
    scale = max(1.0, float(expected.abs().max()))
    torch.testing.assert_close(actual, expected, rtol=tol, atol=tol * scale)


def _images(n: int, size: int, seed: int) -> torch.Tensor:
    return torch.rand((n, 3, size, size), generator=torch.Generator().manual_seed(seed)) * 255


# ------------------------------------------------------------------ released layout (no forward)
def test_resnet50_state_dict_groups_and_counts(resnet50: SiamMask) -> None:
    sd = resnet50.state_dict()
    assert len(sd) == 356
    groups = Counter()
    for key in sd:
        if key.startswith("features.features."):
            groups["trunk"] += 1
        elif key.startswith("features.downsample.downsample."):
            groups["adjust"] += 1
        elif key.startswith(("rpn_model.cls.", "rpn_model.loc.")):
            groups["rpn"] += 1
        elif key.startswith("mask_model.mask."):
            groups["mask"] += 1
        elif key.startswith("refine_model."):
            groups["refine"] += 1
        else:
            groups[key] += 1
    assert groups == {"trunk": 258, "adjust": 6, "rpn": 40, "mask": 20, "refine": 32}
    tracked = [k for k in sd if k.endswith("num_batches_tracked")]
    assert len(tracked) == 53
    assert all(sd[k].dtype == torch.int64 and sd[k].shape == () for k in tracked)
    assert all(v.dtype == torch.float32 for k, v in sd.items() if k not in tracked)


def test_resnet50_special_shapes(resnet50: SiamMask) -> None:
    shapes = {k: list(v.shape) for k, v in resnet50.state_dict().items()}
    assert shapes["features.features.conv1.weight"] == [64, 3, 7, 7]
    assert shapes["features.features.layer1.0.downsample.0.weight"] == [256, 64, 1, 1]
    assert shapes["features.features.layer2.0.downsample.0.weight"] == [512, 256, 3, 3]
    assert shapes["features.features.layer3.0.downsample.0.weight"] == [1024, 512, 3, 3]
    assert shapes["features.downsample.downsample.0.weight"] == [256, 1024, 1, 1]
    assert shapes["mask_model.mask.head.3.weight"] == [3969, 256, 1, 1]
    assert shapes["mask_model.mask.head.3.bias"] == [3969]
    assert shapes["rpn_model.cls.head.3.weight"] == [10, 256, 1, 1]
    assert shapes["rpn_model.loc.head.3.weight"] == [20, 256, 1, 1]
    assert shapes["rpn_model.cls.conv_kernel.0.weight"] == [256, 256, 3, 3]
    assert shapes["refine_model.deconv.weight"] == [256, 32, 15, 15]
    assert shapes["refine_model.post0.weight"] == [16, 32, 3, 3]
    assert shapes["refine_model.post2.weight"] == [1, 4, 3, 3]
    assert shapes["refine_model.v2.2.weight"] == [32, 128, 3, 3]
    assert not any(k.startswith("features.features.layer4") for k in shapes)


def test_resnet50_padding_quirks(resnet50: SiamMask) -> None:
    trunk = resnet50.features.features
    assert (trunk.conv1.stride, trunk.conv1.padding) == ((2, 2), (0, 0))
    l2, l3 = trunk.layer2, trunk.layer3
    assert (l2[0].conv2.stride, l2[0].conv2.padding) == ((2, 2), (0, 0))
    assert (l2[0].downsample[0].stride, l2[0].downsample[0].padding) == ((2, 2), (0, 0))
    assert all(b.conv2.padding == (1, 1) for b in l2[1:])
    assert (l3[0].conv2.dilation, l3[0].conv2.padding) == ((1, 1), (1, 1))
    assert (l3[0].downsample[0].dilation, l3[0].downsample[0].padding) == ((1, 1), (1, 1))
    assert all((b.conv2.dilation, b.conv2.padding) == ((2, 2), (2, 2)) for b in l3[1:])
    assert resnet50.refine_model.deconv.stride == (15, 15)


def test_resnet50_geometry_on_meta_device() -> None:
    """Full-size shapes without arithmetic: the model is built and run on the meta device."""
    with torch.device("meta"):
        model = SiamMask(PRESETS["resnet50_sharp"]).eval()
        kernels = model.template_kernels(torch.empty(2, 3, 127, 127))
        out = model.search(torch.empty(2, 3, 255, 255), kernels, with_mask_head=True)
        refined = model.refine_at(out, [(0, 0), (24, 24)])
    assert kernels.cls.shape == kernels.loc.shape == kernels.mask.shape == (2, 256, 5, 5)
    assert out.cls.shape == (2, 10, 25, 25) and out.loc.shape == (2, 20, 25, 25)
    assert out.mask is not None and out.mask.shape == (2, 3969, 25, 25)
    assert out.mask_corr.shape == (2, 256, 25, 25)
    assert (out.p0.shape, out.p1.shape, out.p2.shape) == (
        (2, 64, 125, 125),
        (2, 256, 63, 63),
        (2, 512, 31, 31),
    )
    assert refined.shape == (2, 127 * 127)


def test_flop_count_matches_released_figures(resnet50: SiamMask) -> None:
    """Issue figures for the released model (2 FLOPs per MAC): 28.7 / 33.3 / 6.7 / 0.7 GFLOP."""
    gflops = count_flops(resnet50)
    assert gflops["search_trunk_adjust"] == pytest.approx(28.7, abs=0.05)
    assert gflops["track_mask_released"] == pytest.approx(33.3, abs=0.05)
    assert gflops["template_trunk_adjust"] == pytest.approx(6.7, abs=0.05)
    assert gflops["refine"] == pytest.approx(0.7, abs=0.05)
    # mask head: 1x1 256->256 and 256->3969 convs at 25x25
    assert gflops["mask_head"] == pytest.approx(2 * 625 * 256 * (256 + 3969) / 1e9, rel=1e-9)


# ------------------------------------------------------------------ configuration
def test_tiny_has_same_key_scheme_and_is_small(tiny: SiamMask, resnet50: SiamMask) -> None:
    tiny_keys, released_keys = list(tiny.state_dict()), list(resnet50.state_dict())
    assert set(tiny_keys) <= set(released_keys)  # fewer blocks, same names
    assert [k for k in tiny_keys if not k.startswith("features.")] == [
        k for k in released_keys if not k.startswith("features.")
    ]
    assert {k for k in released_keys if not k.startswith("features.features.layer")} <= set(tiny_keys)
    n_bytes = sum(v.numel() * v.element_size() for v in tiny.state_dict().values())
    assert n_bytes <= 5_000_000
    assert not tiny.training and not resnet50.training


def test_make_config_from_mapping_and_errors() -> None:
    cfg = make_config({"preset": "tiny", "adjust_channels": 32, "stage_blocks": [1, 1, 1]}, anchor_num=3)
    assert cfg == SiamMaskConfig(
        **{**vars(PRESETS["tiny"]), "adjust_channels": 32, "stage_blocks": (1, 1, 1), "anchor_num": 3}
    )
    model = build_siammask(cfg)
    assert model.state_dict()["rpn_model.cls.head.3.weight"].shape == (6, 32, 1, 1)
    with pytest.raises(ValueError, match="unknown preset 'resnet18'"):
        build_siammask("resnet18")
    with pytest.raises(ValueError, match="unknown config field.*'widht'"):
        build_siammask("tiny", widht=3)


def test_adjust_crops_only_narrow_maps() -> None:
    adjust = AdjustLayer(8, 4).eval()
    assert adjust(torch.rand(1, 8, 19, 19)).shape == (1, 4, 11, 11)
    assert adjust(torch.rand(1, 8, 20, 20)).shape == (1, 4, 20, 20)
    full = adjust.downsample(torch.ones(1, 8, 15, 15))
    assert torch.equal(adjust(torch.ones(1, 8, 15, 15)), full[:, :, 4:-4, 4:-4])


# ------------------------------------------------------------------ refine geometry
def _explicit_crop(feature: torch.Tensor, start_y: int, start_x: int, size: int) -> torch.Tensor:
    """Crop (C, size, size) starting at (start_y, start_x) in unpadded coordinates, zeros off the map."""
    c, h, w = feature.shape
    out = torch.zeros(c, size, size)
    for i in range(size):
        for j in range(size):
            yy, xx = start_y + i, start_x + j
            if 0 <= yy < h and 0 <= xx < w:
                out[:, i, j] = feature[:, yy, xx]
    return out


def test_refine_crops_against_explicit_zero_padded_slicing() -> None:
    gen = torch.Generator().manual_seed(3)
    p0, p1, p2 = (torch.rand((4, 2, s, s), generator=gen) + 1 for s in (125, 63, 31))
    corr = torch.rand((4, 3, 25, 25), generator=gen)
    positions = [(0, 0), (24, 24), (0, 24), (3, 20)]
    c0, c1, c2, c3 = crop_refine_inputs(p0, p1, p2, corr, positions)
    assert (c0.shape, c1.shape, c2.shape, c3.shape) == (
        (4, 2, 61, 61),
        (4, 2, 31, 31),
        (4, 2, 15, 15),
        (4, 3, 1, 1),
    )
    for n, (y, x) in enumerate(positions):
        # crop starts 4(y-4), 2(y-4), (y-4): the 127 window at 8(y-4) of the 255 search crop
        assert torch.equal(c0[n], _explicit_crop(p0[n], 4 * (y - 4), 4 * (x - 4), 61))
        assert torch.equal(c1[n], _explicit_crop(p1[n], 2 * (y - 4), 2 * (x - 4), 31))
        assert torch.equal(c2[n], _explicit_crop(p2[n], y - 4, x - 4, 15))
        assert torch.equal(c3[n, :, 0, 0], corr[n, :, y, x])
    assert (c0[0, :, :16, :] == 0).all() and (c0[0, :, 16:, 16:] > 0).all()  # (0,0): top-left hangs off
    with pytest.raises(ValueError, match="outside"):
        crop_refine_inputs(p0[:1], p1[:1], p2[:1], corr[:1], [(25, 0)])


def test_nearest_upsampling_is_the_floor_rule() -> None:
    for size_in, size_out in ((15, 31), (31, 61), (61, 127)):
        ramp = (
            torch.arange(size_in, dtype=torch.float32).view(1, 1, size_in, 1).expand(1, 1, size_in, size_in)
        )
        rows = F.interpolate(ramp, size=(size_out, size_out), mode="nearest")[0, 0, :, 0].long()
        assert torch.equal(rows, torch.arange(size_out) * size_in // size_out)
    assert torch.equal((torch.arange(31) * 15 // 31)[:5], torch.tensor([0, 0, 0, 1, 1]))


def _refine_by_hand(model: SiamMask, crops: tuple[torch.Tensor, ...]) -> torch.Tensor:
    """Refine dataflow written out with explicit floor-rule index upsampling."""
    r = model.refine_model
    p0, p1, p2, p3 = crops

    def up(t: torch.Tensor, size: int) -> torch.Tensor:
        idx = torch.arange(size) * t.shape[-1] // size
        return t[:, :, idx][:, :, :, idx]

    out = F.conv_transpose2d(p3, r.deconv.weight, r.deconv.bias, stride=15)
    out = r.post0(up(r.h2(out) + r.v2(p2), 31))
    out = r.post1(up(r.h1(out) + r.v1(p1), 61))
    out = r.post2(up(r.h0(out) + r.v0(p0), 127))
    return out.flatten(1)


# ------------------------------------------------------------------ forward behaviour (tiny)
@torch.no_grad()
def test_tiny_shapes_and_refine_dataflow(tiny: SiamMask) -> None:
    kernels = tiny.template_kernels(_images(2, 127, 1))
    assert tiny.template_features(_images(1, 127, 1)).shape == (1, 64, 7, 7)
    assert kernels.cls.shape == (2, 64, 5, 5)
    out = tiny.search(_images(2, 255, 2), kernels, with_mask_head=True)
    assert out.cls.shape == (2, 10, 25, 25) and out.loc.shape == (2, 20, 25, 25)
    assert out.mask is not None and out.mask.shape == (2, 3969, 25, 25)
    assert out.mask_corr.shape == (2, 64, 25, 25)
    assert (out.p0.shape[2:], out.p1.shape[2:], out.p2.shape[2:]) == ((125, 125), (63, 63), (31, 31))
    assert tiny.search(_images(2, 255, 2), kernels).mask is None
    positions = [(12, 12), (0, 24)]
    refined = tiny.refine_at(out, positions)
    assert refined.shape == (2, 16129)
    crops = crop_refine_inputs(out.p0, out.p1, out.p2, out.mask_corr, positions)
    _assert_close_scaled(refined, _refine_by_hand(tiny, crops))
    assert refined.std() > 0


@torch.no_grad()
def test_batched_equals_looped(tiny: SiamMask) -> None:
    z, x = _images(3, 127, 10), _images(3, 255, 11)
    kernels = tiny.template_kernels(z)
    assert not torch.allclose(kernels.cls[0], kernels.cls[1])
    out = tiny.search(x, kernels, with_mask_head=True)
    positions = [(0, 0), (13, 7), (24, 21)]
    refined = tiny.refine_at(out, positions)
    for n in range(3):
        k_n = tiny.template_kernels(z[n : n + 1])
        one = tiny.search(x[n : n + 1], k_n, with_mask_head=True)
        for field in ("cls", "loc", "mask_corr", "mask", "p0", "p1", "p2"):
            _assert_close_scaled(getattr(out, field)[n : n + 1], getattr(one, field))
        _assert_close_scaled(refined[n : n + 1], tiny.refine_at(one, [positions[n]]))
    # pairing matters: swapping kernels changes the result
    swapped = tiny.search(x, kernels[[1, 0, 2]])
    assert not torch.allclose(swapped.cls[0], out.cls[0])


@torch.no_grad()
def test_stateful_api_equals_batched(tiny: SiamMask) -> None:
    z, x = _images(1, 127, 20), _images(1, 255, 21)
    with pytest.raises(RuntimeError, match="template"):
        build_siammask("tiny").track_mask(x)
    tiny.template(z)
    with pytest.raises(RuntimeError, match="track_mask"):
        tiny.track_refine((0, 0))
    cls, loc, mask = tiny.track_mask(x)
    out = tiny.search(x, tiny.template_kernels(z), with_mask_head=True)
    assert out.mask is not None
    torch.testing.assert_close(cls, out.cls, rtol=0, atol=0)
    torch.testing.assert_close(loc, out.loc, rtol=0, atol=0)
    torch.testing.assert_close(mask, out.mask, rtol=0, atol=0)
    for pos in ((3, 20), (24, 0)):
        torch.testing.assert_close(tiny.track_refine(pos), tiny.refine_at(out, [pos]), rtol=0, atol=0)


def test_template_kernels_indexing_and_cat() -> None:
    gen = torch.Generator().manual_seed(5)
    k = TemplateKernels(*(torch.rand((4, 2, 5, 5), generator=gen) for _ in range(3)))
    assert len(k) == 4 and len(k[1]) == 1 and len(k[-1]) == 1 and len(k[1:3]) == 2
    assert torch.equal(k[-1].mask, k.mask[3:])
    picked = k[[3, 0]]
    assert torch.equal(picked.loc, k.loc[[3, 0]])
    assert torch.equal(k[torch.tensor([True, False, True, False])].cls, k.cls[[0, 2]])
    joined = TemplateKernels.cat([k[2], k[0:2]])
    assert torch.equal(joined.cls, k.cls[[2, 0, 1]]) and torch.equal(joined.mask, k.mask[[2, 0, 1]])
    with pytest.raises(ValueError):
        TemplateKernels.cat([])


def test_search_rejects_mismatched_batch(tiny: SiamMask) -> None:
    kernels = TemplateKernels(*(torch.zeros(2, 64, 5, 5) for _ in range(3)))
    with pytest.raises(ValueError, match="3 search crops for 2 template kernels"):
        tiny.search(torch.zeros(3, 3, 255, 255), kernels)
