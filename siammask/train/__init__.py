"""SiamMask training (paper §3.2 losses, §4.1 schedule): targets, losses, pair sampling and the loop.

Entry point: ``python -m siammask.train data.ann=DIR/annotations.json data.frames=DIR/JPEGImages``
(hydra, config ``configs/train/siammask_tiny.yaml``). The loop itself lives in
:mod:`siammask.train.trainer` (imported lazily here so the pure parts do not need the model module).
"""

from siammask.train.data import PairConfig, PairDataset, make_pair
from siammask.train.losses import LossTerms, LossWeights, box_loss, combine, mask_loss, score_loss
from siammask.train.schedule import LrSchedule, make_optimizer, set_lr
from siammask.train.sources import AnnotationError, ObjectTrack, load_coco_tracks, load_ytvis_tracks
from siammask.train.targets import (
    AnchorConfig,
    AnchorTargets,
    TargetConfig,
    assign_targets,
    generate_anchors,
    mask_windows,
    select_mask_rows,
)

__all__ = [
    "AnchorConfig",
    "AnchorTargets",
    "AnnotationError",
    "LossTerms",
    "LossWeights",
    "LrSchedule",
    "ObjectTrack",
    "PairConfig",
    "PairDataset",
    "TargetConfig",
    "assign_targets",
    "box_loss",
    "combine",
    "generate_anchors",
    "load_coco_tracks",
    "load_ytvis_tracks",
    "make_optimizer",
    "make_pair",
    "mask_loss",
    "mask_windows",
    "score_loss",
    "select_mask_rows",
    "set_lr",
]
