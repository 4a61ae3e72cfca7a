"""``vis-train-detector``: train an mmdet 3.x instance-segmentation model on a YouTube-VIS-format set.

The training itself is mmdet's own Runner (mmengine) on the detector's mmdet config; this module
only prepares what the Runner gets:

1. the frames as COCO files (``coco_convert.prepare_coco_split``: checked, cached by content, a
   held-out split by video that mmdet's CocoMetric scores with box/mask AP during training);
2. the data paths, batch size, lr (scaled from ``base_batch_size`` by mmengine's ``auto_scale_lr``),
   workers, AMP, seed and the number of iterations written into the mmdet config; the config's
   LR schedule (in epochs or iterations) is stretched onto ``train.iters``;
3. the start: the last checkpoint in ``out`` (resume), else a COCO checkpoint with its class rows
   remapped (``remap``), else the config's own initialisation;
4. at the end ``out/detector.pth``: weights only (fp16 by default) with the class names in its meta,
   what ``vis-run detector=... detector.checkpoint=out/detector.pth`` loads.
"""

from __future__ import annotations

import copy
import json
import math
import os
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vis_pipeline import categories
from vis_pipeline.detect.base import DetectorConfigError
from vis_pipeline.detect.checkpoints import (
    checkpoint_classes,
    load_checkpoint_file,
    missing_checkpoint_error,
    resolve_checkpoint_path,
    resolve_config_path,
    state_dict_of,
)
from vis_pipeline.detect.coco_convert import CocoSplit, prepare_coco_split
from vis_pipeline.detect.remap import class_sources, remap_class_rows
from vis_pipeline.fileio import atomic_write_text

DETECTOR_FILE = "detector.pth"
INIT_FILE = "init_from_coco.pth"
LAUNCHERS = ("none", "pytorch")


@dataclass(frozen=True)
class TrainSettings:
    """The ``train`` block of ``configs/train_detector.yaml`` (defaults from the detector's YAML)."""

    iters: int | None  # None: epochs x training images / total batch
    epochs: float | None
    batch_size: int  # images per GPU (per process)
    base_batch_size: int  # the total batch ``lr`` is given for; scaled linearly to the real one
    lr: float
    workers: int
    amp: bool
    seed: int
    frame_stride: int
    val_interval: int  # 0: validate once, after the last iteration
    checkpoint_interval: int
    log_interval: int
    threads: int
    export_fp16: bool
    init_checkpoint: str | None = None  # COCO checkpoint (rows remapped), or one of this config's classes
    init_metafile_model: str | None = None  # its mmdet model name (download hint)
    init_remap: str | None = None  # coco_to_ytvis2019 | coco_to_ytvis2021
    init_prefer: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_config(cls, values: Mapping[str, Any]) -> TrainSettings:
        names = cls.__dataclass_fields__
        unknown = sorted(set(values) - set(names))
        if unknown:
            raise DetectorConfigError(f"train: unknown option(s) {unknown}")
        settings = cls(**{k: v for k, v in values.items() if k in names})
        if settings.iters is None and not settings.epochs:
            raise DetectorConfigError("train: set train.iters or train.epochs")
        if settings.iters is not None and int(settings.iters) < 1:
            raise DetectorConfigError(f"train.iters must be >= 1, got {settings.iters}")
        for key in ("batch_size", "base_batch_size", "frame_stride", "checkpoint_interval", "threads"):
            if int(getattr(settings, key)) < 1:
                raise DetectorConfigError(f"train.{key} must be >= 1, got {getattr(settings, key)}")
        if settings.init_remap is not None and settings.init_remap not in (
            f"coco_to_{name}" for name in categories.COCO_TO_DATASET
        ):
            raise DetectorConfigError(f"train.init_remap: unknown map {settings.init_remap!r}")
        return settings


@dataclass(frozen=True)
class TrainResult:
    detector_path: Path
    iters: int
    split: CocoSplit
    metrics: dict[str, float]


def iterations(settings: TrainSettings, train_images: int, world_size: int) -> int:
    """``train.iters`` or ``epochs`` passes over the training images at the total batch size."""
    if settings.iters is not None:
        return int(settings.iters)
    total_batch = settings.batch_size * world_size
    return max(1, math.ceil(float(settings.epochs or 0) * train_images / total_batch))


def stretch_schedule(
    schedulers: list[dict[str, Any]], train_cfg: Mapping[str, Any], iters: int
) -> list[dict]:
    """mmengine param schedulers of the config, rewritten per iteration for a run of ``iters``.

    Epoch-based entries (mmdet's 1x: steps at epochs 8 and 11 of 12) are scaled by
    ``iters / max_epochs``; iteration entries of an iteration-based config by ``iters / max_iters``;
    iteration entries of an epoch-based config (the warm-up) keep their length. Everything is
    clipped to ``iters`` and every scheduler spans at least one iteration.
    """
    max_epochs, max_iters = train_cfg.get("max_epochs"), train_cfg.get("max_iters")
    out = []
    for original in schedulers:
        s = copy.deepcopy(dict(original))
        if s.get("by_epoch", True):
            if not max_epochs:
                raise DetectorConfigError(f"param_scheduler {s.get('type')}: by epoch, but no max_epochs")
            factor = iters / float(max_epochs)
        else:
            factor = iters / float(max_iters) if max_iters else 1.0
        begin = min(round(float(s.get("begin", 0)) * factor), iters - 1)
        s["begin"] = begin
        if "end" in s and s["end"] is not None:
            s["end"] = max(begin + 1, min(round(float(s["end"]) * factor), iters))
        if "milestones" in s:
            s["milestones"] = [max(1, min(round(m * factor), iters)) for m in s["milestones"]]
        s["by_epoch"] = False
        s.pop("convert_to_iter_based", None)
        out.append(s)
    return out


def configure_runner(
    cfg: Any,
    split: CocoSplit,
    classes: list[str],
    settings: TrainSettings,
    iters: int,
    out: Path,
    launcher: str,
) -> None:
    """Write data, batch, schedule, hooks and the run's folder into an mmengine ``Config`` (in place)."""
    metainfo = {"classes": tuple(classes)}
    frames_prefix = str(split.frames_root.resolve()) + "/"
    train_set = cfg.train_dataloader.dataset
    train_set.update(
        data_root="",
        ann_file=str(split.train_json.resolve()),
        data_prefix={"img": frames_prefix},
        metainfo=metainfo,
    )
    cfg.train_dataloader.update(
        batch_size=settings.batch_size,
        num_workers=settings.workers,
        persistent_workers=settings.workers > 0,
        sampler={"type": "InfiniteSampler", "shuffle": True},
        batch_sampler=None,
    )
    if split.val_json is not None:
        cfg.val_dataloader.dataset.update(
            data_root="",
            ann_file=str(split.val_json.resolve()),
            data_prefix={"img": frames_prefix},
            metainfo=metainfo,
            test_mode=True,
        )
        cfg.val_dataloader.update(num_workers=settings.workers, persistent_workers=settings.workers > 0)
        cfg.val_evaluator = {
            "type": "CocoMetric",
            "ann_file": str(split.val_json.resolve()),
            "metric": ["bbox", "segm"],
        }
        cfg.val_cfg = {"type": "ValLoop"}
    else:
        cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None

    cfg.param_scheduler = stretch_schedule(list(cfg.param_scheduler), cfg.train_cfg, iters)
    val_interval = settings.val_interval if settings.val_interval > 0 else iters
    cfg.train_cfg = {"type": "IterBasedTrainLoop", "max_iters": iters, "val_interval": val_interval}
    cfg.optim_wrapper.optimizer.lr = float(settings.lr)
    cfg.auto_scale_lr = {"enable": True, "base_batch_size": settings.base_batch_size}
    if settings.amp:
        if not torch.cuda.is_available():
            raise DetectorConfigError("train.amp=true needs a CUDA GPU (none is available)")
        cfg.optim_wrapper.type = "AmpOptimWrapper"
        cfg.optim_wrapper.loss_scale = "dynamic"
    cfg.default_hooks.logger = {"type": "LoggerHook", "interval": settings.log_interval}
    cfg.default_hooks.checkpoint = {
        "type": "CheckpointHook",
        "by_epoch": False,
        "interval": settings.checkpoint_interval,
        "max_keep_ckpts": 2,
        "save_last": True,
    }
    cfg.log_processor = {"type": "LogProcessor", "window_size": settings.log_interval, "by_epoch": False}
    cfg.randomness = {"seed": settings.seed}
    cfg.work_dir = str(out)
    cfg.launcher = launcher


def last_checkpoint(out: Path) -> Path | None:
    """The Runner checkpoint named in ``out/last_checkpoint`` (written by mmengine), if it exists."""
    marker = out / "last_checkpoint"
    if not marker.is_file():
        return None
    path = Path(marker.read_text().strip())
    return path if path.is_file() else None


def read_init_checkpoint(settings: TrainSettings) -> tuple[Path, dict[str, Any]]:
    """``train.init_checkpoint``: its resolved path and contents (one error naming it when missing)."""
    assert settings.init_checkpoint is not None
    path = resolve_checkpoint_path(settings.init_checkpoint)
    if not path.is_file():
        raise missing_checkpoint_error(path, settings.init_metafile_model)
    return path, load_checkpoint_file(path, trusted=False)


def same_classes_checkpoint(settings: TrainSettings, classes: list[str]) -> Path:
    """A fine-tune's start (``init_remap: null``): a detector of exactly this config's classes, in order."""
    path, ckpt = read_init_checkpoint(settings)
    named = checkpoint_classes(ckpt)
    if named is None or list(named) != list(classes):
        raise DetectorConfigError(
            f"train.init_checkpoint {path}: classes {named} are not the config's {list(classes)} "
            "(set train.init_remap for a COCO checkpoint)"
        )
    return path


def build_init_checkpoint(cfg: Any, classes: list[str], settings: TrainSettings, out: Path) -> Path:
    """COCO checkpoint -> ``out/init_from_coco.pth``: the model's fresh init, mapped class rows copied."""
    from mmdet.registry import MODELS
    from mmdet.utils import register_all_modules

    assert settings.init_remap is not None
    path, ckpt = read_init_checkpoint(settings)
    coco = list(categories.COCO_CLASSES)
    named = checkpoint_classes(ckpt)
    if named is not None and len(named) != len(coco):
        raise DetectorConfigError(f"{path}: has {len(named)} classes, a COCO checkpoint has {len(coco)}")
    dataset = settings.init_remap.removeprefix("coco_to_")
    sources = class_sources(classes, coco, categories.COCO_TO_DATASET[dataset], settings.init_prefer)

    register_all_modules()
    model_cfg = copy.deepcopy(cfg.model)
    model_cfg.backbone.init_cfg = None  # the backbone comes from the checkpoint: no ImageNet download
    torch.manual_seed(settings.seed)
    model = MODELS.build(model_cfg)
    with _quiet_mmengine():  # init_weights logs one paragraph per tensor
        model.init_weights()
    weights, report = remap_class_rows(
        state_dict_of(ckpt), model.state_dict(), sources, len(coco), classes, coco
    )
    print(f"[init] {path}: {report.summary()}", flush=True)
    meta = {
        "dataset_meta": {"classes": list(classes)},
        "init_from": str(path),
        "remap": settings.init_remap,
        "mapped_classes": report.mapped_classes,
    }
    target = out / INIT_FILE
    _atomic_save({"meta": meta, "state_dict": weights}, target)
    return target


@contextmanager
def _quiet_mmengine():
    from mmengine.logging import MMLogger

    logger = MMLogger.get_current_instance()
    level = logger.level
    logger.setLevel("WARNING")
    try:
        yield
    finally:
        logger.setLevel(level)


def export_detector(model: torch.nn.Module, classes: list[str], path: Path, fp16: bool, meta: dict) -> None:
    """Weights-only detector file: ``{"meta": {"dataset_meta": {"classes"}, ...}, "state_dict"}``."""
    model = getattr(model, "module", model)  # DDP / DataParallel wrapper
    state_dict = {
        k: (v.detach().half() if fp16 and v.is_floating_point() else v.detach()).cpu()
        for k, v in model.state_dict().items()
    }
    full_meta = {
        **meta,
        "dataset_meta": {"classes": list(classes)},
        "dtype": "float16" if fp16 else "float32",
    }
    _atomic_save({"meta": full_meta, "state_dict": state_dict}, path)


def _atomic_save(payload: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        torch.save(payload, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def _trusting_own_checkpoints(resuming: bool):
    """mmengine calls ``torch.load`` without ``weights_only``; its own training checkpoints pickle numpy
    objects, which torch >= 2.6 refuses by default. Only while resuming from this run's own folder is
    full unpickling allowed (explicit ``weights_only=True`` calls stay as they are)."""
    key = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"
    before = os.environ.get(key)
    if resuming:
        os.environ[key] = "1"
    try:
        yield
    finally:
        if resuming:
            if before is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = before


def train_detector(cfg: Mapping[str, Any]) -> TrainResult:
    """Run ``vis-train-detector`` as configured (plain dict of ``configs/train_detector.yaml``)."""
    from mmengine.config import Config
    from mmengine.dist import is_main_process
    from mmengine.runner import Runner

    from vis_pipeline.detect.htc import config_classes

    launcher = str(cfg.get("launcher", "none"))
    if launcher not in LAUNCHERS:
        raise DetectorConfigError(f"launcher must be one of {LAUNCHERS}, got {launcher!r}")
    settings = TrainSettings.from_config(cfg["train"])
    torch.set_num_threads(settings.threads)
    detector = cfg["detector"]
    mmdet_cfg = Config.fromfile(str(resolve_config_path(detector["mmdet_config"])))
    classes = config_classes(mmdet_cfg)
    if classes is None:
        raise DetectorConfigError(f"{detector['mmdet_config']}: declares no class names (set classes=...)")
    data = cfg["data"]
    for key in ("ann", "frames"):
        if not data.get(key):
            raise DetectorConfigError(f"data.{key} is required")
    out = Path(cfg["out"])
    split = prepare_coco_split(
        Path(data["ann"]),
        Path(data["frames"]),
        classes,
        settings.frame_stride,
        data.get("val_videos") or 0,
        settings.seed,
        Path(cfg.get("cache_dir") or out / "coco"),
    )
    world_size = int(os.environ.get("WORLD_SIZE", "1")) if launcher == "pytorch" else 1
    iters = iterations(settings, split.counts["train_images_with_objects"], world_size)
    configure_runner(mmdet_cfg, split, classes, settings, iters, out, launcher)

    resume_from = last_checkpoint(out)
    if resume_from is not None:
        mmdet_cfg.resume, mmdet_cfg.load_from = True, str(resume_from)
        print(f"[train] resuming from {resume_from}", flush=True)
    elif settings.init_checkpoint and settings.init_remap is None:
        mmdet_cfg.model.backbone.init_cfg = None
        mmdet_cfg.load_from = str(same_classes_checkpoint(settings, classes))
        print(f"[init] fine-tuning {mmdet_cfg.load_from} (same classes)", flush=True)
    elif settings.init_checkpoint:
        mmdet_cfg.model.backbone.init_cfg = None
        mmdet_cfg.load_from = str(build_init_checkpoint(mmdet_cfg, classes, settings, out))
    out.mkdir(parents=True, exist_ok=True)
    split_info = {"train_videos": list(split.train_videos), "val_videos": list(split.val_videos)}
    atomic_write_text(out / "split.json", json.dumps({**split_info, **split.counts}, indent=1) + "\n")

    runner = Runner.from_cfg(mmdet_cfg)
    with _trusting_own_checkpoints(resume_from is not None):
        runner.train()
    metrics = {
        k.removeprefix("val/"): float(v.current())
        for k, v in runner.message_hub.log_scalars.items()
        if k.startswith("val/coco/")
    }
    path = out / DETECTOR_FILE
    if is_main_process():
        meta = {
            "iter": runner.iter,
            "detector": detector.get("name"),
            "mmdet_config": detector["mmdet_config"],
        }
        export_detector(runner.model, classes, path, settings.export_fp16, meta)
        if metrics:
            atomic_write_text(out / "metrics.json", json.dumps(metrics, indent=1, sort_keys=True) + "\n")
    return TrainResult(path, iters, split, metrics)
