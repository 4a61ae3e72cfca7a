#!/usr/bin/env bash
# Create/refresh the project virtualenv (.venv). Idempotent: a second run only checks.
#
# mmcv 2.1.0 with compiled ops has no prebuilt wheel for our torch, so it is built from
# source once per machine and torch version (11-17 min on 2 cores) into a wheelhouse keyed
# by the torch version, then installed from there. pip's own wheel cache is not enough:
# it would hand the same wheel to a different torch, which fails at import time.
set -euo pipefail

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3}
TORCH_VERSION=${TORCH_VERSION:-2.13.0}
MMCV_VERSION=2.1.0
WHEELHOUSE=${VIS_WHEELHOUSE:-$HOME/.cache/vis-siammask/wheels/torch-$TORCH_VERSION}
STAMP="$VENV/.installed"

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt scripts/setup_env.sh ]; then
    exit 0
fi

start=$(date +%s)
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
PIP="$VENV/bin/pip --disable-pip-version-check"

$PIP install -q "torch==$TORCH_VERSION" wheel ninja "setuptools<81" "numpy>=1.24"

if ! ls "$WHEELHOUSE"/mmcv-"$MMCV_VERSION"-*.whl >/dev/null 2>&1; then
    echo "[setup] building mmcv $MMCV_VERSION with ops for torch $TORCH_VERSION (once per machine, ~15 min)..."
    mkdir -p "$WHEELHOUSE"
    MAX_JOBS=${MAX_JOBS:-2} MMCV_WITH_OPS=1 FORCE_CUDA=${FORCE_CUDA:-0} \
        $PIP wheel -q --no-build-isolation --no-deps "mmcv==$MMCV_VERSION" -w "$WHEELHOUSE"
fi
$PIP install -q --no-deps --find-links "$WHEELHOUSE" "mmcv==$MMCV_VERSION"
$PIP install -q --find-links "$WHEELHOUSE" -e ".[dev]"

# The vis-report browser test drives Debian's Chromium: install it when missing and apt is usable
# (root, or sudo without a password). Without it tests/test_report.py fails, saying how to install it.
if ! command -v chromium >/dev/null && ! command -v chromium-browser >/dev/null && command -v apt-get >/dev/null; then
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo -n"
    APT_LOG=$(mktemp)
    echo "[setup] installing chromium with apt-get (for the vis-report browser test)..."
    if { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq chromium; } >"$APT_LOG" 2>&1; then
        rm -f "$APT_LOG"
    else
        echo "[setup] warning: apt-get could not install chromium (log: $APT_LOG); tests/test_report.py will fail" >&2
    fi
fi

"$VENV/bin/python" -c "import torch, mmcv, mmcv.ops, mmdet, cv2, pycocotools; print('[setup] torch', torch.__version__, '| mmcv', mmcv.__version__, '| mmdet', mmdet.__version__, '| opencv', cv2.__version__)"
touch "$STAMP"
echo "[setup] done in $(( $(date +%s) - start )) s"
