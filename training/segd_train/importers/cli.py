"""python -m segd_train import — an official checkpoint → the contract ONNX + model card, through an explicit key table.

  python -m segd_train import --checkpoint sctnet-b_seg100_city.pth              # family, classes, size detected
  python -m segd_train import --checkpoint segformer-b0-finetuned-cityscapes-1024-1024/ --size 512x1024
Nothing is written unless every tensor maps and the ONNX agrees with PyTorch.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch

from ..data.classes import DatasetError, load_classes_json
from ..data.paths import REPO_ROOT
from . import FAMILIES, ImportRefused, load_official
from .datasets import DATASETS, classes_file, dataset_for
from .read import OfficialCheckpoint, input_size_from_mmseg_config


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 512x1024, got {text!r}") from None
    return h, w


def _file_sha256(path: Path) -> str | None:
    if not path.is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def input_size(ck: OfficialCheckpoint, flag: tuple[int, int] | None) -> tuple[tuple[int, int], str]:
    """(H, W) and where it came from: --size, the mmseg config in the checkpoint, or HF preprocessor_config."""
    if flag is not None:
        return flag, "--size"
    text = ck.meta.get("config")
    if isinstance(text, str):
        size = input_size_from_mmseg_config(text)
        if size:
            return size, "the checkpoint's mmseg config"
    pre = (ck.hf_preprocessor or {}).get("size")
    if isinstance(pre, dict) and isinstance(pre.get("height"), int) and isinstance(pre.get("width"), int):
        return (pre["height"], pre["width"]), "preprocessor_config.json"
    raise ImportRefused(f"{ck.path}: carries no input size (no mmseg config, no preprocessor_config.json); "
                        "pass --size HxW")


def pick_classes(ck: OfficialCheckpoint, num_classes: int, flag: str | None, workdir: Path) -> Path:
    """The classes file for the card: --dataset, else the checkpoint's own CLASSES + PALETTE (mmseg meta),
    else the one known dataset with that many classes."""
    if flag is not None:
        path = classes_file(flag)
    elif isinstance(ck.meta.get("CLASSES"), (list, tuple)) and isinstance(ck.meta.get("PALETTE"), (list, tuple)):
        import json
        names, palette = list(ck.meta["CLASSES"]), list(ck.meta["PALETTE"])
        if len(names) != num_classes or len(palette) != num_classes:
            raise ImportRefused(f"{ck.path}: meta lists {len(names)} CLASSES / {len(palette)} PALETTE entries but "
                                f"the classifier predicts {num_classes}; pass --dataset")
        path = workdir / "classes.json"
        path.write_text(json.dumps({"name": f"{ck.path.stem}-{num_classes}", "ignore_index": 255, "classes": [
            {"id": i, "name": str(n), "color": [int(c) for c in col]} for i, (n, col) in enumerate(zip(names, palette))]}))
    else:
        guess = dataset_for(num_classes)
        if guess is None:
            raise ImportRefused(f"{ck.path}: {num_classes} classes match none of {', '.join(DATASETS)}; pass "
                                "--dataset NAME or a classes.json")
        path = classes_file(guess)
    k = len(load_classes_json(path).classes)
    if k != num_classes:
        raise ImportRefused(f"{ck.path}: the classifier predicts {num_classes} classes but {path} lists {k}")
    return path


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(argv)
    except (ImportRefused, DatasetError, ValueError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        print("nothing written", file=sys.stderr)
        return 2


def _run(argv: list[str] | None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train import", description=__doc__.splitlines()[0])
    ap.add_argument("--checkpoint", type=Path, required=True,
                    help="official .pth / .safetensors file, or a Hugging Face model directory")
    ap.add_argument("--family", choices=tuple(FAMILIES), default=None, help="layout (default: detected from the keys)")
    ap.add_argument("--dataset", default=None,
                    help=f"class names + palette: {', '.join(DATASETS)} or a classes.json (default: the "
                         "checkpoint's own, else by class count)")
    ap.add_argument("--size", type=_size, default=None, help="HxW input (default: from the checkpoint's config)")
    ap.add_argument("--out", type=Path, default=None, help="ONNX path (default models/<arch>-<dataset>-official.onnx)")
    ap.add_argument("--skip", action="append", default=[], metavar="REGEX",
                    help="also leave out source keys matching REGEX (reported); repeatable")
    ap.add_argument("--parity-frames", type=int, default=2, help="CamVid val frames for ONNX-vs-PyTorch (0: skip)")
    ap.add_argument("--dry-run", action="store_true", help="map and report only; write nothing")
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))

    model, arch, report, ck, fam = load_official(args.checkpoint, family=args.family, skip=tuple(args.skip))
    print(f"{ck.path}: family {fam.name} → {arch}, {model.num_classes} classes")
    print(report.summary())
    (h, w), size_from = input_size(ck, args.size)
    with tempfile.TemporaryDirectory(prefix=".segd-import-") as tmp:
        work = Path(tmp)
        classes = pick_classes(ck, model.num_classes, args.dataset, work)
        table = load_classes_json(classes)
        print(f"classes: {table.name} ({len(table.classes)}); input {h}×{w} from {size_from}")
        if args.dry_run:
            return 0
        out = args.out or REPO_ROOT / "models" / f"{arch}-{table.name.split('-')[0]}-official.onnx"
        training: dict[str, Any] = {
            "summary": f"{arch} imported from the official {fam.name} checkpoint {ck.path.name} by "
                       "`segd_train import` (weights as published, not trained nor evaluated by segd)",
            "untrained": False,
            "imported": {"family": fam.name, "file": ck.path.name, "sha256": _file_sha256(ck.path),
                         "tensors": len(report.loaded),
                         "skipped": {why: len(keys) for why, keys in report.skipped.items()}},
        }
        from ..export import export_model
        onnx_tmp, card_tmp = export_model(model, arch, work / out.name, classes_file=classes, height=h, width=w,
                                          metrics=None, training=training)
        if args.parity_frames > 0:
            from ..export.parity import load_frames, mask_agreement
            frac = mask_agreement(onnx_tmp, model, load_frames(args.parity_frames, h, w))
            print(f"parity: {frac:.6f} of pixels agree (ONNX Runtime vs PyTorch, {args.parity_frames} frames)")
            if frac < 0.999:
                raise ImportRefused(f"ONNX parity {frac:.6f} < 0.999: the export is not faithful")
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(onnx_tmp), out)
        shutil.move(str(card_tmp), out.with_suffix(".json"))
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {out.with_suffix('.json')}")
    return 0
