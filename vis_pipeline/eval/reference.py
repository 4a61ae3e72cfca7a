"""Run mmdet 3.3.0's vendored port of the official YouTube-VIS evaluator, for cross-checks only.

mmdet's ``ytviseval.py`` uses ``np.float`` (removed in numpy 1.24): the *caller* must provide it
(``monkeypatch.setattr(np, "float", float, raising=False)`` in tests, a scoped alias in
``scripts/check_eval_cases.py``); this module never patches numpy itself.
The official ``loadRes`` reads compressed RLE only, so result frames given as uncompressed RLE
or polygons are converted first (compressed frames are passed through untouched).
"""

from __future__ import annotations

import contextlib
import copy
import io
from typing import Any

import numpy as np

from vis_pipeline.masks import to_compressed_rle


def mmdet_available() -> bool:
    """True if mmdet's YouTube-VIS evaluator can be imported."""
    try:
        from mmdet.evaluation.functional import YTVIS, YTVISeval  # noqa: F401
    except Exception:  # mmdet missing or broken (e.g. mmcv ops not built)
        return False
    return True


def _compressed_results(gt: dict, results: list[dict]) -> list[dict]:
    sizes = {v["id"]: (v["height"], v["width"]) for v in gt["videos"]}
    out = copy.deepcopy(results)
    for entry in out:
        height, width = sizes[entry["video_id"]]
        entry["segmentations"] = [
            s
            if not s or (isinstance(s, dict) and isinstance(s.get("counts"), str))
            else to_compressed_rle(s, height, width)
            for s in entry["segmentations"]
        ]
    return out


def mmdet_ytvis_eval(gt: dict, results: list[dict]) -> tuple[np.ndarray, dict[int, float]]:
    """(12 stats, {category id: AP}) from mmdet's port. ``results`` must be non-empty (its loadRes
    indexes ``results[0]``). Inputs are deep-copied (the port edits annotations in place)."""
    from mmdet.evaluation.functional import YTVIS, YTVISeval

    if not results:
        raise ValueError("mmdet's YouTube-VIS port cannot load an empty results list")
    with contextlib.redirect_stdout(io.StringIO()):
        ytvis_gt = YTVIS(copy.deepcopy(gt))
        ytvis_dt = ytvis_gt.loadRes(_compressed_results(gt, results))
        evaluator = YTVISeval(ytvis_gt, ytvis_dt, "segm")
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    precision: Any = evaluator.eval["precision"]
    per_category = {}
    for k, cat_id in enumerate(evaluator.params.catIds):
        values = precision[:, :, k, 0, -1]
        values = values[values > -1]
        per_category[int(cat_id)] = float(values.mean()) if values.size else -1.0
    return np.asarray(evaluator.stats, dtype=np.float64), per_category
