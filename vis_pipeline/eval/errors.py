"""Why a YouTube-VIS results file lost AP: a TIDE-style error breakdown for video instance segmentation.

After TIDE (Bolya et al., ECCV 2020): every error is given one type, each type is oracle-fixed *alone*
in the predictions, the fixed predictions are re-scored with the project's evaluator
(:func:`vis_pipeline.eval.evaluate_ytvis`, AP@[.5:.95]), and the AP gained is that type's cost. The
costs need not add up to 1 - AP (errors interact); each says how much AP that error type alone costs.

Terms (thresholds from ``configs/errors.yaml``):

- *st-IoU* (p, g): the evaluator's spatio-temporal mask IoU, sum_t |P_t & G_t| / sum_t |P_t | G_t|;
  *frame IoU*: the mask IoU in one frame.
- *cover*: in each frame the predictions of a video (any category) and its present non-crowd GT
  tracks are paired one to one by a Hungarian assignment maximising frame IoU; a pair with frame IoU
  >= ``frame_iou`` means the prediction covers the GT track in that frame.
- *fragments* of a GT track: the predictions covering it in >= 1 frame, most frames first (the first
  is the *main* fragment); *ID switches*: changes of the covering prediction between consecutive
  covered frames of the GT track (uncovered frames in between are skipped).
- *TP*: predictions in descending score order (file order on ties) each take the not-yet-taken
  non-crowd GT track of their video and category with the highest st-IoU >= ``fg_iou``: the
  evaluator's matching at IoU 0.5. The GT track is then *found*.

Each non-crowd GT track gets the first label that applies:

1. ``fragmented``: it has >= 2 fragments.
2. ``mask`` (found): found by a TP with st-IoU < ``good_iou``; ``correct`` if >= ``good_iou``.
3. ``classification``: not found, but a non-TP prediction of another category has st-IoU >= ``fg_iou``.
4. ``mask`` (not found): a non-TP prediction of its category has ``bg_iou`` <= st-IoU < ``fg_iou``.
5. ``missed``: otherwise.

In 3 and 4 the prediction with the highest st-IoU is chosen among those that are neither a TP nor a
fragment of a fragmented GT track nor chosen already (GT tracks in file order).

Each prediction gets the first label that applies: ``tp``; ``fragment`` (covers a fragmented GT
track in some frame); ``classification`` / ``mask`` (chosen in 3 / 4); ``duplicate`` (st-IoU >=
``fg_iou`` with a GT track of its category found by a higher-scored TP); ``background`` (st-IoU <
``bg_iou`` with every GT track of its video, any category, crowd included); ``other``.

Fixes, each applied alone to the original predictions:

- ``missed``: each missed GT track is added as a prediction with score ``missed_score``.
- ``fragmented``: per fragmented GT track one prediction made of each fragment's mask on the frames it
  covers the GT track and the main fragment's mask on the other frames (where it covers no other GT
  track), with the main fragment's category and the fragments' highest score; the frames used are
  removed from the fragments, and what is left of a fragment is dropped unless it still covers
  another GT track in some frame (the rest of a split track is part of the merge).
- ``classification``: the chosen prediction takes the GT track's category.
- ``mask``: the prediction's masks become the GT track's, every frame. Split in two parts:
  ``mask_spatial`` replaces masks only in frames where both are present (shape error);
  ``mask_temporal`` only fixes presence (GT mask in frames where the prediction is absent, no mask
  where the GT track is absent): a track born late or dying early is a temporal error.
- ``duplicate`` / ``background``: those predictions are removed.

Each ID switch is also described (diagnostics, no effect on AP) by the GT-side and tracker-side
events around it, between the last frame the old fragment covered (t0) and the switch frame (t1):
``reappeared`` (the GT track is absent in a frame between), ``occluded`` (its visible area drops below
``occluded_frac`` x its median area in [t0, t1]), ``crossing`` (a same-category GT track's box centre
comes within ``crossing_sizes`` box sizes in [t0, t1]), ``reborn`` (the new fragment starts after t0),
``stolen`` (the new fragment covered another GT track before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils
from scipy.optimize import linear_sum_assignment

CONFIG_PATH = Path(__file__).resolve().parents[2] / "configs" / "errors.yaml"
GT_LABELS = ("correct", "missed", "fragmented", "classification", "mask")
PRED_LABELS = ("tp", "fragment", "classification", "mask", "duplicate", "background", "other")
FIXES = (
    "missed", "fragmented", "classification", "mask", "mask_spatial", "mask_temporal", "duplicate",
    "background",
)  # fmt: skip
SWITCH_TAGS = ("reappeared", "occluded", "crossing", "reborn", "stolen")


class ErrorAnalysisError(ValueError):
    """Input that cannot be analysed; the message is one line naming the file or setting."""


@dataclass(frozen=True)
class ErrorConfig:
    """Thresholds of the breakdown (meanings in the module docstring and ``configs/errors.yaml``)."""

    fg_iou: float
    bg_iou: float
    good_iou: float
    frame_iou: float
    missed_score: float
    occluded_frac: float
    crossing_sizes: float

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any], source: str) -> ErrorConfig:
        names = {f.name for f in fields(cls)}
        if unknown := sorted(set(values) - names):
            raise ErrorAnalysisError(f"{source}: unknown error setting(s) {unknown}")
        if missing := sorted(names - set(values)):
            raise ErrorAnalysisError(f"{source}: missing error setting(s) {missing}")
        cfg = cls(**{name: float(values[name]) for name in names})
        if not 0.0 <= cfg.bg_iou <= cfg.fg_iou <= cfg.good_iou <= 1.0 or not 0.0 < cfg.frame_iou <= 1.0:
            raise ErrorAnalysisError(
                f"{source}: need 0 <= bg_iou <= fg_iou <= good_iou <= 1, 0 < frame_iou <= 1"
            )
        if not 0.0 <= cfg.missed_score <= 1.0:
            raise ErrorAnalysisError(f"{source}: missed_score must be in [0, 1], got {cfg.missed_score}")
        return cfg

    @classmethod
    def from_yaml(cls, path: Path = CONFIG_PATH) -> ErrorConfig:
        """The settings of ``configs/errors.yaml`` (the CLI's own keys ignored)."""
        import yaml

        values = yaml.safe_load(Path(path).read_text())
        return cls.from_mapping(
            {k: v for k, v in values.items() if k in {f.name for f in fields(cls)}}, str(path)
        )


@dataclass
class Track:
    """A GT or predicted track. masks: one compressed RLE (str counts) or None per frame;
    areas: (T,) int64 pixels, 0 where absent; track_id: the GT id, or 1 + index in the results."""

    track_id: int
    video_id: int
    category_id: int
    score: float
    masks: list[dict | None]
    areas: np.ndarray
    iscrowd: bool = False

    def as_result(self, **changes: Any) -> dict:
        result = {"video_id": self.video_id, "category_id": self.category_id, "score": self.score}
        return {**result, "segmentations": list(self.masks), **changes}


@dataclass
class Switch:
    frame: int
    from_pred: int  # indices into the results list
    to_pred: int
    tags: list[str]


@dataclass
class GTRecord:
    gt: int  # index into the GT tracks
    track_id: int
    video_id: int
    category_id: int
    label: str
    st_iou: float  # best st-IoU of a prediction of its category
    pred: int | None  # the TP / the prediction chosen for a classification or mask error
    fragments: list[int] = field(default_factory=list)
    switches: list[Switch] = field(default_factory=list)


@dataclass
class PredRecord:
    pred: int  # index into the results list
    video_id: int
    category_id: int
    score: float
    label: str
    st_iou: float  # best st-IoU with a GT track of its video, any category
    gt: int | None  # the GT track (index) of that best st-IoU


@dataclass
class Breakdown:
    gts: list[GTRecord]
    preds: list[PredRecord]
    cover: dict[int, dict[int, int]]  # GT index -> {frame: covering prediction index}


def _intersections(preds: list[Track], gts: list[Track], length: int) -> np.ndarray:
    """(T, P, G) int64 pixel intersections (pycocotools' mask IoU, converted back exactly)."""
    inter = np.zeros((length, len(preds), len(gts)), dtype=np.int64)
    for t in range(length):
        rows = [i for i, p in enumerate(preds) if p.masks[t] is not None]
        cols = [j for j, g in enumerate(gts) if g.masks[t] is not None]
        if not rows or not cols:
            continue
        iou = np.asarray(
            mask_utils.iou(
                [preds[i].masks[t] for i in rows], [gts[j].masks[t] for j in cols], [0] * len(cols)
            )
        )
        area_sum = (
            np.array([preds[i].areas[t] for i in rows])[:, None]
            + np.array([gts[j].areas[t] for j in cols])[None]
        )
        inter[t][np.ix_(rows, cols)] = np.rint(iou * area_sum / (1.0 + iou))
    return inter


def _boxes(track: Track) -> np.ndarray:
    """(T, 4) xywh boxes of a track's masks (zeros where absent)."""
    boxes = np.zeros((len(track.masks), 4))
    present = [t for t, m in enumerate(track.masks) if m is not None]
    if present:
        boxes[present] = mask_utils.toBbox([track.masks[t] for t in present])
    return boxes


class _Video:
    """The overlaps of one video's predictions and GT tracks (local indices, ``*_ids`` -> global)."""

    def __init__(
        self, length: int, pred_ids: list[int], gt_ids: list[int], preds: list[Track], gts: list[Track]
    ):
        self.pred_ids, self.gt_ids = pred_ids, gt_ids
        self.preds, self.gts = [preds[i] for i in pred_ids], [gts[j] for j in gt_ids]
        self.inter = _intersections(self.preds, self.gts, length)
        self.pred_areas = (
            np.stack([p.areas for p in self.preds], 1) if self.preds else np.zeros((length, 0), np.int64)
        )
        self.gt_areas = (
            np.stack([g.areas for g in self.gts], 1) if self.gts else np.zeros((length, 0), np.int64)
        )
        union = self.pred_areas[:, :, None] + self.gt_areas[:, None, :] - self.inter
        st_union = union.sum(0)
        self.st_iou = np.divide(self.inter.sum(0), st_union, out=np.zeros(st_union.shape), where=st_union > 0)
        self.frame_iou = np.divide(self.inter, union, out=np.zeros(union.shape), where=union > 0)

    def cover(self, frame_iou: float) -> list[dict[int, int]]:
        """Per local GT track {frame: local prediction}: per-frame Hungarian on frame IoU (crowd GT
        tracks left out), pairs kept at frame IoU >= frame_iou."""
        cover: list[dict[int, int]] = [{} for _ in self.gts]
        crowd = np.array([g.iscrowd for g in self.gts], bool)
        for t, ious in enumerate(self.frame_iou):
            ious = np.where(crowd[None, :], 0.0, ious)
            rows, cols = linear_sum_assignment(-ious)
            for p, g in zip(rows, cols, strict=True):
                if ious[p, g] >= frame_iou:
                    cover[g][t] = int(p)
        return cover

    def true_positives(self, fg_iou: float) -> dict[int, int]:
        """{local prediction: local GT}: the evaluator's greedy matching at st-IoU fg_iou."""
        order = np.argsort([-p.score for p in self.preds], kind="mergesort")
        taken: dict[int, int] = {}
        for p in order:
            best, best_iou = None, fg_iou
            for g, gt in enumerate(self.gts):
                iou = self.st_iou[p, g]
                if not gt.iscrowd and g not in taken.values() and gt.category_id == self.preds[p].category_id:
                    if iou >= best_iou and (best is None or iou > self.st_iou[p, best]):
                        best, best_iou = g, iou
            if best is not None:
                taken[int(p)] = best
        return taken


def _switches(video: _Video, g: int, cover: list[dict[int, int]], cfg: ErrorConfig) -> list[Switch]:
    """The ID switches of local GT track g with their context tags."""
    frames = sorted(cover[g])
    areas = video.gt_areas[:, g]
    median = float(np.median(areas[areas > 0]))
    same_cat = [j for j, o in enumerate(video.gts) if j != g and o.category_id == video.gts[g].category_id]
    boxes = {j: _boxes(video.gts[j]) for j in [g, *same_cat]}
    switches = []
    for t0, t1 in zip(frames, frames[1:], strict=False):
        old, new = cover[g][t0], cover[g][t1]
        if old == new:
            continue
        span = range(t0, t1 + 1)
        tags = {
            "reappeared": bool((areas[t0 + 1 : t1] == 0).any()),
            "occluded": bool(any(0 < areas[t] < cfg.occluded_frac * median for t in span)),
            "crossing": any(
                _near(boxes[g][t], boxes[j][t], cfg.crossing_sizes) for j in same_cat for t in span
            ),
            "reborn": int(np.argmax(video.pred_areas[:, new] > 0)) > t0,
            "stolen": any(t < t1 and p == new for j, c in enumerate(cover) if j != g for t, p in c.items()),
        }
        tag_list = [name for name in SWITCH_TAGS if tags[name]]
        switches.append(Switch(t1, video.pred_ids[old], video.pred_ids[new], tag_list))
    return switches


def _near(box_a: np.ndarray, box_b: np.ndarray, sizes: float) -> bool:
    """Both boxes present and their centres within ``sizes`` x their mean size (sqrt of the area)."""
    if box_a[2] * box_a[3] == 0 or box_b[2] * box_b[3] == 0:
        return False
    distance = np.hypot(*(box_a[:2] + box_a[2:] / 2 - box_b[:2] - box_b[2:] / 2))
    return bool(distance <= sizes * (np.sqrt(box_a[2] * box_a[3]) + np.sqrt(box_b[2] * box_b[3])) / 2)


def classify_errors(
    videos: dict[int, tuple[int, int, int]], gts: list[Track], preds: list[Track], cfg: ErrorConfig
) -> Breakdown:
    """Label every GT track and every prediction (see the module docstring); videos: {id: (T, H, W)}."""
    breakdown = Breakdown([], [], {})
    for video_id, (length, _, _) in videos.items():
        gt_ids = [j for j, g in enumerate(gts) if g.video_id == video_id]
        pred_ids = [i for i, p in enumerate(preds) if p.video_id == video_id]
        _classify_video(_Video(length, pred_ids, gt_ids, preds, gts), cfg, breakdown)
    breakdown.gts.sort(key=lambda r: r.gt)
    breakdown.preds.sort(key=lambda r: r.pred)
    return breakdown


def _classify_video(video: _Video, cfg: ErrorConfig, breakdown: Breakdown) -> None:
    """Append one video's GT and prediction records (global indices) to ``breakdown``."""
    cover = video.cover(cfg.frame_iou)
    found = {g: p for p, g in video.true_positives(cfg.fg_iou).items()}
    same = np.array([[p.category_id == g.category_id for g in video.gts] for p in video.preds], bool)
    same = same.reshape(len(video.preds), len(video.gts))
    fragments = [_fragments(c) for c in cover]
    pred_label: dict[int, str] = {p: "tp" for p in found.values()}
    for track_fragments in fragments:
        for p in track_fragments if len(track_fragments) >= 2 else []:
            pred_label.setdefault(p, "fragment")
    for g, gt in enumerate(video.gts):
        if gt.iscrowd:
            continue
        label, pred, switches = "missed", None, []
        if len(fragments[g]) >= 2:
            label, switches = "fragmented", _switches(video, g, cover, cfg)
        elif g in found:
            pred = found[g]
            label = "mask" if video.st_iou[pred, g] < cfg.good_iou else "correct"
        else:
            label, pred = _unfound_error(video.st_iou[:, g], same[:, g], set(pred_label), cfg)
            if pred is not None:
                pred_label[pred] = label
        breakdown.gts.append(
            GTRecord(
                video.gt_ids[g], gt.track_id, gt.video_id, gt.category_id, label,
                float(video.st_iou[same[:, g], g].max(initial=0.0)),
                None if pred is None else video.pred_ids[pred], [video.pred_ids[p] for p in fragments[g]],
                switches,
            )
        )  # fmt: skip
        breakdown.cover[video.gt_ids[g]] = {t: video.pred_ids[p] for t, p in cover[g].items()}
    for p, pr in enumerate(video.preds):
        label = pred_label.get(p)
        if label is None:
            duplicate = same[p] & (video.st_iou[p] >= cfg.fg_iou)
            if any(g in found for g in np.flatnonzero(duplicate)):  # its finder came first in score order
                label = "duplicate"
            else:
                label = "background" if (video.st_iou[p] < cfg.bg_iou).all() else "other"
        best = int(np.argmax(video.st_iou[p])) if video.gts else None
        best_iou = float(video.st_iou[p, best]) if best is not None else 0.0
        gt_index = None if best is None else video.gt_ids[best]
        breakdown.preds.append(
            PredRecord(video.pred_ids[p], pr.video_id, pr.category_id, pr.score, label, best_iou, gt_index)
        )


def _fragments(cover: dict[int, int]) -> list[int]:
    """The predictions in ``cover`` ({frame: prediction}), most frames first, then first covered first."""
    counts = np.bincount(list(cover.values())) if cover else np.zeros(0, np.int64)
    first = {int(p): min(t for t, q in cover.items() if q == p) for p in np.flatnonzero(counts)}
    return sorted(first, key=lambda p: (-counts[p], first[p]))


def _unfound_error(
    st_iou: np.ndarray, same_category: np.ndarray, taken: set[int], cfg: ErrorConfig
) -> tuple[str, int | None]:
    """Label of a GT track no TP found, and the (local) prediction the error is about."""
    candidates = (
        ("classification", ~same_category & (st_iou >= cfg.fg_iou)),
        ("mask", same_category & (st_iou >= cfg.bg_iou) & (st_iou < cfg.fg_iou)),
    )
    for label, ok in candidates:
        ok[list(taken)] = False
        if ok.any():
            return label, int(np.argmax(np.where(ok, st_iou, -1.0)))
    return "missed", None
