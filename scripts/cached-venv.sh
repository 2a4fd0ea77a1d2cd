#!/usr/bin/env bash
# cached-venv.sh NAME PYTHON REQUIREMENTS: creates (or reuses) a virtual environment outside the clone and prints
# its path. It lives in $SEGD_VENV_CACHE (default ~/.cache/segd) as NAME-<key>, the key hashing the requirements
# file and the Python version, so repeated CI runs reuse it while a new machine builds it from scratch. Two
# set-ups at once would delete each other's half-built venv, so they take turns on a lock.
set -euo pipefail
[ $# -eq 3 ] || { echo "usage: cached-venv.sh NAME PYTHON REQUIREMENTS" >&2; exit 2; }
name="$1" py="$2" req="$3"
key="$( (cat "$req"; "$py" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
root="${SEGD_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
venv="$root/$name-$key"
mkdir -p "$root"
exec 9>"$root/.$name-$key.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  "$py" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
