"""Frame-level COCO box/mask AP of a tiny-HTC checkpoint on a held-out synthetic set (the last step of
scripts/train_tiny_htc.sh; training itself is ``vis-train-detector detector=tiny_htc``).

    .venv/bin/python scripts/train_tiny_htc.py --data outputs/tiny_htc/data/heldout \
        --checkpoint weights/tiny_htc.pth --metrics-out weights/tiny_htc_metrics.json

The frames go through vis-run's detector adapter (``HTCDetector``: test scale, class map) and
pycocotools scores them. Stride and score threshold come from the ``reproduce`` block of
configs/detector/tiny_htc.yaml.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch


def detector_yaml(name: str) -> dict:
    """configs/detector/<name>.yaml as vis-run composes it (``detector=<name>``, defaults merged)."""
    from omegaconf import OmegaConf

    from vis_pipeline.cli.run import compose_run_cfg

    return OmegaConf.to_container(compose_run_cfg([f"detector={name}"]).detector, resolve=True)


def evaluate(data: Path, checkpoint: str, threads: int, detector_name: str = "tiny_htc") -> dict:
    """COCO box/mask AP of ``checkpoint`` on every ``frame_stride``-th frame of ``data``."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from vis_pipeline.data import read_frame
    from vis_pipeline.detect.coco_convert import ytvis_to_coco
    from vis_pipeline.detect.htc import HTCDetector

    torch.set_num_threads(threads)
    detector_cfg = detector_yaml(detector_name)
    detector_cfg.pop("train", None)
    heldout = detector_cfg.pop("reproduce")
    detector_cfg.update(
        checkpoint=checkpoint,
        score_thr=heldout["eval_score_thr"],
        topk=heldout["eval_topk"],
        mmdet_max_per_img=heldout["eval_topk"],
        batch_size=1,
    )
    detector = HTCDetector.from_config(detector_cfg)
    gt = COCO()
    gt.dataset = ytvis_to_coco(data / "annotations.json", heldout["frame_stride"])
    gt.createIndex()
    results: list[dict] = []
    seconds: list[float] = []
    for image in gt.dataset["images"]:
        frame = read_frame(data / "JPEGImages" / image["file_name"])
        tic = time.perf_counter()
        (dets,) = detector.detect([frame])
        seconds.append(time.perf_counter() - tic)
        for box, score, label, rle in zip(dets.boxes, dets.scores, dets.labels, dets.masks, strict=True):
            x0, y0, x1, y1 = (float(v) for v in box)
            results.append(
                {
                    "image_id": image["id"],
                    "category_id": int(label),
                    "score": float(score),
                    "bbox": [x0, y0, x1 - x0, y1 - y0],
                    "segmentation": rle,
                }
            )
    names = ["AP", "AP50", "AP75", "APs", "APm", "APl"]
    metrics: dict = {
        "checkpoint": checkpoint,
        "data": str(data),
        "frame_stride": heldout["frame_stride"],
        "images": len(gt.dataset["images"]),
        "instances": len(gt.dataset["annotations"]),
        "test_scale": detector_cfg["test_scale"],
        "median_s_per_frame": float(np.median(seconds)),
    }
    for iou_type in ("segm", "bbox"):
        evaluator = COCOeval(gt, gt.loadRes(results) if results else COCO(), iou_type)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        metrics[iou_type] = {n: round(float(v), 4) for n, v in zip(names, evaluator.stats[:6], strict=True)}
    return metrics


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data", type=Path, required=True, help="held-out set (annotations.json + JPEGImages/)"
    )
    parser.add_argument("--detector", default="tiny_htc", help="configs/detector/<name>.yaml (test scale)")
    parser.add_argument("--checkpoint", default="weights/tiny_htc.pth")
    parser.add_argument("--metrics-out", type=Path, default=None)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    metrics = evaluate(args.data, args.checkpoint, args.threads, args.detector)
    text = json.dumps(metrics, indent=2) + "\n"
    if args.metrics_out is not None:
        args.metrics_out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
