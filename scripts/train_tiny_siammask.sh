#!/usr/bin/env bash
# Reproduce weights/tiny_siammask.pth: the tiny SiamMask trained on CPU on synthetic videos.
#   - training data: vis-synth seed 1000, 400 videos of 24 frames at 320x180 (seeds >= 1000 are reserved for training;
#     evaluation uses held-out seeds 1, 2, ...), written to outputs/synth_train_seed1000
#   - training: python -m siammask.train with configs/train/siammask_tiny.yaml (1 torch thread),
#     resumable: re-running the script continues from outputs/train/siammask_tiny/last.pth
#   - release: weights/tiny_siammask.pth (float16), weights/tiny_siammask.yaml (the resolved training
#     config), weights/tiny_siammask_curve.png
# Extra arguments are passed to the trainer as hydra overrides (e.g. train.pairs_per_epoch=400).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SYNTH=${SYNTH:-.venv/bin/vis-synth}
DATA=${DATA:-outputs/synth_train_seed1000}
RUN_DIR=${RUN_DIR:-outputs/train/siammask_tiny}
SYNTH_VIDEOS=${SYNTH_VIDEOS:-400}

if [ ! -f "$DATA/annotations.json" ]; then
    "$SYNTH" out="$DATA" seed=1000 videos="$SYNTH_VIDEOS" width=320 height=180 progress=false
fi

OMP_NUM_THREADS=1 "$PY" -m siammask.train \
    data.ann="$DATA/annotations.json" data.frames="$DATA/JPEGImages" run_dir="$RUN_DIR" "$@"

mkdir -p weights
"$PY" -m siammask.train.export "$RUN_DIR/last.pth" weights/tiny_siammask.pth
cp "$RUN_DIR/.hydra/config.yaml" weights/tiny_siammask.yaml
cp "$RUN_DIR/curve.png" weights/tiny_siammask_curve.png
echo "done: weights/tiny_siammask.pth"
