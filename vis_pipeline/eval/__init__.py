"""YouTube-VIS evaluation (official metrics), result checks and submission packaging."""

from vis_pipeline.eval.report import format_metrics_table
from vis_pipeline.eval.ytvis_eval import STAT_NAMES, YTVISEval, evaluate_ytvis, spatio_temporal_iou
from vis_pipeline.eval.ytvis_io import YTVISFormatError, gt_to_results, load_ground_truth, load_results

__all__ = [
    "STAT_NAMES",
    "YTVISEval",
    "YTVISFormatError",
    "evaluate_ytvis",
    "format_metrics_table",
    "gt_to_results",
    "load_ground_truth",
    "load_results",
    "spatio_temporal_iou",
]
