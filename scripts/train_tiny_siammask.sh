#!/usr/bin/env bash
# Reproduce the tiny SiamMask weights, trained on CPU on synthetic videos (seeds 1000-1999 are reserved
# for this training; tuning uses seeds 100-199 and reported numbers held-out seeds 9000-9099).
#   VARIANT=v1 (weights/tiny_siammask.*): vis-synth seed 1000, 400 videos of 24 frames at 320x180;
#       configs/train/siammask_tiny.yaml from scratch (20 epochs x 1000 pairs).
#   VARIANT=v2 (default, weights/tiny_siammask_v2.*): also vis-synth seed 1001, 200 videos at 640x360;
#       configs/train/siammask_tiny_finetune.yaml: fine-tunes weights/tiny_siammask.pth (v1) on both sets
#       with distractor-centred pairs (20 epochs x 1000 pairs, a snapshot per epoch).
#   VARIANT=v3 (weights/tiny_siammask_v3.*): the same two sets; configs/train/siammask_tiny_v3.yaml
#       fine-tunes the v2 weights again (24 epochs x 1000 pairs, 8 refine rows per pair).
#   VARIANT=v4 (weights/tiny_siammask_v4.*): the same two sets; configs/train/siammask_tiny_v4.yaml
#       fine-tunes the v3 weights with 30% occluded search frames (12 epochs x 1000 pairs; measured
#       on the tuning seeds: no gain over v3, not released; see README).
#   VARIANT=v5 (weights/tiny_siammask_v5.*): the same two sets; configs/train/siammask_tiny_v5.yaml
#       fine-tunes the v3 weights with 20% search frames without the object (12 epochs x 1000 pairs).
#   VARIANT=wide (weights/tiny_siammask_wide.*): the same two sets; configs/train/siammask_tiny_wide.yaml
#       trains a 1.5x wider tiny network from scratch (20 epochs x 1000 pairs, about 70 min).
#   VARIANT=refine (weights/tiny_siammask_refine.*): configs/train/siammask_tiny_refine.yaml: v3 with a 2x wider
#       refine module trained fresh, backbone and box/score heads frozen (16 epochs x 1000 pairs).
#   VARIANT=deep (weights/tiny_siammask_deep.*): configs/train/siammask_tiny_deep.yaml: v3 with one more block
#       per stage, the new blocks starting as the identity; everything trains (16 epochs x 1000 pairs).
#   VARIANT=hard (weights/tiny_siammask_hard.*): configs/train/siammask_tiny_hard.yaml: v3 fine-tuned with each
#       pair's 16 highest-scoring far anchors as extra negatives (16 epochs x 1000 pairs; measured on the
#       tuning seeds: worse than v3, stopped at epoch 10, not released; see README).
#   VARIANT=wide2 (weights/tiny_siammask_wide2.*): the same two sets; configs/train/siammask_tiny_wide2.yaml
#       fine-tunes the wide weights (18 epochs x 1000 pairs, lower learning rates; needs VARIANT=wide first).
# Training is resumable: re-running the script continues from RUN_DIR/last.pth.
# Release: RUN_DIR/last.pth, or CHECKPOINT=RUN_DIR/epoch_NNN.pth (the one chosen on the tuning seeds),
# exported as float16 weights/tiny_siammask[_v2].pth + the resolved config .yaml + the curve .png.
# Extra arguments are passed to the trainer as hydra overrides (e.g. train.pairs_per_epoch=400).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PY:-.venv/bin/python}
SYNTH=${SYNTH:-.venv/bin/vis-synth}
VARIANT=${VARIANT:-v2}
DATA=${DATA:-outputs/synth_train_seed1000}
DATA640=${DATA640:-outputs/synth_train_seed1001_640}

if [ ! -f "$DATA/annotations.json" ]; then
    "$SYNTH" out="$DATA" seed=1000 videos=400 width=320 height=180 progress=false
fi
args=(data.ann="$DATA/annotations.json" data.frames="$DATA/JPEGImages")
if [ "$VARIANT" = v1 ]; then
    CONFIG=siammask_tiny
    RUN_DIR=${RUN_DIR:-outputs/train/siammask_tiny}
    OUT=weights/tiny_siammask
else
    if [ ! -f "$DATA640/annotations.json" ]; then
        "$SYNTH" out="$DATA640" seed=1001 videos=200 width=640 height=360 progress=false
    fi
    CONFIG=siammask_tiny_finetune
    RUN_DIR=${RUN_DIR:-outputs/train/siammask_tiny_$VARIANT}
    OUT=weights/tiny_siammask_$VARIANT
    if [ "$VARIANT" = v3 ]; then CONFIG=siammask_tiny_v3; fi
    if [ "$VARIANT" = wide ]; then CONFIG=siammask_tiny_wide; fi
    if [ "$VARIANT" = wide2 ]; then CONFIG=siammask_tiny_wide2; fi
    if [ "$VARIANT" = v4 ]; then CONFIG=siammask_tiny_v4; fi
    if [ "$VARIANT" = v5 ]; then CONFIG=siammask_tiny_v5; fi
    if [ "$VARIANT" = refine ]; then CONFIG=siammask_tiny_refine; fi
    if [ "$VARIANT" = deep ]; then CONFIG=siammask_tiny_deep; fi
    if [ "$VARIANT" = hard ]; then CONFIG=siammask_tiny_hard; fi
    args+=("data.extra=[{ann: $DATA640/annotations.json, frames: $DATA640/JPEGImages}]")
fi

OMP_NUM_THREADS=1 "$PY" -m siammask.train --config-name "$CONFIG" "${args[@]}" run_dir="$RUN_DIR" "$@"

CHECKPOINT=${CHECKPOINT:-$RUN_DIR/last.pth}
mkdir -p weights
"$PY" -m siammask.train.export "$CHECKPOINT" "$OUT.pth"
cp "$RUN_DIR/.hydra/config.yaml" "$OUT.yaml"
cp "$RUN_DIR/curve.png" "${OUT}_curve.png"
echo "done: $OUT.pth (from $CHECKPOINT)"
