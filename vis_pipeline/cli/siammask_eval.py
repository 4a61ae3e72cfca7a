"""``siammask-eval``: DAVIS-protocol single-object J&F of a SiamMask tracker (hydra CLI).

siammask-eval data.frames=DIR data.ann=GT.json tracker=tiny out=DIR     # a YouTube-VIS-format set
siammask-eval data.davis=DAVIS_ROOT tracker=tiny out=DIR                 # DAVIS folders

Every object (a YouTube-VIS track, or one palette id of a DAVIS sequence) is tracked on its own: the
tracker is initialised on the first frame where the object's GT mask is non-empty (from its box,
``eval.init``) and run over the rest of the video; the frames after the init frame are scored with
:mod:`vis_pipeline.eval.jf` (frames where the object is absent count too: empty vs empty is 1).
Writes ``out/jf.json`` (``overall`` J, F, JF, decays; ``sequences``: one row per object with its loss
cause and the frame it was lost at; ``losses``: objects, J&F and share of 1 - J&F per loss cause, see
:mod:`vis_pipeline.eval.jf_failures`) and ``out/jf.md`` (both tables, also printed).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from omegaconf import DictConfig
from tqdm import tqdm

from siammask.checkpoint import CheckpointError
from siammask.hparams import TrackerConfigError
from vis_pipeline.build import BuildError, build_tracker, plain
from vis_pipeline.cli import CONFIG_DIR
from vis_pipeline.data import DataError, load_ytvis_annotations, read_frame
from vis_pipeline.data.davis import list_davis_sequences, read_label_map
from vis_pipeline.eval.jf import SequenceScores, frame_scores, markdown_table, sequence_scores, summarize
from vis_pipeline.eval.jf_failures import LossRules, classify_loss, loss_summary, loss_table
from vis_pipeline.masks import decode_rle

#: (gt masks, void masks or None) of one object, one per frame; loaded only when the object is scored.
MaskLoader = Callable[[], tuple[list[np.ndarray], list[np.ndarray | None]]]


class EvalSettingError(ValueError):
    """A siammask-eval setting that cannot work (one line naming it)."""


@dataclass(frozen=True)
class EvalObject:
    """One object to track: its video's frames, its GT masks (lazily) and its annotated boxes."""

    name: str
    video: str
    frame_paths: tuple[Path, ...]
    load_masks: MaskLoader
    boxes_xywh: Sequence[Sequence[float] | None] | None = None


@dataclass(frozen=True)
class ObjectResult:
    """One object's scores and why it was lost (``jf_failures``): cause and the video frame of the loss."""

    scores: SequenceScores
    loss: str
    lost_at: int | None

    def to_dict(self) -> dict[str, Any]:
        return {**self.scores.to_dict(), "loss": self.loss, "lost_at": self.lost_at}


def mask_box_xywh(mask: np.ndarray) -> list[float]:
    """Tight (x, y, w, h) box of a non-empty bool mask, in pixels (w = last - first column + 1)."""
    ys, xs = np.nonzero(mask)
    return [float(xs.min()), float(ys.min()), float(xs.max() - xs.min() + 1), float(ys.max() - ys.min() + 1)]


def ytvis_objects(frames_dir: str, ann_path: str, max_videos: int | None) -> list[EvalObject]:
    """One object per (non-crowd) track of a YouTube-VIS-format set, read through the data layer."""
    gt = load_ytvis_annotations(ann_path)
    video_ids = sorted(gt.videos)[:max_videos] if max_videos else sorted(gt.videos)
    objects = []
    for video_id in video_ids:
        video = gt.videos[video_id]
        if len(video.file_names) != video.length or not video.file_names:
            raise DataError(f"{ann_path}: video {video_id} lists no file_names for its frames")
        paths = tuple(Path(frames_dir) / name for name in video.file_names)
        for track in gt.tracks_of(video_id):
            if track.iscrowd:
                continue

            def load(track: Any = track, video: Any = video) -> tuple[list[np.ndarray], list[None]]:
                empty = np.zeros((video.height, video.width), dtype=bool)
                masks = [empty if rle is None else decode_rle(rle) for rle in gt.track_masks(track)]
                return masks, [None] * len(masks)

            objects.append(
                EvalObject(f"{video.name}/{track.track_id}", video.name, paths, load, track.bboxes)
            )
    return objects


def davis_objects(
    root: str, resolution: str, names: list[str] | None, max_videos: int | None
) -> list[EvalObject]:
    """One object per label id (1, 2, ...) of each DAVIS sequence (ids of any frame)."""
    sequences = list_davis_sequences(root, resolution, names)
    objects = []
    for sequence in sequences[:max_videos] if max_videos else sequences:
        ids = sorted(
            set().union(*(np.unique(read_label_map(p)[0]).tolist() for p in sequence.label_paths)) - {0}
        )
        for object_id in ids:

            def load(labels: tuple[Path, ...] = sequence.label_paths, k: int = object_id) -> Any:
                maps = [read_label_map(p) for p in labels]
                return [lab == k for lab, _ in maps], [void for _, void in maps]

            objects.append(
                EvalObject(f"{sequence.name}/{object_id}", sequence.name, sequence.frame_paths, load)
            )
    return objects


def evaluate_object(
    tracker: Any, obj: EvalObject, frames: list[np.ndarray], settings: dict[str, Any]
) -> ObjectResult | None:
    """Track one object, score it and classify its loss; None when no frame is left to score after its
    first appearance."""
    gts, voids = obj.load_masks()
    if len(gts) != len(frames):
        raise DataError(f"{obj.name}: {len(gts)} GT masks for {len(frames)} frames")
    if gts and gts[0].shape != frames[0].shape[:2]:
        raise DataError(
            f"{obj.name}: GT masks are {gts[0].shape[::-1]}, frames {frames[0].shape[1::-1]} (w, h)"
        )
    visible = [t for t, mask in enumerate(gts) if mask.any()]
    if not visible:
        return None
    first = visible[0]
    end = len(frames) - 1 if settings["skip_last_frame"] else len(frames)
    if first + 1 >= end:
        return None
    box = obj.boxes_xywh[first] if settings["init"] == "box" and obj.boxes_xywh else None
    if box is None:
        box = mask_box_xywh(gts[first])
    state = tracker.init(frames[first], box)
    min_score = settings["min_score"]
    preds, scored_gts = [], []
    for t in range(first + 1, end):
        result = tracker.track(frames[t], state)
        present = result.found and (min_score is None or result.score >= min_score)
        pred = result.mask if present else np.zeros_like(result.mask)
        if voids[t] is not None:
            pred = pred & ~voids[t]  # void pixels are not scored
        preds.append(pred)
        scored_gts.append(gts[t])
    j, f = frame_scores(obj.name, preds, scored_gts, float(settings["bound_th"]))
    areas = [int(gt.sum()) for gt in scored_gts]
    cause, onset = classify_loss(j, areas, box, settings["failures"])
    return ObjectResult(sequence_scores(obj.name, j, f), cause, None if onset is None else first + 1 + onset)


def evaluate_objects(
    tracker: Any, objects: list[EvalObject], settings: dict[str, Any], progress: bool
) -> tuple[list[ObjectResult], list[str]]:
    """Scores of every object (frames read once per video) and the names of the unscorable ones."""
    rows: list[ObjectResult] = []
    skipped: list[str] = []
    cached: tuple[str, list[np.ndarray]] | None = None
    for obj in tqdm(objects, desc="objects", disable=not progress, dynamic_ncols=True):
        if cached is None or cached[0] != obj.video:
            cached = (obj.video, [read_frame(p) for p in obj.frame_paths])
        row = evaluate_object(tracker, obj, cached[1], settings)
        if row is None:
            skipped.append(obj.name)
        else:
            rows.append(row)
    return rows, skipped


def _settings(cfg: DictConfig) -> dict[str, Any]:
    settings = plain(cfg.eval)
    if settings["init"] not in ("box", "mask"):
        raise EvalSettingError(
            f"configs/siammask_eval.yaml: eval.init must be box or mask, got {settings['init']!r}"
        )
    if float(settings["bound_th"]) <= 0:
        raise EvalSettingError(
            f"configs/siammask_eval.yaml: eval.bound_th must be > 0, got {settings['bound_th']}"
        )
    try:
        settings["failures"] = LossRules.from_mapping(settings.get("failures") or {}, "eval.failures")
    except (ValueError, TypeError) as exc:
        raise EvalSettingError(f"configs/siammask_eval.yaml: {exc}") from None
    return settings


def _objects(cfg: DictConfig) -> list[EvalObject]:
    data = cfg.data
    max_videos = int(data.max_videos) if data.max_videos else None
    if data.davis:
        if data.frames or data.ann:
            raise EvalSettingError("give data.davis=DIR or data.frames=DIR data.ann=GT.json, not both")
        names = list(data.sequences) if data.sequences else None
        return davis_objects(str(data.davis), str(data.resolution), names, max_videos)
    if not (data.frames and data.ann):
        raise EvalSettingError("give data.frames=DIR and data.ann=GT.json (or data.davis=DIR)")
    return ytvis_objects(str(data.frames), str(data.ann), max_videos)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Evaluate as configured; writes out/jf.json and out/jf.md and returns the JSON report."""
    torch.set_num_threads(int(cfg.threads))
    settings = _settings(cfg)
    objects = _objects(cfg)
    if not objects:
        raise EvalSettingError("no object to evaluate in the data")
    tracker = build_tracker(cfg.tracker, str(cfg.device))
    rows, skipped = evaluate_objects(tracker, objects, settings, bool(cfg.progress))
    if not rows:
        raise EvalSettingError(f"none of the {len(objects)} objects has a frame to score after its first")
    overall = summarize([row.scores for row in rows])
    losses = loss_summary([row.scores.JF for row in rows], [row.loss for row in rows])
    report = {
        "overall": overall,
        "losses": losses,
        "sequences": [row.to_dict() for row in rows],
        "skipped": skipped,
        "tracker": plain(cfg.tracker),
        "data": plain(cfg.data),
        "eval": plain(cfg.eval),
    }
    out = Path(str(cfg.out))
    out.mkdir(parents=True, exist_ok=True)
    (out / "jf.json").write_text(json.dumps(report, indent=2))
    table = markdown_table([row.scores for row in rows], overall) + "\n\n" + loss_table(losses)
    (out / "jf.md").write_text(table + "\n")
    print(table)
    print(f"J&F {overall['JF']:.3f}  J {overall['J']:.3f}  F {overall['F']:.3f}  -> {out / 'jf.json'}")
    return report


@hydra.main(version_base=None, config_path=CONFIG_DIR, config_name="siammask_eval")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except (DataError, BuildError, CheckpointError, TrackerConfigError, EvalSettingError) as exc:
        print(f"siammask-eval: {exc}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
