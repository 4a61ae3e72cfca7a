#!/usr/bin/env bash
# Reproduce weights/tiny_htc.pth and weights/tiny_htc_metrics.json (CPU, about an hour on 2 cores).
# Every step is idempotent / resumable: rerun this script after an interruption.
# Data: synthetic seed 2000 (400 videos) for training, seed 3000 (20 videos) held out; settings in
# configs/detector/tiny_htc.yaml (train block) and configs/detector/mmdet/tiny_htc.py (model, schedule).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
$PY scripts/train_tiny_htc.py prepare
$PY scripts/train_tiny_htc.py train      # logs + checkpoints in outputs/tiny_htc/
$PY scripts/train_tiny_htc.py export     # -> weights/tiny_htc.pth (fp16 weights + class names)
$PY scripts/train_tiny_htc.py eval       # -> weights/tiny_htc_metrics.json (COCO box/mask AP)
