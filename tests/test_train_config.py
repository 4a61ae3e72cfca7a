"""The training YAMLs compose with hydra and every block maps onto its config dataclass."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from siammask.train.data import PairConfig
from siammask.train.losses import LossWeights
from siammask.train.schedule import LrSchedule
from siammask.train.targets import AnchorConfig, TargetConfig
from siammask.train.trainer import TrainConfigError, dataclass_from_config

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs" / "train"


@pytest.mark.parametrize("name", ["siammask_tiny", "siammask_r50", "siammask_tiny_finetune"])
def test_train_config_blocks_fit_dataclasses(name: str) -> None:
    with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base=None):
        cfg = OmegaConf.to_container(compose(config_name=name), resolve=False)
    assert dataclass_from_config(AnchorConfig, cfg["anchors"]) == AnchorConfig()  # released anchor layout
    assert dataclass_from_config(TargetConfig, cfg["targets"]).pos_iou == 0.6  # the paper's threshold
    assert dataclass_from_config(LossWeights, cfg["loss"]).mask == 32.0
    schedule = dataclass_from_config(LrSchedule, cfg["schedule"])
    if name == "siammask_tiny_finetune":  # fine-tune of the v1 weights: short warm-up, lower peak
        assert cfg["model"]["init_checkpoint"] == "weights/tiny_siammask.pth"
        assert (schedule.lr_at(0), schedule.lr_at(1), schedule.lr_at(20)) == pytest.approx((1e-3, 3e-3, 2e-4))
    else:  # the paper's schedule
        assert (schedule.lr_at(0), schedule.lr_at(5), schedule.lr_at(20)) == pytest.approx((1e-3, 5e-3, 5e-4))
    pairs = dataclass_from_config(PairConfig, cfg["pairs"])
    assert (pairs.exemplar_shift, pairs.search_shift, pairs.search_scale) == (4, 64, 0.18)
    assert cfg["model"]["name"] == ("resnet50_sharp" if name == "siammask_r50" else "tiny")


def test_unknown_option_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown TargetConfig option"):
        dataclass_from_config(TargetConfig, {"pos_iuo": 0.5})


def test_out_of_range_setting_is_a_config_error() -> None:
    # the dataclass's own range check surfaces as the error type the CLI prints in one line
    with pytest.raises(TrainConfigError, match=r"pairs.occluded_prob=1.5 must be in \[0, 1\]"):
        dataclass_from_config(PairConfig, {"occluded_prob": 1.5})
