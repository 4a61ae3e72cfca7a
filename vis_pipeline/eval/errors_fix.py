"""Reading the inputs, the oracle fix of each error type of :mod:`vis_pipeline.eval.errors`, and
:func:`analyse_errors`, which re-scores each fix with the project's evaluator.

Each fix is applied alone to the original predictions (definitions in the errors module docstring);
the AP gained over the unfixed results is that error type's cost.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from tqdm import tqdm

from vis_pipeline.eval import evaluate_ytvis
from vis_pipeline.eval.errors import (
    FIXES,
    GT_LABELS,
    PRED_LABELS,
    SWITCH_TAGS,
    Breakdown,
    ErrorAnalysisError,
    ErrorConfig,
    Track,
    classify_errors,
)


def read_json(source: str | Path | Any, what: str) -> Any:
    """Load JSON from a path (one-line errors), or pass an already-loaded object through."""
    if not isinstance(source, (str, Path)):
        return source
    path = Path(source)
    if not path.is_file():
        raise ErrorAnalysisError(f"{path}: {what} file not found")
    try:
        return json.loads(path.read_text())
    except (ValueError, UnicodeDecodeError) as exc:
        raise ErrorAnalysisError(f"{path}: {what} is not valid JSON ({exc})") from None


def evaluate(gt: dict, results: list[dict]) -> dict[str, Any]:
    """The project's evaluator; its input errors (ValueError, one line) become ErrorAnalysisError."""
    try:
        return evaluate_ytvis(gt, results)
    except ValueError as exc:
        raise ErrorAnalysisError(str(exc)) from None


def _rle(segmentation: Any, height: int, width: int) -> dict | None:
    """A segmentation the evaluator accepted -> compressed RLE with str counts, None if absent."""
    if not segmentation:
        return None
    if isinstance(segmentation, list):
        rle = mask_utils.merge(mask_utils.frPyObjects(segmentation, height, width))
    elif isinstance(segmentation["counts"], list):
        rle = mask_utils.frPyObjects(segmentation, height, width)
    else:
        rle = segmentation
    counts = rle["counts"]
    return {
        "size": [height, width],
        "counts": counts.decode("ascii") if isinstance(counts, bytes) else counts,
    }


def _track(track_id: int, video: tuple[int, int, int], entry: dict, score: float) -> Track:
    masks = [_rle(s, video[1], video[2]) for s in entry["segmentations"]]
    present = [t for t, m in enumerate(masks) if m is not None]
    areas = np.zeros(video[0], dtype=np.int64)
    if present:
        areas[present] = mask_utils.area([masks[t] for t in present])
    masks = [m if a > 0 else None for m, a in zip(masks, areas, strict=True)]
    iscrowd = bool(entry.get("iscrowd", 0))
    return Track(track_id, int(entry["video_id"]), int(entry["category_id"]), score, masks, areas, iscrowd)


def parse_tracks(
    gt: dict, results: list[dict]
) -> tuple[dict[int, tuple[int, int, int]], list[Track], list[Track]]:
    """({video id: (length, height, width)}, GT tracks, predicted tracks) of inputs the evaluator accepted."""
    videos = {
        int(v["id"]): (int(v.get("length", len(v.get("file_names", [])))), int(v["height"]), int(v["width"]))
        for v in gt["videos"]
    }
    gts = [_track(int(a["id"]), videos[int(a["video_id"])], a, 1.0) for a in gt.get("annotations") or []]
    preds = [_track(i + 1, videos[int(r["video_id"])], r, float(r["score"])) for i, r in enumerate(results)]
    return videos, gts, preds


def _fix_fragmented(preds: list[Track], breakdown: Breakdown) -> list[dict]:
    masks = [list(p.masks) for p in preds]
    covering = {(p, t) for cover in breakdown.cover.values() for t, p in cover.items()}  # (pred, frame)
    merged_tracks, fragments = [], set()
    for record in breakdown.gts:
        if record.label != "fragmented":
            continue
        cover, main = breakdown.cover[record.gt], record.fragments[0]
        fragments.update(record.fragments)
        main_busy = {t for p, t in covering if p == main}
        merged: list[dict | None] = [None] * len(preds[main].masks)
        for t in range(len(merged)):
            source = cover.get(t, main if t not in main_busy else None)
            if source is not None:
                merged[t], masks[source][t] = masks[source][t], None
        score = max(preds[p].score for p in record.fragments)
        merged_tracks.append(preds[main].as_result(score=score, segmentations=merged))
    # What is left of a fragment is kept only where it still covers another GT track somewhere.
    kept = [
        p.as_result(segmentations=m)
        for i, (p, m) in enumerate(zip(preds, masks, strict=True))
        if any(m) and (i not in fragments or any((i, t) in covering for t, mask in enumerate(m) if mask))
    ]
    return kept + merged_tracks


def _fix_mask(gts: list[Track], preds: list[Track], breakdown: Breakdown, part: str) -> list[dict]:
    results = [p.as_result() for p in preds]
    for record in breakdown.gts:
        if record.label != "mask":
            continue
        gt_masks, pred_masks = gts[record.gt].masks, preds[record.pred].masks
        fixed = []
        for gt_mask, pred_mask in zip(gt_masks, pred_masks, strict=True):
            if part == "spatial":
                fixed.append(gt_mask if gt_mask is not None and pred_mask is not None else pred_mask)
            elif part == "temporal":
                fixed.append(None if gt_mask is None else pred_mask or gt_mask)
            else:
                fixed.append(gt_mask)
        results[record.pred]["segmentations"] = fixed
    return results


def fixed_results(
    fix: str, gts: list[Track], preds: list[Track], breakdown: Breakdown, cfg: ErrorConfig
) -> list[dict]:
    """The predictions with every error of type ``fix`` (one of :data:`FIXES`) oracle-fixed."""
    if fix == "missed":
        added = [gts[r.gt].as_result(score=cfg.missed_score) for r in breakdown.gts if r.label == "missed"]
        return [p.as_result() for p in preds] + added
    if fix == "fragmented":
        return _fix_fragmented(preds, breakdown)
    if fix == "classification":
        relabel = {r.pred: gts[r.gt].category_id for r in breakdown.gts if r.label == "classification"}
        return [p.as_result(category_id=relabel.get(i, p.category_id)) for i, p in enumerate(preds)]
    if fix.startswith("mask"):
        return _fix_mask(gts, preds, breakdown, fix.removeprefix("mask").lstrip("_"))
    if fix in ("duplicate", "background"):
        return [p.as_result() for p, r in zip(preds, breakdown.preds, strict=True) if r.label != fix]
    raise ErrorAnalysisError(f"unknown fix {fix!r} (one of {', '.join(FIXES)})")


def analyse_errors(
    gt: str | Path | dict, results: str | Path | list, cfg: ErrorConfig, progress: bool = False
) -> dict[str, Any]:
    """The breakdown of ``results`` against ``gt`` (paths or loaded JSON) as a JSON-ready dict.

    Keys: ``AP``/``AP50`` (as given), ``fixes`` {fix: {count, AP, AP50, dAP, dAP50}}, ``gt_labels`` and
    ``pred_labels`` (counts), ``id_switches`` and ``switch_tags`` (counts), ``gt_tracks`` and
    ``predictions`` (one record each), ``config``.
    """
    gt_json, results_list = read_json(gt, "GT"), read_json(results, "results")
    base = evaluate(gt_json, results_list)  # also validates both files (one-line errors)
    if base["AP"] < 0:
        raise ErrorAnalysisError(
            f"{gt if isinstance(gt, (str, Path)) else 'GT'}: no non-crowd GT track to score"
        )
    videos, gts, preds = parse_tracks(gt_json, results_list)
    breakdown = classify_errors(videos, gts, preds, cfg)
    gt_labels = {k: sum(r.label == k for r in breakdown.gts) for k in GT_LABELS}
    pred_labels = {k: sum(r.label == k for r in breakdown.preds) for k in PRED_LABELS}
    counts = {
        **pred_labels,
        **gt_labels,
        "mask_spatial": gt_labels["mask"],
        "mask_temporal": gt_labels["mask"],
    }
    report: dict[str, Any] = {"AP": base["AP"], "AP50": base["AP50"], "fixes": {}}
    with warnings.catch_warnings():  # unknown-category warnings were shown by the base evaluation
        warnings.simplefilter("ignore")
        for fix in tqdm(FIXES, desc="vis-errors fixes", disable=not progress, leave=False):
            metrics = (
                evaluate(gt_json, fixed_results(fix, gts, preds, breakdown, cfg)) if counts[fix] else base
            )
            report["fixes"][fix] = {
                "count": counts[fix], "AP": metrics["AP"], "AP50": metrics["AP50"],
                "dAP": metrics["AP"] - base["AP"], "dAP50": metrics["AP50"] - base["AP50"],
            }  # fmt: skip
    switches = [s for r in breakdown.gts for s in r.switches]
    report.update(
        gt_labels=gt_labels,
        pred_labels=pred_labels,
        id_switches=len(switches),
        switch_tags={tag: sum(tag in s.tags for s in switches) for tag in SWITCH_TAGS},
        gt_tracks=[asdict(r) for r in breakdown.gts],
        predictions=[asdict(r) for r in breakdown.preds],
        config=asdict(cfg),
    )
    return report
