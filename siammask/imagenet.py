"""Initialise the released-layout SiamMask trunk from ImageNet ResNet-50 weights in torchvision's layout.

The file a user gets from torchvision (``resnet50(weights=...).state_dict()``) or timm holds keys
``conv1.weight``, ``bn1.*``, ``layer{1..4}.{i}.{conv,bn}{1,2,3}.*``, ``layer{L}.0.downsample.{0,1}.*`` and
``fc.*``. SiamMask keeps conv1..layer3 (``features.features.*``) with the released changes:

- conv1 has padding 0, layer2's first 3x3 has padding 0, layer3 is dilated: same weight shapes, loaded as is;
- the downsample convs of layer2 and layer3 are 3x3 in the released layout (1x1 in torchvision): the 1x1
  weight goes to the kernel's centre tap, zeros elsewhere. For layer3 (stride 1, padding 1) that is
  exactly the 1x1 conv; for layer2 (stride 2, padding 0) it samples the same input pixels as the
  released main path's padding-0 3x3 conv2;
- SiamMask's crops are raw BGR 0..255 while torchvision's weights expect RGB scaled to 0..1 and
  normalised per channel: the normalisation is folded into conv1 (channel order, 1 / (255 std)) and the
  mean offset into bn1's running mean. This is exact because the released conv1 has no padding.

layer4 and fc are not used; the adjust layer, the three DepthCorr heads and refine start fresh.
Anything that is not a torchvision-layout ResNet-50 (another depth, a SiamMask file, a detector
checkpoint) or a model that is not the ResNet-50 layout is refused with one line.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from siammask.checkpoint import CheckpointMismatchError, read_checkpoint
from siammask.model import SiamMask

TRUNK_PREFIX = "features.features."
#: torchvision key prefixes SiamMask does not use (the 4th stage and the classifier).
UNUSED_PREFIXES = ("layer4.", "fc.")
#: Released 3x3 downsample convs that replace torchvision's 1x1 ones.
CENTRE_EMBEDDED = ("layer2.0.downsample.0.weight", "layer3.0.downsample.0.weight")
#: Fresh parts of the model, by key prefix, as the report names them.
FRESH_PARTS = {
    "features.downsample.": "adjust",
    "rpn_model.": "rpn heads",
    "mask_model.": "mask head",
    "refine_model.": "refine",
}


@dataclass(frozen=True)
class ImageNetNormalisation:
    """Input convention of the ImageNet weights: channel order and per-channel mean/std on a 0..1 scale."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    channel_order: str = "rgb"  # rgb | bgr
    pixel_scale: float = 255.0  # SiamMask crops are 0..255

    def __post_init__(self) -> None:
        if self.channel_order not in ("rgb", "bgr"):
            raise ValueError(f"channel_order must be rgb or bgr, got {self.channel_order!r}")
        if len(self.mean) != 3 or len(self.std) != 3 or min(self.std) <= 0:
            raise ValueError(f"mean/std need 3 values each, std > 0; got {self.mean} / {self.std}")


@dataclass
class BackboneInit:
    """What :func:`load_imagenet_backbone` did (model key names)."""

    source: str
    loaded: list[str] = field(default_factory=list)
    centre_embedded: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # source keys not used (layer4, fc)
    fresh: dict[str, list[str]] = field(default_factory=dict)  # part name -> model keys

    def summary(self) -> str:
        fresh = ", ".join(f"{part} {len(keys)}" for part, keys in self.fresh.items())
        return (
            f"{self.source}: loaded {len(self.loaded)} ImageNet trunk tensors (conv1..layer3; "
            f"{len(self.centre_embedded)} downsample 1x1 -> centre of 3x3; input normalisation folded "
            f"into conv1/bn1), ignored {len(self.ignored)} (layer4, fc); fresh tensors: {fresh}"
        )


def _one_line(path: str, problem: str) -> CheckpointMismatchError:
    return CheckpointMismatchError(f"{path}: not an ImageNet ResNet-50 in torchvision's layout ({problem})")


def _listed(keys: Sequence[str], limit: int = 3) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def map_torchvision_trunk(
    source: Mapping[str, Tensor], trunk: Mapping[str, Tensor], path: str
) -> tuple[dict[str, Tensor], list[str], list[str]]:
    """torchvision ResNet-50 tensors -> the released trunk's tensors (keys without ``features.features.``).

    source: the torchvision state dict; trunk: the model's trunk state dict (names and target shapes).
    Returns (mapped tensors, centre-embedded keys, ignored source keys). Raises one-line
    CheckpointMismatchError for missing trunk keys, unknown keys or shapes that do not fit.
    """
    if not any(k in trunk for k in source):
        sample = _listed(list(source))
        raise _one_line(path, f"none of its {len(source)} keys is a ResNet trunk key, e.g. {sample}")
    ignored = [k for k in source if k.startswith(UNUSED_PREFIXES)]
    unknown = [k for k in source if k not in trunk and k not in ignored]
    if unknown:
        raise _one_line(path, f"{len(unknown)} keys a ResNet-50 does not have: {_listed(unknown)}")
    missing = [k for k in trunk if k not in source and not k.endswith("num_batches_tracked")]
    if missing:
        raise _one_line(path, f"{len(missing)} trunk keys missing: {_listed(missing)}")
    mapped: dict[str, Tensor] = {}
    embedded: list[str] = []
    for key, target in trunk.items():
        if key not in source:
            continue
        value = source[key].detach().to(torch.float32 if target.is_floating_point() else target.dtype)
        if key in CENTRE_EMBEDDED and value.shape[2:] == (1, 1) and tuple(target.shape[2:]) == (3, 3):
            value, embedded = _centre_embed(value, tuple(target.shape)), [*embedded, key]
        if tuple(value.shape) != tuple(target.shape):
            raise _one_line(
                path, f"{key} has shape {list(value.shape)}, the ResNet-50 trunk needs {list(target.shape)}"
            )
        mapped[key] = value
    return mapped, embedded, ignored


def _centre_embed(weight: Tensor, shape: tuple[int, ...]) -> Tensor:
    """(out, in, 1, 1) -> (out, in, kh, kw) with the weight at the centre tap, zeros elsewhere."""
    out = torch.zeros(shape, dtype=weight.dtype)
    out[:, :, shape[2] // 2, shape[3] // 2] = weight[:, :, 0, 0]
    return out


def fold_input_normalisation(
    conv1: Tensor, bn1_running_mean: Tensor, norm: ImageNetNormalisation
) -> tuple[Tensor, Tensor]:
    """Make conv1 + bn1 take raw BGR 0..``pixel_scale`` input instead of normalised ``channel_order`` input.

    conv1: (C, 3, k, k) weights for normalised input; returns (conv1 for raw BGR input, bn1 running mean).
    With x_norm[c] = (x[c] / scale - mean[c]) / std[c]: w'[:, c] = w[:, c] / (scale std[c]) and the
    constant -sum(w mean / std) per output channel (exact for a padding-0 conv) moves into BN's mean.
    """
    mean = torch.tensor(norm.mean, dtype=conv1.dtype).view(1, 3, 1, 1)
    std = torch.tensor(norm.std, dtype=conv1.dtype).view(1, 3, 1, 1)
    offset = -(conv1 * mean / std).sum(dim=(1, 2, 3))
    scaled = conv1 / (norm.pixel_scale * std)
    if norm.channel_order == "rgb":
        scaled = scaled.flip(1)  # input channel 0 of SiamMask's crops is blue
    return scaled.contiguous(), bn1_running_mean - offset


def load_imagenet_backbone(model: SiamMask, path: str | Path, norm: ImageNetNormalisation) -> BackboneInit:
    """Load torchvision-layout ImageNet ResNet-50 weights into ``model``'s trunk (all or nothing).

    Raises the :mod:`siammask.checkpoint` errors (file not found / unreadable) and a one-line
    CheckpointMismatchError for anything that is not a ResNet-50 in torchvision's layout, or a
    model whose trunk is not the ResNet-50 layout.
    """
    path = str(path)
    source, _ = read_checkpoint(path)
    own = model.state_dict()
    trunk = {k[len(TRUNK_PREFIX) :]: v for k, v in own.items() if k.startswith(TRUNK_PREFIX)}
    if tuple(trunk["conv1.weight"].shape) != (64, 3, 7, 7) or "layer3.5.conv1.weight" not in trunk:
        raise CheckpointMismatchError(
            f"{path}: ImageNet ResNet-50 weights fit only the resnet50_sharp model, "
            f"this model's trunk starts with conv1 {list(trunk['conv1.weight'].shape)}"
        )
    if any(k.startswith(tuple(FRESH_PARTS)) for k in source):
        raise _one_line(path, "it holds SiamMask heads; start from it with model.init_checkpoint instead")
    mapped, embedded, ignored = map_torchvision_trunk(source, trunk, path)
    mapped["conv1.weight"], mapped["bn1.running_mean"] = fold_input_normalisation(
        mapped["conv1.weight"], mapped["bn1.running_mean"], norm
    )
    model.load_state_dict({TRUNK_PREFIX + k: v for k, v in mapped.items()}, strict=False)
    fresh: dict[str, list[str]] = {}
    for key in own:
        part = next((name for prefix, name in FRESH_PARTS.items() if key.startswith(prefix)), None)
        if part is not None:
            fresh.setdefault(part, []).append(key)
    return BackboneInit(
        source=path,
        loaded=[TRUNK_PREFIX + k for k in mapped],
        centre_embedded=[TRUNK_PREFIX + k for k in embedded],
        ignored=ignored,
        fresh=fresh,
    )
