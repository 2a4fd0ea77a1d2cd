#!/usr/bin/env bash
# Runs the training subproject's tests with the cached virtual environment from setup_env.sh.
# Extra arguments go to pytest (e.g. ./run_tests.sh -k augment). Exits non-zero on any failure,
# including "no tests collected" (pytest exit 5).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="$("$here/setup_env.sh")"
echo "training venv: $venv"
cd "$here"
status=0
PYTHONPATH="$here${PYTHONPATH:+:$PYTHONPATH}" "$venv/bin/python" -m pytest -q tests "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "run_tests.sh: pytest collected no tests — treating as failure" >&2
fi
exit "$status"
