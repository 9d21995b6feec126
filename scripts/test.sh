#!/usr/bin/env bash
# Installs everything, then lints, type-checks and runs the test suite (slow tests excluded;
# run them with: .venv/bin/pytest -m slow).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh ml,ui,api,media,dev
.venv/bin/ruff check .
.venv/bin/mypy kgrec kg_store kg_ingest embed recommend api ui cypher
exec .venv/bin/pytest "$@"
