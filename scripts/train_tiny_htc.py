"""Train, export and evaluate the tiny demo HTC on frames of the synthetic benchmark.

Steps (each resumable / idempotent; see scripts/train_tiny_htc.sh for the exact commands)::

    prepare  generate the synthetic training set (seed 2000, the training seed range is 2000-2999)
             and the held-out set (seed 3000), convert both to COCO frame annotations
    train    mmdet's own Runner on configs/detector/mmdet/tiny_htc.py; resumes from the last
             checkpoint in the work dir when rerun
    export   last training checkpoint -> weights-only fp16 file (+ class names in meta)
    eval     run the exported weights through vis_pipeline's HTC adapter on the held-out
             frames and compute COCO-style box/mask AP with pycocotools

Seeds, video counts, frame stride and thread count come from the ``train`` block of
configs/detector/tiny_htc.yaml; command-line flags override them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
DETECTOR_YAML = REPO / "configs" / "detector" / "tiny_htc.yaml"


def _train_settings() -> dict:
    return yaml.safe_load(DETECTOR_YAML.read_text())["train"]


def _set_threads(threads: int) -> None:
    import torch

    torch.set_num_threads(threads)
    os.environ["OMP_NUM_THREADS"] = str(threads)


def cmd_prepare(args: argparse.Namespace) -> None:
    """Generate train/held-out synthetic sets and their COCO frame annotations."""
    from mmengine.config import Config

    from vis_pipeline.data.synth import SynthConfig, generate_dataset
    from vis_pipeline.detect.coco_convert import convert_file

    data_root = Path(args.work_dir) / "data"
    mmdet_cfg = Config.fromfile(str(REPO / args.mmdet_config))
    splits = {
        "train": (args.train_seed, args.train_videos),
        "val": (args.eval_seed, args.eval_videos),
    }
    for split, (seed, videos) in splits.items():
        out = data_root / split
        if not (out / "annotations.json").exists():
            generate_dataset(out, seed=seed, videos=videos, cfg=SynthConfig())
        names = [c["name"] for c in json.loads((out / "annotations.json").read_text())["categories"]]
        if tuple(names) != tuple(mmdet_cfg.classes):
            sys.exit(
                f"{args.mmdet_config}: classes {tuple(mmdet_cfg.classes)} != synthetic categories {names}"
            )
        counts = convert_file(out / "annotations.json", data_root / f"{split}_coco.json", args.frame_stride)
        print(f"[prepare] {split}: seed {seed}, {videos} videos -> {counts}")


def cmd_train(args: argparse.Namespace) -> None:
    """Run (or resume) mmdet's Runner on the tiny HTC config."""
    # Resuming reads our own Runner checkpoint (optimizer state, message hub with numpy
    # objects), which torch>=2.6's default weights_only=True refuses. This file was written
    # by this script, so full unpickling is trusted here -- and only in this process.
    os.environ.setdefault("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    _set_threads(args.threads)
    from mmengine.config import Config
    from mmengine.runner import Runner

    work_dir = Path(args.work_dir)
    cfg = Config.fromfile(str(REPO / args.mmdet_config))
    cfg.work_dir = str(work_dir)
    cfg.train_dataloader.dataset.data_root = str(work_dir / "data") + "/"
    # no validation during training (it would cost CPU time); `eval` does it afterwards
    cfg.val_dataloader = cfg.val_cfg = cfg.val_evaluator = None
    cfg.test_dataloader = cfg.test_cfg = cfg.test_evaluator = None
    if args.max_iters is not None:
        cfg.train_cfg.max_iters = args.max_iters
    cfg.resume = (work_dir / "last_checkpoint").exists()
    runner = Runner.from_cfg(cfg)
    runner.train()


def cmd_export(args: argparse.Namespace) -> None:
    """Last Runner checkpoint -> weights-only fp16 checkpoint with class names in meta."""
    import torch

    work_dir = Path(args.work_dir)
    last = Path((work_dir / "last_checkpoint").read_text().strip())
    # our own Runner checkpoint (see cmd_train): trusted, needs full unpickling
    ckpt = torch.load(last, map_location="cpu", weights_only=False)
    state_dict = {k: (v.half() if v.is_floating_point() else v) for k, v in ckpt["state_dict"].items()}
    meta = {
        "dataset_meta": {"classes": list(ckpt["meta"]["dataset_meta"]["classes"])},
        "iter": int(ckpt["meta"].get("iter", -1)),
        "source": last.name,
        "dtype": "float16",
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"meta": meta, "state_dict": state_dict}, out)
    print(f"[export] {last} -> {out} ({out.stat().st_size / 1e6:.2f} MB, iter {meta['iter']})")


def cmd_eval(args: argparse.Namespace) -> None:
    """Frame-level COCO box/mask AP of the exported weights on the held-out frames."""
    _set_threads(args.threads)
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    from vis_pipeline.data import read_frame
    from vis_pipeline.detect.htc import HTCDetector

    settings = _train_settings()
    data_root = Path(args.work_dir) / "data"
    coco_path = data_root / "val_coco.json"
    detector_cfg = yaml.safe_load(DETECTOR_YAML.read_text())
    detector_cfg.update(
        checkpoint=args.out,
        score_thr=settings["eval_score_thr"],
        topk=settings["eval_topk"],
        mmdet_max_per_img=settings["eval_topk"],
        batch_size=1,
    )
    detector = HTCDetector.from_config(detector_cfg)
    gt = COCO(str(coco_path))
    results: list[dict] = []
    seconds: list[float] = []
    for image in gt.dataset["images"]:
        frame = read_frame(data_root / "val" / "JPEGImages" / image["file_name"])
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
        "checkpoint": args.out,
        "eval_seed": args.eval_seed,
        "eval_videos": args.eval_videos,
        "frame_stride": args.frame_stride,
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
    Path(args.metrics_out).write_text(json.dumps(metrics, indent=2) + "\n")
    print(json.dumps(metrics, indent=2))


def main(argv: list[str] | None = None) -> None:
    settings = _train_settings()
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("step", choices=["prepare", "train", "export", "eval"])
    parser.add_argument("--work-dir", default=settings["work_dir"])
    parser.add_argument("--mmdet-config", default=settings["mmdet_config"])
    parser.add_argument("--train-seed", type=int, default=settings["train_seed"])
    parser.add_argument("--train-videos", type=int, default=settings["train_videos"])
    parser.add_argument("--eval-seed", type=int, default=settings["eval_seed"])
    parser.add_argument("--eval-videos", type=int, default=settings["eval_videos"])
    parser.add_argument("--frame-stride", type=int, default=settings["frame_stride"])
    parser.add_argument("--threads", type=int, default=settings["threads"])
    parser.add_argument("--max-iters", type=int, default=None)
    parser.add_argument("--out", default=settings["weights"])
    parser.add_argument("--metrics-out", default=settings["metrics"])
    args = parser.parse_args(argv)
    start = time.time()
    {"prepare": cmd_prepare, "train": cmd_train, "export": cmd_export, "eval": cmd_eval}[args.step](args)
    print(f"[{args.step}] done in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
