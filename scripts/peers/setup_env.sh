#!/usr/bin/env bash
# Creates (or reuses) the venv the bench's peer pipelines run in and prints its path (outside the clone, keyed by
# requirements.txt and the Python version: scripts/cached-venv.sh). Debian's /usr/bin/python3 with its site
# packages visible: GStreamer's Python bindings (python3-gi, apt) are not on PyPI as wheels.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
exec bash "$here/../cached-venv.sh" peers "${SEGD_PEERS_PYTHON:-/usr/bin/python3}" "$here/requirements.txt" --system-site-packages
