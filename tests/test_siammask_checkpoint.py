"""SiamMask checkpoint I/O: released layout, round trip, and one clear error per kind of bad file."""

from __future__ import annotations

import os
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from siammask import (
    CheckpointFormatError,
    CheckpointMismatchError,
    CheckpointNotFoundError,
    SiamMask,
    UntrustedCheckpointError,
    build_siammask,
    build_siammask_from_checkpoint,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

torch.set_num_threads(1)


def _trained_like(seed: int) -> SiamMask:
    """A tiny model whose every tensor (BN buffers included) differs from a fresh one."""
    torch.manual_seed(seed)
    model = build_siammask("tiny")
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            if name.endswith("num_batches_tracked"):
                tensor.fill_(seed)
            elif name.endswith("running_var"):
                tensor.uniform_(0.5, 1.5)
            else:
                tensor.add_(0.01 * torch.randn_like(tensor))
    return model


def _official_layout(model: SiamMask, path: Path, **extra: object) -> Path:
    """Write like the released files: {'state_dict': {'module.' + k}, 'epoch'}, legacy serialization."""
    payload = {
        "state_dict": OrderedDict(("module." + k, v) for k, v in model.state_dict().items()),
        "epoch": 20,
    }
    payload.update(extra)
    torch.save(payload, path, _use_new_zipfile_serialization=False)
    return path


def _outputs(model: SiamMask) -> list[torch.Tensor]:
    gen = torch.Generator().manual_seed(7)
    z = torch.rand((1, 3, 127, 127), generator=gen) * 255
    x = torch.rand((1, 3, 255, 255), generator=gen) * 255
    with torch.no_grad():
        out = model.search(x, model.template_kernels(z))
        return [out.cls, out.loc, model.refine_at(out, [(3, 20)])]


def _assert_same_state(a: nn.Module, b: nn.Module) -> None:
    sa, sb = a.state_dict(), b.state_dict()
    assert list(sa) == list(sb)
    assert all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture(scope="module")
def source() -> SiamMask:
    return _trained_like(3)


def test_official_layout_legacy_file_loads(source: SiamMask, tmp_path: Path) -> None:
    path = _official_layout(source, tmp_path / "SiamMask_DAVIS.pth")
    target = build_siammask("tiny")
    load_checkpoint(target, path)
    _assert_same_state(source, target)
    for got, want in zip(_outputs(target), _outputs(source), strict=True):
        assert torch.equal(got, want)


def test_bare_state_dict_without_prefix_loads(source: SiamMask, tmp_path: Path) -> None:
    path = tmp_path / "bare.pth"
    torch.save(source.state_dict(), path)
    target = build_siammask("tiny")
    load_checkpoint(target, str(path))
    _assert_same_state(source, target)


def test_save_round_trip(source: SiamMask, tmp_path: Path) -> None:
    path = tmp_path / "sub" / "ckpt.pth"
    save_checkpoint(source, path, epoch=5, note="synthetic")
    state_dict, extra = read_checkpoint(path)
    raw = torch.load(path, weights_only=True)
    assert all(k.startswith("module.") for k in raw["state_dict"])
    assert len(raw["state_dict"]) == len(source.state_dict())
    assert (
        extra["epoch"] == 5
        and extra["note"] == "synthetic"
        and extra["model_config"]["adjust_channels"] == 64
    )
    assert list(state_dict) == list(source.state_dict())
    fresh = build_siammask("tiny")
    load_checkpoint(fresh, path)
    _assert_same_state(source, fresh)
    for got, want in zip(_outputs(fresh), _outputs(source), strict=True):
        assert torch.equal(got, want)
    rebuilt = build_siammask_from_checkpoint(path)
    assert rebuilt.config == source.config and not rebuilt.training
    _assert_same_state(source, rebuilt)
    assert [p.name for p in path.parent.iterdir()] == ["ckpt.pth"]  # no temporary left behind


def test_missing_num_batches_tracked_is_tolerated(source: SiamMask, tmp_path: Path) -> None:
    """Files from torch < 0.4.1 lack these buffers; they do not affect inference."""
    sd = {k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}
    torch.save({"state_dict": sd}, tmp_path / "old.pth")
    target = build_siammask("tiny")
    load_checkpoint(target, tmp_path / "old.pth")
    for got, want in zip(_outputs(target), _outputs(source), strict=True):
        assert torch.equal(got, want)


def test_file_not_found_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope" / "SiamMask_VOT.pth"
    with pytest.raises(CheckpointNotFoundError, match=str(missing)):
        load_checkpoint(build_siammask("tiny"), missing)
    with pytest.raises(FileNotFoundError):  # also catchable as the builtin
        load_checkpoint(build_siammask("tiny"), tmp_path)  # a directory


@pytest.mark.parametrize(
    "content",
    [os.urandom(4096), b"", b"PK\x03\x04 truncated zip", b"\x80\x02}q\x00."],
    ids=["random", "empty", "bad-zip", "plain-pickle"],
)
def test_not_a_torch_file(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "weights.pth"
    path.write_bytes(content)
    with pytest.raises(CheckpointFormatError, match=r"weights\.pth: not a PyTorch checkpoint") as info:
        load_checkpoint(build_siammask("tiny"), path)
    assert "\n" not in str(info.value)


def test_truncated_torch_file(source: SiamMask, tmp_path: Path) -> None:
    full = _official_layout(source, tmp_path / "full.pth").read_bytes()
    path = tmp_path / "cut.pth"
    path.write_bytes(full[: len(full) // 2])
    with pytest.raises(CheckpointFormatError, match=r"cut\.pth: cannot be read as a torch checkpoint"):
        load_checkpoint(build_siammask("tiny"), path)


def test_torch_file_that_is_not_a_state_dict(tmp_path: Path) -> None:
    torch.save(torch.zeros(3), tmp_path / "tensor.pth")
    with pytest.raises(CheckpointFormatError, match="holds a Tensor"):
        load_checkpoint(build_siammask("tiny"), tmp_path / "tensor.pth")
    torch.save({"state_dict": {"a": 1}}, tmp_path / "ints.pth")
    with pytest.raises(CheckpointFormatError, match="entry 'a' is a int"):
        load_checkpoint(build_siammask("tiny"), tmp_path / "ints.pth")


def test_untrusted_globals_need_trusted_true(source: SiamMask, tmp_path: Path) -> None:
    path = _official_layout(source, tmp_path / "train.pth", best_acc=np.float64(0.61))
    target = build_siammask("tiny")
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(UntrustedCheckpointError, match="pass trusted=True") as info:
        load_checkpoint(target, path)
    assert "numpy" in str(info.value) and "\n" not in str(info.value)
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())
    load_checkpoint(target, path, trusted=True)
    _assert_same_state(source, target)


def test_another_models_state_dict(tmp_path: Path) -> None:
    other = nn.Sequential(nn.Conv2d(3, 8, 3), nn.BatchNorm2d(8))
    torch.save({"state_dict": other.state_dict()}, tmp_path / "other.pth")
    with pytest.raises(CheckpointMismatchError, match="none of its 7 keys match; it is another model's"):
        load_checkpoint(build_siammask("tiny"), tmp_path / "other.pth")


def test_mismatch_lists_each_problem_once_per_line(source: SiamMask, tmp_path: Path) -> None:
    sd = OrderedDict(source.state_dict())
    dropped = [k for k in sd if k.startswith("refine_model.")][:7]
    for key in dropped:
        del sd[key]
    sd["rpn_model.cls.extra.weight"] = torch.zeros(1)
    sd["rpn_model.loc.head.3.weight"] = torch.zeros(8, 64, 1, 1)
    torch.save({"state_dict": sd}, tmp_path / "broken.pth")
    target = build_siammask("tiny")
    before = {k: v.clone() for k, v in target.state_dict().items()}
    with pytest.raises(CheckpointMismatchError) as info:
        load_checkpoint(target, tmp_path / "broken.pth")
    lines = str(info.value).splitlines()
    assert lines[0].startswith(f"{tmp_path / 'broken.pth'}: state_dict does not fit SiamMask (tiny")
    assert lines[1].strip().startswith("7 missing key(s): " + dropped[0]) and "(2 more)" in lines[1]
    assert lines[2].strip() == "1 unexpected key(s): rpn_model.cls.extra.weight"
    shape_line = (
        "1 shape mismatch(es): rpn_model.loc.head.3.weight checkpoint [8, 64, 1, 1] vs model [20, 64, 1, 1]"
    )
    assert lines[3].strip() == shape_line
    assert len(lines) == 4
    assert all(torch.equal(before[k], v) for k, v in target.state_dict().items())  # nothing partially loaded


def test_other_variant_reports_shape_mismatches(tmp_path: Path) -> None:
    narrow = build_siammask("tiny", adjust_channels=32)
    save_checkpoint(narrow, tmp_path / "narrow.pth")
    with pytest.raises(
        CheckpointMismatchError, match=r"shape mismatch\(es\): features.downsample.downsample.0.weight"
    ):
        load_checkpoint(build_siammask("tiny"), tmp_path / "narrow.pth")
    assert build_siammask_from_checkpoint(tmp_path / "narrow.pth").config.adjust_channels == 32
