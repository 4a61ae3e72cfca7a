"""YouTube-VIS evaluation: pycocotools' ``COCOeval`` with each video playing the role of an image.

Only what differs from COCO is overridden (semantics of youtubevos/cocoapi ``ytvoseval.py``):

- ``_prepare``: one entry per track keyed by (video id, category id); ``area`` is the track's
  ``avg_area`` (see :mod:`vis_pipeline.eval.ytvis_io`), crowd tracks are ``ignore``;
- ``computeIoU``: spatio-temporal IoU ``sum_t |P_t & G_t| / sum_t |P_t | G_t|`` (a frame where
  one side is absent adds the other side's area to the union, both absent adds nothing, a zero
  union gives 0). Crowd GT tracks use this same IoU (the official code does not use COCO's
  crowd IoU for videos); they are ignored, and several predictions may match one;
- params: area ranges [0, 1e5^2], [0, 128^2], [128^2, 256^2], [256^2, 1e5^2].

pycocotools' ``evaluateImg`` (per-video matching, predictions sorted by score with a stable
sort then cut to maxDets[-1] = 100 per (video, category)), ``accumulate`` and ``summarize``
are reused unchanged: they are the same code as the official evaluator's.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from pycocotools.cocoeval import COCOeval

from vis_pipeline.eval.ytvis_io import GroundTruth, TrackMasks, load_ground_truth, load_results

STAT_NAMES: tuple[str, ...] = (
    "AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl",
)  # fmt: skip
# Official YouTube-VIS area ranges (pixels of the mean per-frame area): all, small, medium, large.
YTVIS_AREA_RANGES: list[list[float]] = [[0**2, 1e5**2], [0**2, 128**2], [128**2, 256**2], [256**2, 1e5**2]]


def spatio_temporal_iou(pred: TrackMasks, gt: TrackMasks) -> float:
    """Spatio-temporal mask IoU of two tracks of the same video (both have ``length`` frames)."""
    intersection = 0
    union = 0
    for pred_mask, gt_mask, pred_area, gt_area in zip(
        pred.masks, gt.masks, pred.areas, gt.areas, strict=True
    ):
        if pred_mask is not None and gt_mask is not None:
            # Integer sums are exact, so the single division equals the official float sums' result.
            overlap = int(mask_utils.area(mask_utils.merge([pred_mask, gt_mask], intersect=True)))
            intersection += overlap
            union += pred_area + gt_area - overlap
        elif pred_mask is not None:
            union += pred_area
        elif gt_mask is not None:
            union += gt_area
    return intersection / union if union > 0 else 0.0


def st_iou_matrix(preds: list[TrackMasks], gts: list[TrackMasks]) -> np.ndarray:
    """(len(preds), len(gts)) float64 matrix of :func:`spatio_temporal_iou`."""
    ious = np.zeros((len(preds), len(gts)), dtype=np.float64)
    for i, pred in enumerate(preds):
        for j, gt in enumerate(gts):
            ious[i, j] = spatio_temporal_iou(pred, gt)
    return ious


class YTVISEval(COCOeval):
    """``COCOeval`` over videos. Build with normalised GT and results, then ``run()``."""

    def __init__(self, ground_truth: GroundTruth, results: list[TrackMasks]) -> None:
        super().__init__(cocoGt=None, cocoDt=None, iouType="segm")
        self.ground_truth = ground_truth
        self.result_tracks = results
        self.params.imgIds = sorted(ground_truth.videos)
        self.params.catIds = [c["id"] for c in ground_truth.categories]
        self.params.areaRng = [list(r) for r in YTVIS_AREA_RANGES]

    @staticmethod
    def _entry(track: TrackMasks) -> dict[str, Any]:
        return {
            "id": track.track_id,
            "image_id": track.video_id,
            "category_id": track.category_id,
            "score": track.score,
            "iscrowd": int(track.iscrowd),
            "ignore": int(track.iscrowd),
            "area": track.avg_area,
            "track": track,
        }

    def _prepare(self) -> None:
        """Group GT and result tracks by (video id, category id), in file order."""
        videos, categories = set(self.params.imgIds), set(self.params.catIds)
        self._gts = defaultdict(list)
        self._dts = defaultdict(list)
        for track in self.ground_truth.tracks:
            if track.video_id in videos and track.category_id in categories:
                self._gts[track.video_id, track.category_id].append(self._entry(track))
        for track in self.result_tracks:
            if track.video_id in videos and track.category_id in categories:
                self._dts[track.video_id, track.category_id].append(self._entry(track))
        self.evalImgs = defaultdict(list)
        self.eval = {}

    def computeIoU(self, imgId: int, catId: int) -> np.ndarray | list:  # noqa: N802, N803 - COCOeval API
        """St-IoU of the top maxDets[-1] predictions (stable score sort) against every GT track."""
        gt = self._gts[imgId, catId]
        dt = self._dts[imgId, catId]
        if not gt and not dt:
            return []
        order = np.argsort([-d["score"] for d in dt], kind="mergesort")[: self.params.maxDets[-1]]
        return st_iou_matrix([dt[i]["track"] for i in order], [g["track"] for g in gt])

    def run(self) -> np.ndarray:
        """evaluate + accumulate + summarize with pycocotools' prints silenced; returns the 12 stats."""
        with contextlib.redirect_stdout(io.StringIO()):
            self.evaluate()
            self.accumulate()
            self.summarize()
        return np.asarray(self.stats, dtype=np.float64)

    def per_category_ap(self) -> dict[int, float]:
        """{category id: AP@[.5:.95], all areas, maxDets 100}; -1.0 where the category has no GT."""
        precision = self.eval["precision"]  # (T, R, K, A, M)
        out = {}
        for k, cat_id in enumerate(self.params.catIds):
            values = precision[:, :, k, 0, -1]
            values = values[values > -1]
            out[int(cat_id)] = float(values.mean()) if values.size else -1.0
        return out


def evaluate_ytvis(gt: str | Path | dict, results: str | Path | list) -> dict[str, Any]:
    """Official YouTube-VIS metrics of ``results`` against ``gt`` (paths or loaded JSON).

    Returns {AP, AP50, AP75, APs, APm, APl, AR1, AR10, AR100, ARs, ARm, ARl: float (fraction,
    -1.0 where undefined), per_category_AP: {category name: AP or -1.0}}. An empty results list
    scores 0 (the official code crashes on it). Results in categories absent from the GT's
    ``categories`` are ignored, as in the official code.
    """
    ground_truth = load_ground_truth(gt)
    result_tracks = load_results(results, ground_truth.videos)
    known = {c["id"] for c in ground_truth.categories}
    unknown = sorted({t.category_id for t in result_tracks} - known)
    if unknown:
        ignored = sum(t.category_id not in known for t in result_tracks)
        warnings.warn(
            f"{ignored} of {len(result_tracks)} results have category ids {unknown[:5]} not in the GT "
            f"(ids {min(known, default=None)}..{max(known, default=None)}) and are ignored; 0-based ids?",
            stacklevel=2,
        )
    evaluator = YTVISEval(ground_truth, result_tracks)
    stats = evaluator.run()
    metrics: dict[str, Any] = {name: float(value) for name, value in zip(STAT_NAMES, stats, strict=True)}
    names = {c["id"]: c["name"] for c in ground_truth.categories}
    duplicated = {n for n in names.values() if list(names.values()).count(n) > 1}
    metrics["per_category_AP"] = {
        (f"{names[cid]}#{cid}" if names[cid] in duplicated else names[cid]): ap
        for cid, ap in evaluator.per_category_ap().items()
    }
    return metrics
