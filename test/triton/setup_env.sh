#!/usr/bin/env bash
# Creates (or reuses) the venv that runs a real Triton for the tests and prints its path (outside the clone,
# keyed by requirements.txt and the Python version: scripts/cached-venv.sh). Debian's /usr/bin/python3: PyTriton's
# Python backend stub fails on a pyenv Python.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../scripts/cached-venv.sh" triton "${SEGD_TRITON_PYTHON:-/usr/bin/python3}" "$here/requirements.txt"
