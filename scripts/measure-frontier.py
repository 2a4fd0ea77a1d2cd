"""Measures the model frontier in one window: each candidate's daemon masks/s (4 streams unpaced, `bench.js`)
beside the mIoU its card holds for the frontier's split, written as FRONTIER.json for `plot-frontier.py`.

Speed on a shared 2-core machine drifts by up to 2x between windows, so every candidate is benched in the same
run, in `--passes` passes that alternate the order (odd passes reversed), and the frontier keeps each pass's
figure beside the median. Run it on an idle machine (pause training): the load average goes into the file.

Usage (from the repository root, with the training venv's python, after `npm run build`):
  training/.venv/bin/python scripts/measure-frontier.py --out training/results/frontier-xseq.json \
      [--split xseq-val] [--floor 40] [--passes 2] [--rounds 2] [--seconds 5] \
      "NAME=MODEL.onnx" ["NAME=MODEL.onnx|a note" ...]

A candidate's mIoU comes from the card beside its .onnx (`metrics`, written by `segd_train export`/`quantize`
over the whole split); a card scored on another split, or on frames the model trained on
(`dataset.eval_frames_in_training`), gives null (drawn on the x axis) and says why in the note.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "dist" / "scripts" / "bench.js"


def parse_candidate(arg: str) -> dict:
    spec, _, note = arg.partition("|")
    name, sep, path = spec.partition("=")
    if not sep or not name or not path.endswith(".onnx"):
        raise SystemExit(f"measure-frontier: candidate {arg!r}: expected NAME=MODEL.onnx or 'NAME=MODEL.onnx|note'")
    onnx = Path(path)
    card = onnx.with_suffix(".json")
    for p in (onnx, card):
        if not p.is_file():
            raise SystemExit(f"measure-frontier: candidate {name!r}: {p} does not exist (a model needs its card beside it)")
    return {"name": name, "onnx": onnx, "card": json.loads(card.read_text(encoding="utf-8")), "note": note}


def score(card: dict, split: str) -> tuple[float | None, str]:
    metrics = card.get("metrics") or {}
    if metrics.get("split") != split:
        return None, f"card scored on {metrics.get('split', 'no split')}, not {split}"
    seen = card.get("dataset", {}).get("eval_frames_in_training", 0)
    if seen:   # a figure on frames the model trained on measures fitting, not the unseen drive the frontier is about
        return None, f"trained on {seen} of the {metrics['images']} {split} frames its card scores ({100 * metrics['miou']:.2f}): no unseen-{split} figure"
    return round(100 * metrics["miou"], 2), f"{metrics['images']} {split} frames, ONNX Runtime"


def precision(card: dict) -> str:
    """The weights' precision as the card records it: `quantize` adds `quantization`, `fp16` adds `precision`."""
    if card.get("quantization"):
        return "int8"
    return "fp16" if card.get("precision", {}).get("format") == "float16" else "fp32"


def bench(onnx: Path, rounds: int, seconds: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "bench.json"
        cmd = ["node", str(BENCH), "--phases", "bare,unpaced", "--rounds", str(rounds), "--seconds", str(seconds),
               "--model", str(onnx), "--json", str(out)]
        done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
        if done.returncode != 0:
            raise SystemExit(f"measure-frontier: bench of {onnx} failed (rc {done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-2000:]}")
        result = json.loads(out.read_text(encoding="utf-8"))
    return {"masksPerS": result["unpaced"]["masksPerS"]["median"], "bareFramesPerS": result["bare"]["framesPerS"]["median"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", required=True, help="FRONTIER.json to write")
    ap.add_argument("--split", default="xseq-val")
    ap.add_argument("--floor", type=float, default=40.0, help="the default's masks/s floor, drawn on the plot")
    ap.add_argument("--passes", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("candidates", nargs="+", help="NAME=MODEL.onnx, optionally followed by |note")
    args = ap.parse_args()
    if not BENCH.is_file():
        raise SystemExit(f"measure-frontier: {BENCH} missing; run npm run build first")
    cands = [parse_candidate(a) for a in args.candidates]
    load_before = os.getloadavg()[0]
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runs: list[list[dict]] = [[] for _ in cands]   # by position: an fp32 file and its int8 may share a name
    order = list(range(len(cands)))
    for p in range(args.passes):
        for i in (order if p % 2 == 0 else order[::-1]):
            c = cands[i]
            r = bench(c["onnx"], args.rounds, args.seconds)
            runs[i].append(r)
            print(f"pass {p + 1}/{args.passes} {c['name']}: {r['masksPerS']:.1f} masks/s (bare {r['bareFramesPerS']:.1f} frames/s)",
                  file=sys.stderr, flush=True)
    frontier = {
        "split": args.split,
        "floorMasksPerS": args.floor,
        "measured": (f"{started} to {time.strftime('%H:%M UTC', time.gmtime())}, load1 {load_before:.2f} before and "
                     f"{os.getloadavg()[0]:.2f} after; scripts/measure-frontier.py: {args.passes} passes (alternating order) of "
                     f"node dist/scripts/bench.js --phases bare,unpaced --rounds {args.rounds} --seconds {args.seconds} --model M "
                     f"(config/default.yaml's settings); mIoU from each file's card"),
        "candidates": [],
    }
    for c, rs in zip(cands, runs):
        miou, scored = score(c["card"], args.split)
        frontier["candidates"].append({
            "name": c["name"],
            "file": str(c["onnx"]),
            "precision": precision(c["card"]),
            "miou": miou,
            "masksPerS": round(median(r["masksPerS"] for r in rs), 1),
            "masksPerSPasses": [round(r["masksPerS"], 1) for r in rs],
            "bareFramesPerS": round(median(r["bareFramesPerS"] for r in rs), 1),
            "note": "; ".join(x for x in (c["note"], scored) if x),
        })
    Path(args.out).write_text(json.dumps(frontier, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(frontier, indent=2))


if __name__ == "__main__":
    main()
