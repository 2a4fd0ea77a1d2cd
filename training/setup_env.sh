#!/usr/bin/env bash
# Creates (or reuses) the training virtual environment and prints its path.
# The environment lives outside the clone, keyed by the hash of requirements.txt and the
# Python version, so repeated CI runs reuse it while a new machine builds it from scratch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${SEGD_PYTHON:-python3}"
key="$( (cat "$here/requirements.txt"; "$py" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
root="${SEGD_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
venv="$root/venv-$key"
mkdir -p "$root"
# Two set-ups at once (parallel CI jobs, two clones) would delete each other's half-built venv: take turns.
exec 9>"$root/.venv-$key.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$root"
  "$py" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
ln -sfn "$venv" "$here/.venv"
echo "$venv"
