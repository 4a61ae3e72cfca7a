#!/usr/bin/env bash
# `make demo`: the whole pipeline on a fresh synthetic set, offline, on CPU.
#   1. vis-synth: 4 held-out synthetic videos (seed 7; training used seeds >= 1000)
#   2. vis-run: tiny HTC detections + tiny SiamMask two-stage tracks -> results.json, metrics.json,
#      submission.zip (validated), run_summary.json
#   3. vis-visualize: overlay MP4s (prediction | ground truth) under outputs/demo/overlays
#   4. vis-report: one self-contained HTML page of the run (outputs/demo/run/report/index.html)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PYTHONWARNINGS="ignore::UserWarning"   # mmengine/mmdet deprecation chatter
OUT=${DEMO_OUT:-outputs/demo}

for w in weights/tiny_htc.pth weights/tiny_siammask.pth; do
    [ -f "$w" ] || { echo "demo: $w is missing (rebuild it with make demo-weights)" >&2; exit 1; }
done

"$BIN/vis-synth" out="$OUT/synth" seed=7 videos=4 width=320 height=180 frames=20 overwrite=true progress=false
"$BIN/vis-run" data.frames="$OUT/synth/JPEGImages" data.ann="$OUT/synth/annotations.json" \
    detector=tiny_htc tracker=tiny tracker.cascade=two_stage \
    hydra.run.dir="$OUT/run" cache_dir="$OUT/detection_cache" progress=false
"$BIN/vis-visualize" results="$OUT/run/results.json" data.frames="$OUT/synth/JPEGImages" \
    data.ann="$OUT/synth/annotations.json" gt=true out="$OUT/overlays"
"$BIN/vis-report" run="$OUT/run"
echo
echo "demo: results $OUT/run/results.json | metrics $OUT/run/metrics.json | submission $OUT/run/submission.zip"
echo "demo: overlays $OUT/overlays/*.mp4 (left: prediction, right: ground truth)"
echo "demo: report $OUT/run/report/index.html (open it in a browser)"
