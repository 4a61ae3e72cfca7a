"""Reading and writing SiamMask checkpoints in the released layout.

The released ``SiamMask_DAVIS.pth`` / ``SiamMask_VOT.pth`` are torch pickles (saved by torch 0.4,
legacy non-zip serialization) holding a dict with a ``state_dict`` entry (or the bare state_dict);
keys may carry a ``module.`` prefix (DataParallel). :func:`save_checkpoint` writes the same layout.

Security: ``torch.load`` is first called with ``weights_only=True``. A file that needs other pickled
globals (numpy scalars, argparse namespaces, ... in a training checkpoint) is refused with
:class:`UntrustedCheckpointError` unless the caller passes ``trusted=True``, which re-reads it with
``weights_only=False`` (full unpickling can run arbitrary code: only for files from a trusted source).

Loading is strict: every model key must be present with the same shape, no extra keys, else
:class:`CheckpointMismatchError` lists the problems. The only tolerated gap is missing
``*.num_batches_tracked`` buffers (files saved by torch < 0.4.1 lack them; they do not affect
inference), which then keep the model's values.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import tempfile
import zipfile
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from siammask.model import PRESETS, SiamMask, build_siammask

DATAPARALLEL_PREFIX = "module."
#: The pickled magic number that opens a legacy (non-zip) torch file, after the pickle PROTO opcode.
_LEGACY_MAGIC = (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_TOLERATED_MISSING_SUFFIX = "num_batches_tracked"
_LIST_LIMIT = 5


class CheckpointError(RuntimeError):
    """Base class of the checkpoint errors below."""


class CheckpointNotFoundError(CheckpointError, FileNotFoundError):
    """The checkpoint path does not exist or is not a file."""


class CheckpointFormatError(CheckpointError, ValueError):
    """The file is not a torch checkpoint, or does not hold a state_dict."""


class UntrustedCheckpointError(CheckpointError):
    """The file needs full unpickling (``weights_only=False``); pass ``trusted=True`` if you trust it."""


class CheckpointMismatchError(CheckpointError):
    """The state_dict does not match the model (missing / unexpected keys, shape mismatches)."""


def looks_like_torch_file(path: Path) -> bool:
    """True for a zip-format torch file or a legacy pickle that starts with torch's magic number."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return any(name.endswith("data.pkl") for name in archive.namelist())
    with open(path, "rb") as f:
        head = f.read(64)
    return head[:1] == pickle.PROTO and _LEGACY_MAGIC in head


def _torch_load(path: Path, trusted: bool) -> Any:
    """torch.load on CPU, weights_only first; falls back to full unpickling only when ``trusted``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        if "Unsupported global" not in str(error):
            raise CheckpointFormatError(
                f"{path}: cannot be read as a torch checkpoint ({_first_line(error)})"
            ) from None
        if not trusted:
            global_name = _unsupported_global(str(error))
            raise UntrustedCheckpointError(
                f"{path}: the file pickles non-tensor objects ({global_name}) that "
                "torch.load(weights_only=True) refuses; if you trust its source, pass trusted=True "
                "(loads it with weights_only=False)"
            ) from None
    except (EOFError, RuntimeError, OSError, ValueError) as error:
        raise CheckpointFormatError(
            f"{path}: cannot be read as a torch checkpoint ({_first_line(error)})"
        ) from None
    try:
        return torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # anything the pickle stream raises: report it on one line
        raise CheckpointFormatError(
            f"{path}: cannot be unpickled ({type(error).__name__}: {_first_line(error)})"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def _unsupported_global(message: str) -> str:
    """Pull the 'GLOBAL a.b.c' name out of torch's weights_only error text."""
    marker = "Unsupported global: GLOBAL "
    start = message.find(marker)
    if start < 0:
        return "unsupported globals"
    return message[start + len(marker) :].split()[0]


def read_checkpoint(
    path: str | Path, *, trusted: bool = False
) -> tuple[OrderedDict[str, Tensor], dict[str, Any]]:
    """Read a checkpoint file into (state_dict without ``module.`` prefixes, other top-level entries).

    Raises:
        CheckpointNotFoundError, CheckpointFormatError, UntrustedCheckpointError: see the classes.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointNotFoundError(f"{path}: checkpoint file not found")
    if not looks_like_torch_file(path):
        raise CheckpointFormatError(
            f"{path}: not a PyTorch checkpoint (neither a torch zip archive nor a legacy torch pickle)"
        )
    obj = _torch_load(path, trusted)
    if not isinstance(obj, Mapping):
        raise CheckpointFormatError(
            f"{path}: holds a {type(obj).__name__}, expected a dict with a 'state_dict'"
        )
    extra: dict[str, Any] = {}
    if "state_dict" in obj:
        raw = obj["state_dict"]
        extra = {k: v for k, v in obj.items() if k != "state_dict"}
        if not isinstance(raw, Mapping):
            raise CheckpointFormatError(
                f"{path}: 'state_dict' is a {type(raw).__name__}, expected a dict of tensors"
            )
    else:
        raw = obj
    state_dict: OrderedDict[str, Tensor] = OrderedDict()
    for key, value in raw.items():
        if not isinstance(value, Tensor):
            raise CheckpointFormatError(
                f"{path}: not a state_dict: entry {key!r} is a {type(value).__name__}, expected a tensor"
            )
        name = str(key)
        state_dict[name[len(DATAPARALLEL_PREFIX) :] if name.startswith(DATAPARALLEL_PREFIX) else name] = value
    if not state_dict:
        raise CheckpointFormatError(f"{path}: the state_dict is empty")
    return state_dict, extra


def _model_name(model: SiamMask) -> str:
    for name, config in PRESETS.items():
        if config == model.config:
            return name
    return "custom config"


def _listed(items: list[str]) -> str:
    shown = ", ".join(items[:_LIST_LIMIT])
    return shown + (f", ... ({len(items) - _LIST_LIMIT} more)" if len(items) > _LIST_LIMIT else "")


def check_state_dict(
    model: SiamMask, state_dict: Mapping[str, Tensor], source: str, skip_prefixes: tuple[str, ...] = ()
) -> None:
    """Raise :class:`CheckpointMismatchError` unless ``state_dict`` fits ``model`` exactly.

    The message has a summary line, then one line per problem kind (missing, unexpected, shape),
    each listing the first few keys and the count. Model keys starting with ``skip_prefixes`` are not
    expected.
    """
    expected = {k: v for k, v in model.state_dict().items() if not k.startswith(skip_prefixes)}
    missing = [k for k in expected if k not in state_dict and not k.endswith(_TOLERATED_MISSING_SUFFIX)]
    unexpected = [k for k in state_dict if k not in expected]
    shape = [
        f"{k} checkpoint {list(state_dict[k].shape)} vs model {list(expected[k].shape)}"
        for k in expected
        if k in state_dict and state_dict[k].shape != expected[k].shape
    ]
    if not (missing or unexpected or shape):
        return
    header = f"{source}: state_dict does not fit SiamMask ({_model_name(model)}, {len(expected)} keys)"
    if not any(k in expected for k in state_dict):
        raise CheckpointMismatchError(
            f"{header}: none of its {len(state_dict)} keys match; it is another model's state_dict "
            f"(first keys: {_listed(list(state_dict))})"
        )
    lines = [header]
    if missing:
        lines.append(f"  {len(missing)} missing key(s): {_listed(missing)}")
    if unexpected:
        lines.append(f"  {len(unexpected)} unexpected key(s): {_listed(unexpected)}")
    if shape:
        lines.append(f"  {len(shape)} shape mismatch(es): {_listed(shape)}")
    raise CheckpointMismatchError("\n".join(lines))


def load_checkpoint(
    model: SiamMask, path: str | Path, *, trusted: bool = False, skip_prefixes: Sequence[str] = ()
) -> None:
    """Load a released-layout checkpoint into ``model`` (on whatever device the model is), all or nothing.

    Args:
        model: the network to fill; its parameters are untouched if anything is wrong.
        path: ``.pth`` file, ``{'state_dict': {...}, ...}`` or a bare state_dict; ``module.`` prefixes ok.
        trusted: allow full unpickling (``weights_only=False``) when the file holds non-tensor globals.
        skip_prefixes: modules (``refine_model``, ...) left as they are, neither loaded nor checked: a
            fine-tune that gives a module a new shape starts it fresh and takes the rest from ``path``.

    Raises:
        CheckpointNotFoundError, CheckpointFormatError, UntrustedCheckpointError, CheckpointMismatchError.
    """
    skip = tuple(skip_prefixes)
    state_dict, _ = read_checkpoint(path, trusted=trusted)
    if skip:
        state_dict = OrderedDict((k, v) for k, v in state_dict.items() if not k.startswith(skip))
    check_state_dict(model, state_dict, str(path), skip)
    model.load_state_dict(state_dict, strict=False)  # strictness is checked above (num_batches_tracked aside)


def save_checkpoint(model: SiamMask, path: str | Path, **extra: Any) -> None:
    """Write ``{'state_dict': {'module.' + key: tensor}, 'model_config': {...}, **extra}`` atomically.

    ``model_config`` (the :class:`SiamMaskConfig` fields) lets :func:`build_siammask_from_checkpoint`
    rebuild the right variant; keep ``extra`` to plain Python / tensor values so the file stays
    loadable with ``weights_only=True``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload: dict[str, Any] = {
        "state_dict": OrderedDict(
            (DATAPARALLEL_PREFIX + k, v.detach().to("cpu").clone()) for k, v in model.state_dict().items()
        ),
        "model_config": dataclasses.asdict(model.config),
    }
    payload.update(extra)
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        torch.save(payload, tmp_name)
        os.replace(tmp_name, path)
    finally:
        if os.path.exists(tmp_name):
            os.unlink(tmp_name)


def build_siammask_from_checkpoint(path: str | Path, *, trusted: bool = False) -> SiamMask:
    """Build the variant named by the file's ``model_config`` (released files: resnet50_sharp) and load it."""
    state_dict, extra = read_checkpoint(path, trusted=trusted)
    config = extra.get("model_config")
    if config is not None and not isinstance(config, Mapping):
        raise CheckpointFormatError(f"{path}: 'model_config' is a {type(config).__name__}, expected a dict")
    try:
        model = build_siammask(dict(config) if config is not None else "resnet50_sharp")
    except (TypeError, ValueError) as error:
        raise CheckpointFormatError(f"{path}: bad 'model_config': {error}") from None
    check_state_dict(model, state_dict, str(path))
    model.load_state_dict(state_dict, strict=False)
    return model


#: Preset ``model`` value that builds the network the checkpoint's ``model_config`` describes.
MODEL_FROM_CHECKPOINT = "checkpoint"


def build_network(model: str, weights: str | Path | None, *, trusted: bool = False) -> SiamMask:
    """The network of a tracker preset: ``model`` names a ``PRESETS`` layout filled from ``weights`` (if
    any), or is ``MODEL_FROM_CHECKPOINT``: the widths ``weights`` records (e.g. a wider tiny network)."""
    if model == MODEL_FROM_CHECKPOINT:
        if weights is None:
            raise CheckpointFormatError("model 'checkpoint' needs a checkpoint file")
        return build_siammask_from_checkpoint(weights, trusted=trusted)
    network = build_siammask(model)
    if weights is not None:
        load_checkpoint(network, weights, trusted=trusted)
    return network
