"""Checkpoint files of mmdet detectors: locating, hashing, safe loading and fit checks.

torch >= 2.6 loads with ``weights_only=True`` by default and mmengine 0.10.7 calls
``torch.load`` without the argument, so loading is done here, deliberately: first with
``weights_only=True`` (enough for plain state dicts such as mmdet's released HTC files and our
exported tiny HTC); a file that needs full unpickling is refused with a clear error unless the
detector config marks it trusted (``trust_checkpoint: true``).
"""

from __future__ import annotations

import hashlib
import pickle
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

import torch
import yaml

from siammask.checkpoint import looks_like_torch_file
from vis_pipeline.detect.base import (
    CheckpointMismatchError,
    CheckpointNotFoundError,
    DetectorConfigError,
    UntrustedCheckpointError,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
MMDET_PREFIX = "mmdet::"


def mmdet_configs_dir() -> Path:
    """The ``configs`` folder bundled with the installed mmdet package (``mmdet/.mim/configs``)."""
    import mmdet

    return Path(mmdet.__file__).resolve().parent / ".mim" / "configs"


def resolve_config_path(spec: str) -> Path:
    """``mmdet::htc/x.py`` -> the installed mmdet's config; other paths: cwd first, then repo root."""
    if spec.startswith(MMDET_PREFIX):
        path = mmdet_configs_dir() / spec[len(MMDET_PREFIX) :]
    else:
        path = Path(spec)
        if not path.is_absolute() and not path.exists():
            path = REPO_ROOT / spec
    if not path.is_file():
        raise DetectorConfigError(f"{spec}: mmdet config file not found (looked at {path})")
    return path


def resolve_checkpoint_path(spec: str) -> Path:
    """A checkpoint path as given (if it exists), else relative to the repo root."""
    path = Path(spec)
    if path.is_absolute() or path.exists():
        return path
    return REPO_ROOT / spec


def metafile_weights_url(model_name: str, metafile: Path | None = None) -> str | None:
    """The official checkpoint URL of ``model_name`` from mmdet's HTC metafile, or None."""
    metafile = metafile or mmdet_configs_dir() / "htc" / "metafile.yml"
    try:
        models = yaml.safe_load(metafile.read_text()).get("Models", [])
    except (OSError, yaml.YAMLError):
        return None
    for model in models:
        if model.get("Name") == model_name:
            return model.get("Weights")
    return None


def missing_checkpoint_error(path: Path, model_name: str | None) -> CheckpointNotFoundError:
    """One-line error naming the expected path and, when known, the official download URL."""
    url = metafile_weights_url(model_name) if model_name else None
    if url:
        how = f"download it from {url} (e.g. scripts/download_weights.py {model_name})"
    else:
        how = (
            "no official download exists for it; train it with vis-train-detector "
            "(tiny HTC: scripts/train_tiny_htc.sh)"
        )
    return CheckpointNotFoundError(f"checkpoint not found: {path}; {how}")


@lru_cache(maxsize=16)
def _sha256_cached(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def file_sha256(path: Path) -> str:
    """Content hash of a file, computed once per process per (path, size, mtime)."""
    stat = path.stat()
    return _sha256_cached(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


def load_checkpoint_file(path: Path, trusted: bool) -> dict[str, Any]:
    """Load a checkpoint dict on CPU; ``weights_only=False`` only when ``trusted``."""
    if path.is_file() and not looks_like_torch_file(path):
        raise CheckpointMismatchError(f"{path}: not a checkpoint (neither a torch zip nor a torch pickle)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as err:
        if not trusted:
            first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise UntrustedCheckpointError(
                f"{path}: cannot be loaded with weights_only=True ({first_line}); "
                "if you trust this file set trust_checkpoint=true"
            ) from None
        ckpt = torch.load(path, map_location="cpu", weights_only=False)
    except (RuntimeError, EOFError, OSError) as err:
        raise CheckpointMismatchError(f"{path}: not a readable torch checkpoint ({err})") from None
    if not isinstance(ckpt, Mapping):
        raise CheckpointMismatchError(f"{path}: checkpoint is a {type(ckpt).__name__}, expected a dict")
    return dict(ckpt)


def state_dict_of(ckpt: Mapping[str, Any]) -> dict[str, torch.Tensor]:
    """The model weights of a checkpoint dict (``state_dict`` entry or the dict itself), no ``module.``."""
    sd = ckpt.get("state_dict", ckpt)
    return {(k[7:] if k.startswith("module.") else k): v for k, v in sd.items() if torch.is_tensor(v)}


def checkpoint_classes(ckpt: Mapping[str, Any]) -> list[str] | None:
    """Class names stored in a checkpoint's meta (mmdet 3.x ``dataset_meta`` or 2.x ``CLASSES``)."""
    meta = ckpt.get("meta") or {}
    if "dataset_meta" in meta and "classes" in meta["dataset_meta"]:
        return list(meta["dataset_meta"]["classes"])
    if "CLASSES" in meta:
        return list(meta["CLASSES"])
    return None


def load_weights_into(
    model: torch.nn.Module,
    ckpt: Mapping[str, Any],
    path: Path,
    num_classes: int,
    expected_classes: list[str] | None,
) -> None:
    """Check that ``ckpt`` fits ``model`` (classes, head shapes, keys), then load it.

    Raises CheckpointMismatchError naming the file and the first problem found.
    """
    classes = checkpoint_classes(ckpt)
    if classes is not None and len(classes) != num_classes:
        raise CheckpointMismatchError(
            f"{path}: checkpoint has {len(classes)} classes, the config expects {num_classes}"
        )
    if classes is not None and expected_classes is not None and list(classes) != list(expected_classes):
        if len(expected_classes) != len(classes):
            raise CheckpointMismatchError(
                f"{path}: checkpoint has {len(classes)} classes, expected {len(expected_classes)}"
            )
        diff = next(i for i, (a, b) in enumerate(zip(classes, expected_classes, strict=True)) if a != b)
        raise CheckpointMismatchError(
            f"{path}: checkpoint class {diff} is {classes[diff]!r}, "
            f"the config expects {expected_classes[diff]!r}"
        )
    weights = state_dict_of(ckpt)
    own = model.state_dict()
    for key, value in weights.items():
        if key in own and tuple(own[key].shape) != tuple(value.shape):
            hint = ""
            if "fc_cls" in key or "conv_logits" in key:
                hint = f" (class count differs: config has {num_classes} classes)"
            raise CheckpointMismatchError(
                f"{path}: {key} has shape {tuple(value.shape)}, "
                f"the model expects {tuple(own[key].shape)}{hint}"
            )
    missing = sorted(k for k in own if k not in weights and not k.endswith("num_batches_tracked"))
    if missing:
        raise CheckpointMismatchError(
            f"{path}: {len(missing)} model weights missing from the checkpoint (first: {missing[0]}); "
            "is it a checkpoint of this config?"
        )
    model.load_state_dict({k: v for k, v in weights.items() if k in own}, strict=False)
