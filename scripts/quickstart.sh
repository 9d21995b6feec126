#!/usr/bin/env bash
# Installs everything and runs the main job end to end on the embedded store.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh ml
export KGREC_HOME="${KGREC_HOME:-$PWD/.kgrec}"
exec .venv/bin/kgrec demo "$@"
