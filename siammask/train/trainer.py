"""SiamMask training loop: pairs -> three-branch loss -> SGD with the paper's schedule.

One step: ``template_kernels(z)``, ``search(x, kernels)`` for the score and box branches, then
``refine_at`` at the positive RoWs (capped per pair) for the mask branch; L3B = 32 Lmask + Lscore + Lreg.
The run directory holds ``last.pth`` (released key layout + epoch, optimizer state and config; written
after every epoch, atomically), ``losses.csv`` (one row per step) and ``curve.png``. A run resumes from
``resume=PATH`` or, if absent, from ``run_dir/last.pth`` when that exists.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader
from tqdm import tqdm

from siammask.backbone import Bottleneck
from siammask.checkpoint import CheckpointMismatchError, load_checkpoint
from siammask.model import SearchOutput, SiamMask, build_siammask
from siammask.refine import REFINE_CROPS
from siammask.train.checkpointing import load_training_checkpoint, save_training_checkpoint
from siammask.train.curve import plot_loss_curve
from siammask.train.data import PairConfig, PairDataset
from siammask.train.losses import (
    LossTerms,
    LossWeights,
    box_loss,
    cls_to_anchor_logits,
    combine,
    mask_loss,
    score_loss,
)
from siammask.train.schedule import LrSchedule, make_optimizer, set_lr
from siammask.train.sources import AnnotationError, ObjectTrack, load_coco_tracks, load_ytvis_tracks
from siammask.train.targets import (
    AnchorConfig,
    TargetConfig,
    add_hard_negatives,
    assign_targets,
    generate_anchors,
    mask_windows,
    select_mask_rows,
)

LOG_FIELDS = ("epoch", "step", "lr", "total", "mask", "score", "reg")


class TrainConfigError(ValueError):
    """A training setting is unknown or out of range (the message names it); the CLI prints one line."""


def dataclass_from_config(cls: type, values: Mapping[str, Any] | None) -> Any:
    """Build a config dataclass from a mapping, turning lists into tuples; unknown keys and values the
    dataclass's own checks reject are a :class:`TrainConfigError`."""
    values = dict(values or {})
    names = {field.name for field in dataclasses.fields(cls)}
    unknown = sorted(set(values) - names)
    if unknown:
        raise TrainConfigError(f"unknown {cls.__name__} option(s): {', '.join(unknown)}")
    try:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})
    except ValueError as error:
        raise TrainConfigError(str(error)) from None


def gather_refine_inputs(
    out: SearchOutput, rows: Sequence[tuple[int, int, int]]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inputs ``refine_at`` cuts, for several RoWs per sample, with one gather per map.

    rows: (b, y, x) triples. Returns the crops of p0/p1/p2 (R, C_i, 61|31|15, 61|31|15) and the
    correlation vectors (R, C, 1, 1), identical to ``crop_refine_inputs`` on ``out`` repeated per row.
    Training needs this because per-sample slicing makes autograd allocate a full-size gradient of
    every map for every row (more than half of a tiny-model step on CPU); an index gather allocates one.
    """
    device = out.mask_corr.device
    batch = torch.tensor([b for b, _, _ in rows], device=device)
    ys = torch.tensor([y for _, y, _ in rows], device=device)
    xs = torch.tensor([x for _, _, x in rows], device=device)
    crops = []
    for feature, (pad, size, scale) in zip((out.p0, out.p1, out.p2), REFINE_CROPS, strict=True):
        padded = F.pad(feature, [pad, pad, pad, pad])
        offsets = torch.arange(size, device=device)
        row_index = (scale * ys)[:, None] + offsets  # (R, size)
        col_index = (scale * xs)[:, None] + offsets
        picked = padded[batch[:, None, None], :, row_index[:, :, None], col_index[:, None, :]]  # (R, s, s, C)
        crops.append(picked.permute(0, 3, 1, 2))
    corr = out.mask_corr[batch, :, ys, xs][:, :, None, None]
    return crops[0], crops[1], crops[2], corr


def compute_losses(
    model: SiamMask,
    batch: Mapping[str, torch.Tensor],
    anchors: np.ndarray,
    anchor_cfg: AnchorConfig,
    target_cfg: TargetConfig,
    weights: LossWeights,
    max_mask_rows: int,
    rng: np.random.Generator,
) -> LossTerms:
    """Forward one batch of pairs and return the L3B terms.

    batch: ``template`` (B, 3, 127, 127), ``search`` (B, 3, 255, 255), ``search_mask`` (B, 255, 255),
    ``search_box`` (B, 4) xyxy in search-crop pixels.
    """
    device = next(model.parameters()).device
    kernels = model.template_kernels(batch["template"].to(device))
    out = model.search(batch["search"].to(device), kernels, with_mask_head=False)
    targets = assign_targets(batch["search_box"].numpy(), anchors, anchor_cfg, target_cfg, rng)
    labels = targets.labels.to(device)
    if target_cfg.hard_negatives > 0:  # the network's own most confident mistakes far from the target
        cls_logits = cls_to_anchor_logits(out.cls)  # (B, 2, A): background, foreground
        margin = cls_logits[:, 1] - cls_logits[:, 0]
        labels = add_hard_negatives(labels, targets.far, margin, target_cfg.hard_negatives)
    score = score_loss(out.cls, labels)
    reg = box_loss(out.loc, targets.deltas.to(device), labels, weights.smooth_l1_beta)
    rows = select_mask_rows(targets.positive_rows, max_mask_rows, rng)
    if rows:
        logits = model.refine_model(*gather_refine_inputs(out, rows))  # = refine_at, see the helper
        windows = mask_windows(
            batch["search_mask"], rows, anchor_cfg.stride, out_size=127, score_size=anchor_cfg.score_size
        )
        mask = mask_loss(logits, windows.to(device))
    else:
        mask = out.mask_corr.sum() * 0.0
    return combine(mask, score, reg, weights)


def load_tracks(data_cfg: Mapping[str, Any]) -> list[ObjectTrack]:
    """Tracks of every configured source: YouTube-VIS (``ann`` + ``frames``) and/or COCO
    (``coco_ann`` + ``coco_images``)."""
    min_box = float(data_cfg.get("min_box_size", 4))
    tracks: list[ObjectTrack] = []
    if data_cfg.get("ann"):
        tracks += load_ytvis_tracks(data_cfg["ann"], data_cfg["frames"], min_box)
    for source in data_cfg.get("extra") or []:  # more YouTube-VIS sets, e.g. another resolution
        tracks += load_ytvis_tracks(source["ann"], source["frames"], min_box)
    if data_cfg.get("coco_ann"):
        tracks += load_coco_tracks(data_cfg["coco_ann"], data_cfg["coco_images"], min_box)
    if not tracks:
        raise AnnotationError(
            "no training data: set data.ann/data.frames and/or data.coco_ann/data.coco_images"
        )
    return tracks


def _read_log(path: Path, before_epoch: int) -> list[dict[str, str]]:
    """Rows of an existing losses.csv for epochs < before_epoch (drops a partial epoch after a crash)."""
    if not path.is_file():
        return []
    with path.open(newline="") as handle:
        return [row for row in csv.DictReader(handle) if int(row["epoch"]) < before_epoch]


def module_prefixes(model: nn.Module, names: Sequence[str], key: str) -> tuple[str, ...]:
    """``("name.", ...)`` for top-level or nested module names of ``model`` (e.g. ``refine_model``);
    TrainConfigError naming ``key`` for a name that is not one of its modules."""
    if isinstance(names, str):
        names = [names]
    known = {name for name, _ in model.named_modules() if name}
    prefixes = []
    for name in names:
        if str(name) not in known:
            tops = sorted(n for n in known if "." not in n)
            raise TrainConfigError(f"{key}: {name!r} is not a module of the model (top level: {tops})")
        prefixes.append(f"{name}.")
    return tuple(prefixes)


def start_blocks_as_identity(model: nn.Module, prefixes: tuple[str, ...]) -> list[str]:
    """Zero the last batch-norm scale of every fresh residual block (a bottleneck without downsample):
    such a block then passes its input through, so a network made deeper by ``model.overrides`` (more
    ``stage_blocks``) starts as the checkpoint's function. Returns the blocks' names."""
    names = []
    for name, module in model.named_modules():
        if isinstance(module, Bottleneck) and module.downsample is None and f"{name}.".startswith(prefixes):
            nn.init.zeros_(module.bn3.weight)
            names.append(name)
    return names


def train(cfg: Mapping[str, Any]) -> Path:
    """Train (or resume) a SiamMask model as configured; returns the path of the last checkpoint.

    cfg is the plain-dict form of ``configs/train/*.yaml`` (see the YAML for every key).
    """
    train_cfg = cfg["train"]
    torch.set_num_threads(int(train_cfg.get("num_threads", 1)))
    torch.manual_seed(int(train_cfg["seed"]))
    run_dir = Path(cfg["run_dir"])
    run_dir.mkdir(parents=True, exist_ok=True)

    anchor_cfg = dataclass_from_config(AnchorConfig, cfg.get("anchors"))
    target_cfg = dataclass_from_config(TargetConfig, cfg.get("targets"))
    weights = dataclass_from_config(LossWeights, cfg.get("loss"))
    schedule = dataclass_from_config(LrSchedule, cfg.get("schedule"))
    pair_cfg = dataclass_from_config(PairConfig, cfg.get("pairs"))
    optim_cfg = cfg.get("optim", {})
    anchors = generate_anchors(anchor_cfg)

    model_cfg = dict(cfg["model"])
    model = build_siammask(model_cfg.pop("name"), **model_cfg.pop("overrides", {}) or {})
    model.to(torch.device(train_cfg.get("device", "cpu")))
    fresh = module_prefixes(model, model_cfg.get("init_fresh") or [], "model.init_fresh")
    frozen = module_prefixes(model, train_cfg.get("frozen") or [], "train.frozen")
    for name, parameter in model.named_parameters():
        parameter.requires_grad_(not name.startswith(frozen))
    optimizer = make_optimizer(
        [p for p in model.parameters() if p.requires_grad],
        lr=schedule.lr_start,
        momentum=float(optim_cfg.get("momentum", 0.9)),
        weight_decay=float(optim_cfg.get("weight_decay", 1e-4)),
    )
    start_epoch = 0
    resume = cfg.get("resume") or (run_dir / "last.pth" if (run_dir / "last.pth").is_file() else None)
    if resume:
        start_epoch = load_training_checkpoint(model, optimizer, resume)
        print(f"resumed from {resume} at epoch {start_epoch}")
    elif (cfg.get("init") or {}).get("backbone"):  # ImageNet ResNet-50 (torchvision layout), rest fresh
        from siammask.checkpoint import CheckpointError
        from siammask.imagenet import ImageNetNormalisation, load_imagenet_backbone

        if model_cfg.get("init_checkpoint"):
            raise CheckpointError("set model.init_checkpoint or init.backbone, not both")
        norm = dataclass_from_config(ImageNetNormalisation, cfg["init"].get("normalisation"))
        print(load_imagenet_backbone(model, cfg["init"]["backbone"], norm).summary())
    elif model_cfg.get("init_checkpoint"):
        try:
            load_checkpoint(model, model_cfg["init_checkpoint"], skip_prefixes=fresh)
        except CheckpointMismatchError as error:
            hint = "model.init_fresh=[module, ...] starts the modules whose shape changed fresh"
            raise CheckpointMismatchError(f"{error}\n  ({hint})") from None
        start_blocks_as_identity(model, fresh)

    dataset = PairDataset(
        load_tracks(cfg["data"]), pair_cfg, int(train_cfg["pairs_per_epoch"]), int(train_cfg["seed"])
    )
    log_path = run_dir / "losses.csv"
    log_rows = _read_log(log_path, start_epoch)
    with log_path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
        writer.writeheader()
        writer.writerows(log_rows)

    epochs = int(round(schedule.epochs))
    batch_size = int(train_cfg["batch_size"])
    num_workers = train_cfg.get("num_workers", 0) or 0
    if not isinstance(num_workers, int) or num_workers < 0:
        raise TrainConfigError(f"train.num_workers={num_workers!r} must be an integer >= 0")
    grad_clip = float(optim_cfg.get("grad_clip", 0) or 0)
    max_mask_rows = int(train_cfg.get("max_mask_rows_per_pair", 0))
    last_path = run_dir / "last.pth"
    for epoch in range(start_epoch, epochs):
        dataset.set_epoch(epoch)
        # pair i of epoch e depends only on (seed, e, i): worker processes crop the same pairs, in order
        loader = DataLoader(
            dataset, batch_size=batch_size, shuffle=False, drop_last=True, num_workers=num_workers
        )
        rng = np.random.default_rng([int(train_cfg["seed"]), epoch, 1])
        model.train()
        for name, module in model.named_modules():
            if name and f"{name}.".startswith(frozen):
                module.eval()  # frozen: batch norm keeps the loaded running statistics
        steps = len(loader)
        progress = tqdm(loader, desc=f"epoch {epoch + 1}/{epochs}", mininterval=5.0, dynamic_ncols=False)
        with log_path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=LOG_FIELDS)
            for step, batch in enumerate(progress):
                lr = schedule.lr_at(epoch + step / steps)
                set_lr(optimizer, lr)
                terms = compute_losses(
                    model, batch, anchors, anchor_cfg, target_cfg, weights, max_mask_rows, rng
                )
                optimizer.zero_grad(set_to_none=True)
                terms.total.backward()
                if grad_clip > 0:
                    torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
                optimizer.step()
                values = {k: float(getattr(terms, k).detach()) for k in ("total", "mask", "score", "reg")}
                writer.writerow({"epoch": epoch, "step": step, "lr": f"{lr:.6g}", **values})
                progress.set_postfix(mask=f"{values['mask']:.3f}", score=f"{values['score']:.3f}",
                                     reg=f"{values['reg']:.3f}", lr=f"{lr:.2e}", refresh=False)  # fmt: skip
        progress.close()
        save_training_checkpoint(model, optimizer, last_path, epoch + 1, cfg)
        keep_every = int(train_cfg.get("keep_every", 0) or 0)  # epoch snapshots for checkpoint selection
        if keep_every > 0 and (epoch + 1) % keep_every == 0:
            save_training_checkpoint(model, None, run_dir / f"epoch_{epoch + 1:03d}.pth", epoch + 1, cfg)
        plot_loss_curve(log_path, run_dir / "curve.png")
        print(f"epoch {epoch + 1}/{epochs} done, checkpoint {last_path}", flush=True)
    return last_path
