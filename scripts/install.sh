#!/usr/bin/env bash
# Creates .venv and installs the platform with the extras given (default: ml,dev).
# The CPU build of torch goes in first: installed later as a dependency of torch-geometric,
# pip would fetch a multi-GB CUDA build instead.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-ml,dev}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  "${pip[@]}" install "torch==2.13.0" \
    || "${pip[@]}" install torch --index-url https://download.pytorch.org/whl/cpu
fi
"${pip[@]}" install -e ".[${extras}]"
