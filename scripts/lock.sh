#!/usr/bin/env bash
# Refreshes constraints.txt on purpose: installs the platform into a fresh temporary venv
# WITHOUT constraints (so pip takes the newest versions that fit pyproject.toml), then writes
# that venv's `pip freeze` into constraints.txt. scripts/install.sh installs with
# -c constraints.txt, so run the tests after a refresh and commit the file with them.
# Usage: bash scripts/lock.sh [extras]   (default: the extras scripts/test.sh installs)
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-ml,ui,api,media,dev}"
python="${PYTHON:-python3}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
"$python" -m venv "$tmp/venv"
pip=("$tmp/venv/bin/python" -m pip --disable-pip-version-check -q)
"${pip[@]}" install --upgrade pip >/dev/null
# CPU torch first, as in install.sh (otherwise torch-geometric pulls the multi-GB CUDA build)
"${pip[@]}" install "torch==2.13.0" \
  || "${pip[@]}" install "torch==2.13.0" --extra-index-url https://download.pytorch.org/whl/cpu
"${pip[@]}" install -e ".[${extras}]"
{
  echo "# Exact versions of every third-party package the platform installs (extras ${extras})."
  echo "# Made by scripts/lock.sh: a fresh temporary venv, torch==2.13.0 then -e \".[${extras}]\""
  echo "# installed without constraints, then \`pip freeze --exclude-editable\` (torch's local build label"
  echo "# such as +cpu dropped). scripts/install.sh passes it to every pip install (-c constraints.txt),"
  echo "# so a fresh machine gets these versions, not whatever is newest. Refresh on purpose with"
  echo "# \`bash scripts/lock.sh\`, run the tests, and commit the new file."
  # the project itself is editable (excluded); anything installed from a local path is left out,
  # and torch's local label (+cpu) is dropped so the pin also matches the plain PyPI build
  "${pip[@]}" freeze --exclude-editable | grep -v ' @ ' | sed -E 's/^torch==([^+]*)\+.*$/torch==\1/'
} >"$tmp/constraints.txt"
mv "$tmp/constraints.txt" constraints.txt
echo "constraints.txt: $(grep -vc '^#' constraints.txt) packages pinned"
