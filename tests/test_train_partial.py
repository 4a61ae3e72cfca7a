"""Fine-tuning part of a network: ``model.init_fresh`` (modules not taken from the init checkpoint, e.g. a
refine module of a new width) and ``train.frozen`` (modules not trained, batch norm statistics kept)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from test_train_loop import _config, _tiny_video_dataset

from siammask.checkpoint import CheckpointMismatchError, load_checkpoint, save_checkpoint
from siammask.model import build_siammask
from siammask.train.trainer import TrainConfigError, module_prefixes, start_blocks_as_identity, train

torch.set_num_threads(1)
WIDE_REFINE = {"refine_hidden": [16, 32, 64], "refine_channels": [8, 16, 32]}


def _state(model: torch.nn.Module, prefix: str) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith(prefix)}


def test_load_checkpoint_skips_the_named_modules(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = build_siammask("tiny")
    save_checkpoint(source, tmp_path / "v.pth")
    wide = build_siammask("tiny", **WIDE_REFINE)
    with pytest.raises(CheckpointMismatchError, match="shape mismatch"):
        load_checkpoint(wide, tmp_path / "v.pth")
    refine_before = _state(wide, "refine_model.")
    load_checkpoint(wide, tmp_path / "v.pth", skip_prefixes=("refine_model.",))
    for key, value in _state(source, "features.").items():
        torch.testing.assert_close(wide.state_dict()[key], value, rtol=0, atol=0)
    for key, value in refine_before.items():
        torch.testing.assert_close(wide.state_dict()[key], value, rtol=0, atol=0)  # left fresh


def test_frozen_modules_keep_their_weights_and_statistics(tmp_path: Path) -> None:
    torch.manual_seed(0)
    init = build_siammask("tiny")
    save_checkpoint(init, tmp_path / "init.pth")
    cfg = _config(_tiny_video_dataset(tmp_path / "data"), tmp_path / "run", epochs=1)
    cfg["model"].update(
        overrides=WIDE_REFINE, init_checkpoint=str(tmp_path / "init.pth"), init_fresh=["refine_model"]
    )
    cfg["train"]["frozen"] = ["features", "rpn_model"]
    last = train(cfg)
    trained = build_siammask("tiny", **WIDE_REFINE)
    load_checkpoint(trained, last)
    for prefix in ("features.", "rpn_model."):  # weights and batch-norm running statistics untouched
        for key, value in _state(init, prefix).items():
            torch.testing.assert_close(trained.state_dict()[key], value, rtol=0, atol=0, msg=key)
    fresh_refine = build_siammask("tiny", **WIDE_REFINE)  # trained: differs from any fresh init
    changed = [
        key
        for key, value in _state(trained, "mask_model.").items()
        if not torch.equal(value, init.state_dict()[key])
    ]
    assert changed and _state(trained, "refine_model.").keys() == _state(fresh_refine, "refine_model.").keys()


@pytest.mark.parametrize(("section", "key"), [("model", "init_fresh"), ("train", "frozen")])
def test_an_unknown_module_name_is_one_line(tmp_path: Path, section: str, key: str) -> None:
    cfg = _config(_tiny_video_dataset(tmp_path / "data"), tmp_path / "run", epochs=1)
    cfg[section][key] = ["backbone"]
    with pytest.raises(TrainConfigError, match=rf"{section}.{key}: 'backbone' is not a module"):
        train(cfg)


def test_new_residual_blocks_start_as_the_identity(tmp_path: Path) -> None:
    """One more block per stage, fresh but zero-scaled: the deeper network computes what the checkpoint did"""
    torch.manual_seed(0)
    shallow = build_siammask("tiny").eval()
    save_checkpoint(shallow, tmp_path / "shallow.pth")
    deep = build_siammask("tiny", stage_blocks=[2, 3, 3]).eval()
    new_blocks = ["features.features.layer1.1", "features.features.layer2.2", "features.features.layer3.2"]
    prefixes = module_prefixes(deep, new_blocks, "model.init_fresh")
    load_checkpoint(deep, tmp_path / "shallow.pth", skip_prefixes=prefixes)
    z, x = torch.rand(1, 3, 127, 127) * 255, torch.rand(1, 3, 255, 255) * 255
    with torch.no_grad():
        before = deep.search(x, deep.template_kernels(z))
        assert sorted(start_blocks_as_identity(deep, prefixes)) == new_blocks
        after = deep.search(x, deep.template_kernels(z))
        reference = shallow.search(x, shallow.template_kernels(z))
    assert not torch.allclose(before.cls, reference.cls)  # random new blocks change the function ...
    for field in ("cls", "loc", "p1", "p2"):  # ... zero-scaled ones do not
        torch.testing.assert_close(getattr(after, field), getattr(reference, field), rtol=1e-5, atol=1e-4)


def test_a_new_shape_without_init_fresh_names_the_option(tmp_path: Path) -> None:
    save_checkpoint(build_siammask("tiny"), tmp_path / "init.pth")
    cfg = _config(_tiny_video_dataset(tmp_path / "data"), tmp_path / "run", epochs=1)
    cfg["model"].update(overrides=WIDE_REFINE, init_checkpoint=str(tmp_path / "init.pth"))
    with pytest.raises(CheckpointMismatchError, match=r"shape mismatch(.|\n)*model.init_fresh"):
        train(cfg)
