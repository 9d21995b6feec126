#!/usr/bin/env bash
# Creates .venv and installs the platform with the extras given (default: ml,dev).
# The CPU build of torch goes in first: installed later as a dependency of torch-geometric,
# pip would fetch a multi-GB CUDA build instead.
# Every install is held to the exact versions in constraints.txt (refreshed on purpose by
# scripts/lock.sh), so a fresh machine gets the versions the tests passed with.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-ml,dev}"
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip -c constraints.txt >/dev/null
if ! .venv/bin/python -c "import torch" 2>/dev/null; then
  # the fallback adds PyTorch's CPU index beside the default one: torch's own dependencies
  # still come at their pinned versions, and 2.13.0+cpu outranks the plain 2.13.0 build
  "${pip[@]}" install -c constraints.txt "torch==2.13.0" \
    || "${pip[@]}" install -c constraints.txt "torch==2.13.0" \
      --extra-index-url https://download.pytorch.org/whl/cpu
fi
"${pip[@]}" install -c constraints.txt -e ".[${extras}]"
