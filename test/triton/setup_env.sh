#!/usr/bin/env bash
# Creates (or reuses) the venv that runs a real Triton for the tests and prints its path (like
# training/setup_env.sh: outside the clone, keyed by requirements.txt and the Python version).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${SEGD_TRITON_PYTHON:-/usr/bin/python3}"
key="$( (cat "$here/requirements.txt"; "$py" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
root="${SEGD_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
venv="$root/triton-$key"
mkdir -p "$root"
# Two set-ups at once would delete each other's half-built venv: take turns.
exec 9>"$root/.triton-$key.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$root"
  "$py" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
