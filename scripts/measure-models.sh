#!/usr/bin/env bash
# The measured columns of models/README.md's table, for every student the training registry lists:
# params + GFLOPs at 480×360 (`segd_train profile`), and onnxruntime-node frames/s on this CPU at batch 1
# and at the daemon's batch (`bench.js --bare-only` on a seeded untrained export: weights do not change
# speed). Run it on an otherwise idle machine: it prints the load average with every figure.
#
#   bash scripts/measure-models.sh [--seconds N] [--batch B] [MODEL ...]   (default: every student, 10 s, batch 2)
#
# Output: one markdown row per model on stdout; the raw JSON lines go to $OUT_DIR/measure-models.jsonl.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=10
batch=2
models=()
while [ $# -gt 0 ]; do
  case "$1" in
    --seconds) seconds="$2"; shift 2 ;;
    --batch) batch="$2"; shift 2 ;;
    -*) echo "measure-models: unknown flag $1 (expected --seconds N, --batch B, model names)" >&2; exit 2 ;;
    *) models+=("$1"); shift ;;
  esac
done
py=training/.venv/bin/python
[ -x "$py" ] || { echo "measure-models: $py missing; run bash training/setup_env.sh" >&2; exit 2; }
[ -f dist/scripts/bench.js ] || npm run build >/dev/null
if [ ${#models[@]} -eq 0 ]; then
  mapfile -t models < <(cd training && ../$py -m segd_train models | ../$py -c 'import json,sys; print("\n".join(json.load(sys.stdin)["students"]))')
fi
OUT_DIR="${OUT_DIR:-$(mktemp -d /tmp/segd-measure-XXXXXX)}"
mkdir -p "$OUT_DIR"
jsonl="$OUT_DIR/measure-models.jsonl"
: > "$jsonl"
echo "| model | params | GFLOPs@480×360 | ORT CPU fps b1 (load) | ORT CPU fps b$batch (load) |"
echo "|---|---|---|---|---|"
for m in "${models[@]}"; do
  prof=$(cd training && ../$py -m segd_train profile --model "$m" --size 360x480 2>/dev/null | tail -1)
  echo "$prof" >> "$jsonl"
  if ! log=$(cd training && ../$py -m segd_train export --untrained --arch "$m" --seed 0 --out "$OUT_DIR/$m.onnx" --parity-frames 0 2>&1); then
    echo "$log" >&2; echo "measure-models: export of $m failed" >&2; exit 1
  fi
  row="| \`$m\` | $(echo "$prof" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.stdout.write(`${(j.params/1e6).toFixed(2)}M | ${j.gflops.toFixed(1)}`)')"
  for b in 1 "$batch"; do
    line=$(node dist/scripts/bench.js --bare-only --model "$OUT_DIR/$m.onnx" --batch "$b" --seconds "$seconds" | tail -1)
    echo "$line" >> "$jsonl"
    row+=" | $(echo "$line" | node -e 'const j=JSON.parse(require("fs").readFileSync(0,"utf8")); process.stdout.write(`${Number(j.framesPerS).toFixed(1)} (${j.load1.before.toFixed(1)})`)')"
  done
  echo "$row |"
done
echo "raw: $jsonl" >&2
