#!/usr/bin/env bash
# cached-venv.sh NAME PYTHON REQUIREMENTS [--system-site-packages]: creates (or reuses) a virtual environment
# outside the clone and prints its path (the flag lets it see the distribution's packages, e.g. python3-gi). It
# lives in $SEGD_VENV_CACHE (default ~/.cache/segd) as NAME-<key>, the key hashing the requirements file, the
# Python version and the flag, so repeated CI runs reuse it while a new machine builds it from scratch. Two
# set-ups at once would delete each other's half-built venv, so they take turns on a lock.
set -euo pipefail
usage="usage: cached-venv.sh NAME PYTHON REQUIREMENTS [--system-site-packages]"
[ $# -eq 3 ] || { [ $# -eq 4 ] && [ "$4" = --system-site-packages ]; } || { echo "$usage" >&2; exit 2; }
name="$1" py="$2" req="$3" site="${4:-}"
# The flag is hashed only when given, so the keys of the existing venvs stay as they were.
key="$( (cat "$req"; "$py" -c 'import sys; print(sys.version)'; [ -z "$site" ] || echo "$site") | sha256sum | cut -c1-16)"
root="${SEGD_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
venv="$root/$name-$key"
mkdir -p "$root"
exec 9>"$root/.$name-$key.lock"
flock 9
if [ ! -x "$venv/bin/python" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  "$py" -m venv ${site:+"$site"} "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$req" >&2
  touch "$venv/.complete"
fi
echo "$venv"
