#!/usr/bin/env bash
# Creates (or reuses) the Home Assistant Core venv for the tests and prints its path.
# Debian's /usr/bin/python3 (3.11), never a pyenv one: HA 2024.3 is the newest release for 3.11.
# Lives outside the clone, keyed by requirements.txt and the Python version (like training/setup_env.sh).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
py="${SEGD_HA_PYTHON:-/usr/bin/python3}"
key="$( (cat "$here/requirements.txt"; "$py" -c 'import sys; print(sys.version)') | sha256sum | cut -c1-16)"
root="${SEGD_VENV_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/segd}"
venv="$root/ha-$key"
if [ ! -x "$venv/bin/hass" ] || [ ! -f "$venv/.complete" ]; then
  rm -rf "$venv"
  mkdir -p "$root"
  "$py" -m venv "$venv" >&2
  "$venv/bin/python" -m pip install --quiet --upgrade pip >&2
  "$venv/bin/python" -m pip install --quiet -r "$here/requirements.txt" >&2
  touch "$venv/.complete"
fi
echo "$venv"
