#!/usr/bin/env bash
# Reproduce weights/tiny_htc.pth and weights/tiny_htc_metrics.json (CPU, about 70 min on 2 cores).
# Every step is idempotent / resumable: rerun this script after an interruption.
# Data: synthetic seed 2000 (400 videos) for training, seed 3000 (20 videos) held out (the `heldout`
# block of configs/detector/tiny_htc.yaml); recipe: its `train` block + configs/detector/mmdet/tiny_htc.py.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.venv/bin}
WORK=${WORK:-outputs/tiny_htc}
[ -f "$WORK/data/train/annotations.json" ] || "$BIN/vis-synth" out="$WORK/data/train" seed=2000 videos=400
[ -f "$WORK/data/heldout/annotations.json" ] || "$BIN/vis-synth" out="$WORK/data/heldout" seed=3000 videos=20
# mmdet's Runner; resumes from the last checkpoint in $WORK/run; writes $WORK/run/detector.pth (fp16 + class names)
"$BIN/vis-train-detector" detector=tiny_htc data.ann="$WORK/data/train/annotations.json" \
    data.frames="$WORK/data/train/JPEGImages" out="$WORK/run" cache_dir="$WORK/coco"
cp "$WORK/run/detector.pth" weights/tiny_htc.pth
# frame-level COCO box/mask AP of the weights on the held-out frames, through vis-run's detector adapter
"$BIN/python" scripts/train_tiny_htc.py --data "$WORK/data/heldout" --checkpoint weights/tiny_htc.pth \
    --metrics-out weights/tiny_htc_metrics.json
