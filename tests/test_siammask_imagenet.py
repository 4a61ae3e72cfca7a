"""SiamMask ResNet-50 from ImageNet weights in torchvision's layout (random values, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from siammask import CheckpointMismatchError, build_siammask
from siammask.imagenet import ImageNetNormalisation, load_imagenet_backbone
from siammask.train.trainer import dataclass_from_config

torch.set_num_threads(1)
TRAIN_CONFIGS = Path(__file__).resolve().parents[1] / "configs" / "train"
NORM = ImageNetNormalisation(mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))


def _bn(prefix: str, channels: int) -> dict[str, tuple[int, ...]]:
    stats = ("weight", "bias", "running_mean", "running_var")
    return {**{f"{prefix}.{s}": (channels,) for s in stats}, f"{prefix}.num_batches_tracked": ()}


def torchvision_resnet50_shapes(blocks: tuple[int, ...] = (3, 4, 6, 3)) -> dict[str, tuple[int, ...]]:
    """Key -> shape of torchvision's ``resnet50()`` state dict (Bottleneck, expansion 4, 1x1 downsample)."""
    shapes = {"conv1.weight": (64, 3, 7, 7), **_bn("bn1", 64)}
    inplanes = 64
    for stage, (planes, count) in enumerate(zip((64, 128, 256, 512), blocks, strict=True), 1):
        for block in range(count):
            p, width_in = f"layer{stage}.{block}", inplanes if block == 0 else planes * 4
            shapes[f"{p}.conv1.weight"] = (planes, width_in, 1, 1)
            shapes.update(_bn(f"{p}.bn1", planes))
            shapes[f"{p}.conv2.weight"] = (planes, planes, 3, 3)
            shapes.update(_bn(f"{p}.bn2", planes))
            shapes[f"{p}.conv3.weight"] = (planes * 4, planes, 1, 1)
            shapes.update(_bn(f"{p}.bn3", planes * 4))
            if block == 0:
                shapes[f"{p}.downsample.0.weight"] = (planes * 4, width_in, 1, 1)
                shapes.update(_bn(f"{p}.downsample.1", planes * 4))
        inplanes = planes * 4
    return {**shapes, "fc.weight": (1000, 2048), "fc.bias": (1000,)}


def random_state_dict(shapes: dict[str, tuple[int, ...]], seed: int = 0) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in shapes.items():
        if key.endswith("num_batches_tracked"):
            out[key] = torch.tensor(1000, dtype=torch.int64)
        elif key.endswith("running_var"):
            out[key] = torch.rand(shape, generator=gen) + 0.5
        else:
            out[key] = torch.randn(shape, generator=gen) * 0.05
    return out


@pytest.fixture(scope="module")
def imagenet_file(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, torch.Tensor]]:
    weights = random_state_dict(torchvision_resnet50_shapes())
    path = tmp_path_factory.mktemp("imagenet") / "resnet50.pth"
    torch.save(weights, path)  # a bare state_dict, as torchvision's download is
    return path, weights


def test_loads_trunk_reports_fresh_parts(imagenet_file) -> None:
    path, weights = imagenet_file
    model = build_siammask("resnet50_sharp")
    before = {k: v.clone() for k, v in model.state_dict().items()}
    report = load_imagenet_backbone(model, path, NORM)
    after = model.state_dict()

    assert len(report.loaded) == sum(k.startswith("features.features.") for k in after) == 258
    assert len(report.ignored) == sum(k.startswith(("layer4.", "fc.")) for k in weights)
    assert {part: len(keys) for part, keys in report.fresh.items()} == {
        "adjust": 6, "rpn heads": 40, "mask head": 20, "refine": 32,
    }  # fmt: skip
    for key in (k for keys in report.fresh.values() for k in keys):
        assert torch.equal(after[key], before[key]), key
    for key in ("layer1.0.conv2.weight", "layer2.0.conv2.weight", "layer3.5.bn3.running_var", "bn1.weight"):
        assert torch.equal(after["features.features." + key], weights[key]), key
    # the released 3x3 downsample convs: the 1x1 weight at the centre tap, zeros around it
    assert sorted(report.centre_embedded) == [
        "features.features.layer2.0.downsample.0.weight",
        "features.features.layer3.0.downsample.0.weight",
    ]
    embedded = after["features.features.layer3.0.downsample.0.weight"]
    assert torch.equal(embedded[:, :, 1, 1], weights["layer3.0.downsample.0.weight"][:, :, 0, 0])
    assert embedded.abs().sum() == embedded[:, :, 1, 1].abs().sum()
    assert "258" in report.summary() and "refine 32" in report.summary()


def test_folded_stem_on_raw_bgr_equals_torchvision_stem_on_normalised_rgb(imagenet_file) -> None:
    path, weights = imagenet_file
    model = build_siammask("resnet50_sharp")
    load_imagenet_backbone(model, path, NORM)
    trunk = model.features.features.eval()
    bgr = torch.rand(2, 3, 39, 39) * 255
    rgb01 = bgr.flip(1) / 255
    normalised = (rgb01 - torch.tensor(NORM.mean).view(1, 3, 1, 1)) / torch.tensor(NORM.std).view(1, 3, 1, 1)
    reference = F.batch_norm(
        F.conv2d(normalised, weights["conv1.weight"], stride=2, padding=0),
        weights["bn1.running_mean"], weights["bn1.running_var"], weights["bn1.weight"], weights["bn1.bias"],
    )  # fmt: skip
    with torch.no_grad():
        ours = trunk.bn1(trunk.conv1(bgr))
    torch.testing.assert_close(ours, reference, rtol=1e-4, atol=1e-4)
    # layer3's downsample (3x3, padding 1, stride 1) with the centre tap is exactly torchvision's 1x1 conv
    x = torch.randn(1, 512, 9, 9)
    with torch.no_grad():
        down = trunk.layer3[0].downsample[0](x)
    torch.testing.assert_close(
        down, F.conv2d(x, weights["layer3.0.downsample.0.weight"]), rtol=1e-4, atol=1e-5
    )


def test_refuses_anything_else_in_one_line(imagenet_file, tmp_path: Path) -> None:
    path, weights = imagenet_file
    resnet101 = random_state_dict(torchvision_resnet50_shapes((3, 4, 23, 3)))
    bad_shape = {**weights, "conv1.weight": torch.zeros(64, 3, 3, 3)}
    no_layer3 = {k: v for k, v in weights.items() if not k.startswith("layer3.5.")}
    siammask_file = build_siammask("resnet50_sharp").state_dict()
    cases = {
        "resnet101": (resnet101, "keys a ResNet-50 does not have"),
        "bad_shape": (bad_shape, "conv1.weight has shape"),
        "truncated": (no_layer3, "trunk keys missing"),
        "siammask": (siammask_file, "model.init_checkpoint"),
        "detector": ({"backbone.conv1.weight": torch.zeros(1)}, "none of its 1 keys"),
    }
    for name, (state_dict, message) in cases.items():
        file = tmp_path / f"{name}.pth"
        torch.save(state_dict, file)
        model = build_siammask("resnet50_sharp")
        before = model.state_dict()["features.features.conv1.weight"].clone()
        with pytest.raises(CheckpointMismatchError) as err:
            load_imagenet_backbone(model, file, NORM)
        assert message in str(err.value) and str(file) in str(err.value), name
        assert "\n" not in str(err.value), name
        assert torch.equal(model.state_dict()["features.features.conv1.weight"], before), name
    with pytest.raises(CheckpointMismatchError, match="only the resnet50_sharp model"):
        load_imagenet_backbone(build_siammask("tiny"), path, NORM)


def test_r50_config_defaults_and_trainer_hook(imagenet_file, tmp_path: Path, capsys) -> None:
    from siammask.checkpoint import CheckpointError
    from siammask.train.sources import AnnotationError
    from siammask.train.trainer import train

    path, _ = imagenet_file
    with initialize_config_dir(config_dir=str(TRAIN_CONFIGS), version_base=None):
        cfg = compose(config_name="siammask_r50", overrides=[f"init.backbone={path}"])
    plain = OmegaConf.to_container(cfg, resolve=False)
    assert dataclass_from_config(ImageNetNormalisation, plain["init"]["normalisation"]) == NORM
    assert plain["init"]["backbone"] == str(path) and plain["model"]["name"] == "resnet50_sharp"
    plain["run_dir"] = str(tmp_path / "run")
    plain["train"].update(device="cpu", num_threads=1)
    with pytest.raises(AnnotationError, match="no training data"):  # the backbone is loaded before the data
        train(plain)
    assert "loaded 258 ImageNet trunk tensors" in capsys.readouterr().out
    plain["model"]["init_checkpoint"] = str(path)
    with pytest.raises(CheckpointError, match="not both"):
        train(plain)
