"""Training checkpoints on top of :func:`siammask.checkpoint.save_checkpoint` (released key layout).

A training checkpoint is ``save_checkpoint(model, path, epoch=E, optimizer=<state>, config=<train cfg>)``:
the released ``state_dict`` (``module.``-prefixed keys) plus ``model_config`` and those extras, all plain
values/tensors, so ``load_checkpoint`` and ``build_siammask_from_checkpoint`` read it with
``weights_only=True``. ``epoch`` is the number of completed epochs, i.e. where a resume starts.

:func:`export_weights` writes the release file of a run: no optimizer state and, optionally, float16
tensors (half the size); ``load_checkpoint`` casts them back to the model's float32 on load.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from siammask.checkpoint import (
    CheckpointFormatError,
    build_siammask_from_checkpoint,
    check_state_dict,
    read_checkpoint,
    save_checkpoint,
)
from siammask.model import SiamMask


def save_training_checkpoint(
    model: SiamMask,
    optimizer: torch.optim.Optimizer | None,
    path: str | Path,
    epoch: int,
    config: Mapping[str, Any] | None,
) -> None:
    """Atomically write model + ``epoch`` (+ optimizer state and the training config when given)."""
    extra: dict[str, Any] = {"epoch": int(epoch)}
    if optimizer is not None:
        extra["optimizer"] = optimizer.state_dict()
    if config is not None:
        extra["config"] = dict(config)
    save_checkpoint(model, path, **extra)


def load_training_checkpoint(
    model: SiamMask, optimizer: torch.optim.Optimizer | None, path: str | Path
) -> int:
    """Restore model (and optimizer, if the file has its state) from ``path``; returns the epoch to start at.

    Raises the :mod:`siammask.checkpoint` errors (not found, bad format, mismatching keys) and
    :class:`CheckpointFormatError` when the file has no ``epoch``.
    """
    state_dict, extra = read_checkpoint(path)
    if "epoch" not in extra:
        raise CheckpointFormatError(
            f"{path}: no 'epoch' entry; not a training checkpoint, cannot resume from it"
        )
    check_state_dict(model, state_dict, str(path))
    model.load_state_dict(state_dict, strict=False)  # strictness checked above
    if optimizer is not None and "optimizer" in extra:
        optimizer.load_state_dict(extra["optimizer"])
    return int(extra["epoch"])


def export_weights(checkpoint: str | Path, out_path: str | Path, fp16: bool = True) -> None:
    """Write a release file from a training checkpoint: weights (float16 if ``fp16``), ``model_config``,
    ``epoch`` and ``config``; no optimizer state."""
    _, extra = read_checkpoint(checkpoint)
    model = build_siammask_from_checkpoint(checkpoint)
    release = copy.deepcopy(model).half() if fp16 else model
    save_checkpoint(release, out_path, epoch=extra.get("epoch"), config=extra.get("config"))
