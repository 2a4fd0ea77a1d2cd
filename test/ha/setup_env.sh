#!/usr/bin/env bash
# Creates (or reuses) the Home Assistant Core venv for the tests and prints its path (outside the clone, keyed by
# requirements.txt and the Python version: scripts/cached-venv.sh). Debian's /usr/bin/python3 (3.11), never a
# pyenv one: HA 2024.3 is the newest release for 3.11.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../../scripts/cached-venv.sh" ha "${SEGD_HA_PYTHON:-/usr/bin/python3}" "$here/requirements.txt"
