"""COCO -> YouTube-VIS class-row remap of HTC checkpoints (random weights, no download)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vis_pipeline import categories
from vis_pipeline.detect.base import CheckpointMismatchError, DetectorConfigError
from vis_pipeline.detect.remap import class_sources, remap_class_rows

REPO = Path(__file__).resolve().parents[1]
COCO = list(categories.COCO_CLASSES)
YTVIS19 = list(categories.YTVIS_2019_CATEGORIES)
PREFER = {"motorbike": "motorcycle", "snowboard": "snowboard"}


def test_class_sources_follow_the_coco_map() -> None:
    sources = class_sources(YTVIS19, COCO, categories.COCO_TO_YTVIS2019, PREFER)
    named = {YTVIS19[t]: COCO[s] for t, s in enumerate(sources) if s is not None}
    assert len(named) == 19 and sum(s is None for s in sources) == 21
    assert (
        named["person"] == "person" and named["sedan"] == "car" and named["tennis_racket"] == "tennis racket"
    )
    assert named["motorbike"] == "motorcycle" and named["snowboard"] == "snowboard"
    assert "giant_panda" not in named and "mouse" not in named  # COCO's mouse is the computer mouse
    sources21 = class_sources(categories.YTVIS_2021_CATEGORIES, COCO, categories.COCO_TO_YTVIS2021, PREFER)
    named21 = {categories.YTVIS_2021_CATEGORIES[t]: COCO[s] for t, s in enumerate(sources21) if s is not None}
    assert named21["car"] == "car" and named21["bird"] == "bird" and named21["flying_disc"] == "frisbee"
    with pytest.raises(DetectorConfigError, match="motorbike"):
        class_sources(YTVIS19, COCO, categories.COCO_TO_YTVIS2019, {"snowboard": "snowboard"})


def _layout(n: int, stages: int = 3, agnostic: bool = True, semantic: bool = False) -> dict[str, tuple]:
    shapes: dict[str, tuple] = {"backbone.conv1.weight": (4, 3, 3, 3)}
    for i in range(stages):
        shapes[f"roi_head.bbox_head.{i}.fc_cls.weight"] = (n + 1, 8)
        shapes[f"roi_head.bbox_head.{i}.fc_cls.bias"] = (n + 1,)
        shapes[f"roi_head.bbox_head.{i}.fc_reg.weight"] = (4 if agnostic else 4 * n, 8)
        shapes[f"roi_head.mask_head.{i}.conv_logits.weight"] = (n, 5, 1, 1)
        shapes[f"roi_head.mask_head.{i}.conv_logits.bias"] = (n,)
    if semantic:
        shapes["roi_head.semantic_head.conv_logits.weight"] = (183, 5, 1, 1)
    return shapes


def _random(shapes: dict[str, tuple], seed: int) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    return {k: torch.randn(s, generator=gen) for k, s in shapes.items()}


@pytest.mark.parametrize("agnostic", [True, False])
def test_rows_of_every_stage_copied_others_fresh(agnostic: bool) -> None:
    source = _random(_layout(6, agnostic=agnostic, semantic=True), 0)
    fresh = _random(_layout(3, agnostic=agnostic), 1)
    sources = [4, None, 0]  # target 0 <- source 4, target 1 fresh, target 2 <- source 0
    out, report = remap_class_rows(source, fresh, sources, 6)
    for i in range(3):
        cls_w = out[f"roi_head.bbox_head.{i}.fc_cls.weight"]
        src_cls = source[f"roi_head.bbox_head.{i}.fc_cls.weight"]
        assert torch.equal(cls_w[0], src_cls[4]) and torch.equal(cls_w[2], src_cls[0])
        assert torch.equal(cls_w[3], src_cls[6])  # background row (last) from the source's background
        assert torch.equal(cls_w[1], fresh[f"roi_head.bbox_head.{i}.fc_cls.weight"][1])
        logits = out[f"roi_head.mask_head.{i}.conv_logits.bias"]
        src_logits = source[f"roi_head.mask_head.{i}.conv_logits.bias"]
        assert logits[0] == src_logits[4] and logits[2] == src_logits[0]
        assert logits[1] == fresh[f"roi_head.mask_head.{i}.conv_logits.bias"][1]
        reg = out[f"roi_head.bbox_head.{i}.fc_reg.weight"]
        src_reg = source[f"roi_head.bbox_head.{i}.fc_reg.weight"]
        if agnostic:
            assert torch.equal(reg, src_reg)
        else:
            assert torch.equal(reg[0:4], src_reg[16:20]) and torch.equal(reg[8:12], src_reg[0:4])
            assert torch.equal(reg[4:8], fresh[f"roi_head.bbox_head.{i}.fc_reg.weight"][4:8])
    assert torch.equal(out["backbone.conv1.weight"], source["backbone.conv1.weight"])
    assert report.dropped == ["roi_head.semantic_head.conv_logits.weight"]
    assert len(report.remapped) == 15 and report.copied == ["backbone.conv1.weight"]


def test_architecture_mismatch_is_one_line() -> None:
    source = _random(_layout(6), 0)
    fresh = _random(_layout(3), 1)
    fresh["backbone.conv1.weight"] = torch.zeros(8, 3, 3, 3)
    with pytest.raises(CheckpointMismatchError, match="backbone.conv1.weight has shape") as err:
        remap_class_rows(source, fresh, [0, 1, 2], 6)
    assert "\n" not in str(err.value)
    with pytest.raises(CheckpointMismatchError, match="rows"):
        remap_class_rows(source, _random(_layout(3), 1), [0, 1, 2], 5)  # wrong source class count


@pytest.fixture(scope="module")
def mmdet_configs():
    from mmengine.config import Config

    from vis_pipeline.detect.checkpoints import resolve_config_path

    load = lambda spec: Config.fromfile(str(resolve_config_path(spec)))  # noqa: E731
    return {
        "coco": load("mmdet::htc/htc_r50_fpn_1x_coco.py"),
        "base": load("mmdet::htc/htc-without-semantic_r50_fpn_1x_coco.py"),
        "ytvis2019": load("configs/detector/mmdet/htc_r50_ytvis2019.py"),
        "ytvis2021": load("configs/detector/mmdet/htc_r50_ytvis2021.py"),
    }


def test_ytvis_configs_are_mmdet_htc_with_40_classes(mmdet_configs) -> None:
    base, ours = mmdet_configs["base"], mmdet_configs["ytvis2019"]
    assert list(ours.classes) == YTVIS19
    assert list(mmdet_configs["ytvis2021"].classes) == list(categories.YTVIS_2021_CATEGORIES)
    for kind in ("bbox_head", "mask_head"):
        for theirs, mine in zip(base.model.roi_head[kind], ours.model.roi_head[kind], strict=True):
            expected = {**theirs.to_dict(), "num_classes": 40}
            if kind == "mask_head":
                expected.setdefault("with_conv_res", True)  # HTCMaskHead's default, spelled out in ours
            assert mine.to_dict() == expected
    assert "semantic_head" not in ours.model.roi_head  # dropped: YouTube-VIS has no semantic maps


def test_coco_htc_checkpoint_remapped_into_ytvis_htc(mmdet_configs, tmp_path: Path) -> None:
    """A random-weight COCO HTC (with its semantic head) -> the YouTube-VIS 2019 HTC's init file."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    from vis_pipeline.detect.train import TrainSettings, build_init_checkpoint

    torch.set_num_threads(1)
    register_all_modules()
    coco_cfg = mmdet_configs["coco"].model
    coco_cfg.backbone.init_cfg = None
    torch.manual_seed(5)
    coco_sd = MODELS.build(coco_cfg).state_dict()
    path = tmp_path / "htc_coco.pth"
    torch.save({"meta": {"CLASSES": COCO}, "state_dict": coco_sd}, path)

    settings = TrainSettings.from_config(
        {
            "iters": 1, "epochs": None, "batch_size": 1, "base_batch_size": 1, "lr": 0.01, "workers": 0,
            "amp": False, "seed": 0, "frame_stride": 1, "val_interval": 0, "checkpoint_interval": 1,
            "log_interval": 1, "threads": 1, "export_fp16": True, "init_checkpoint": str(path),
            "init_remap": "coco_to_ytvis2019", "init_prefer": PREFER,
        }
    )  # fmt: skip
    init = torch.load(
        build_init_checkpoint(mmdet_configs["ytvis2019"], YTVIS19, settings, tmp_path), weights_only=True
    )
    sd = init["state_dict"]
    assert init["meta"]["dataset_meta"]["classes"] == YTVIS19
    person, sedan, motorbike, panda = (
        YTVIS19.index(n) for n in ("person", "sedan", "motorbike", "giant_panda")
    )
    for i in range(3):
        cls_w, src_cls = (
            sd[f"roi_head.bbox_head.{i}.fc_cls.weight"],
            coco_sd[f"roi_head.bbox_head.{i}.fc_cls.weight"],
        )
        assert cls_w.shape == (41, 1024)
        assert torch.equal(cls_w[person], src_cls[COCO.index("person")])
        assert torch.equal(cls_w[sedan], src_cls[COCO.index("car")])
        assert torch.equal(cls_w[motorbike], src_cls[COCO.index("motorcycle")])
        assert torch.equal(cls_w[40], src_cls[80])  # background
        assert not any(torch.equal(cls_w[panda], row) for row in src_cls)  # fresh
        logits = sd[f"roi_head.mask_head.{i}.conv_logits.weight"]
        assert torch.equal(
            logits[sedan], coco_sd[f"roi_head.mask_head.{i}.conv_logits.weight"][COCO.index("car")]
        )
        assert torch.equal(
            sd[f"roi_head.bbox_head.{i}.fc_reg.weight"], coco_sd[f"roi_head.bbox_head.{i}.fc_reg.weight"]
        )
    assert torch.equal(sd["backbone.layer3.2.conv2.weight"], coco_sd["backbone.layer3.2.conv2.weight"])
    assert not any(k.startswith("roi_head.semantic_head") for k in sd)
    assert any(k.startswith("roi_head.semantic_head") for k in coco_sd)
