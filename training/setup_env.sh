#!/usr/bin/env bash
# Creates (or reuses) the training virtual environment, links training/.venv to it and prints its path.
# It lives outside the clone, keyed by the hash of requirements.txt and the Python version
# (scripts/cached-venv.sh), so repeated CI runs reuse it while a new machine builds it from scratch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$(bash "$here/../scripts/cached-venv.sh" venv "${SEGD_PYTHON:-python3}" "$here/requirements.txt")"
ln -sfn "$venv" "$here/.venv"
echo "$venv"
