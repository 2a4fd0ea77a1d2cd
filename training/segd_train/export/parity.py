"""ONNX Runtime vs PyTorch mask agreement on real validation frames.

The PyTorch side is the *unfused* eval model inside the same uint8→mask wrapper, so the number
covers everything the export changes: BN folding, constant folding, the ONNX kernels.

CLI: python -m segd_train.export.parity --onnx models/sctnet-s-camvid.onnx
         (--checkpoint CKPT | --untrained [--arch sctnet-s --seed 0]) [--frames 8]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch
from PIL import Image
from torch import nn

from ..data.classes import load_classes_json
from ..data.paths import shared_dir
from .onnx_export import INPUT_NAME, SegmentationExport
from .model_source import load_checkpoint, model_from_checkpoint, untrained_model

def camvid_dir() -> Path:
    return shared_dir() / "data" / "camvid"


def load_frames(count: int, height: int, width: int, split: str = "val") -> np.ndarray:
    """The first `count` images of a CamVid split (sorted by name) as uint8 RGB [N, H, W, 3]."""
    folder = camvid_dir() / split / "images"
    files = sorted(p for p in folder.glob("*") if p.suffix.lower() in (".jpg", ".jpeg", ".png"))
    if len(files) < count:
        raise ValueError(f"{folder}: need {count} images, found {len(files)}")
    frames = np.empty((count, height, width, 3), dtype=np.uint8)
    for i, f in enumerate(files[:count]):
        img = Image.open(f).convert("RGB")
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        frames[i] = np.asarray(img)
    return frames


def mask_agreement(onnx_path: str | Path, model: nn.Module, frames: np.ndarray, batch: int = 2) -> float:
    """Fraction of pixels whose class agrees between ONNX Runtime (CPU) and PyTorch on `frames`."""
    if frames.dtype != np.uint8 or frames.ndim != 4 or frames.shape[3] != 3:
        raise ValueError(f"frames must be uint8 [N, H, W, 3], got {frames.dtype} {frames.shape}")
    options = ort.SessionOptions()
    options.intra_op_num_threads = min(2, os.cpu_count() or 1)
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    reference = SegmentationExport(model, frames.shape[1], frames.shape[2]).eval()
    agree = 0
    for start in range(0, len(frames), batch):
        chunk = frames[start:start + batch]
        got = session.run(None, {INPUT_NAME: chunk})[0]
        with torch.no_grad():
            want = reference(torch.from_numpy(chunk)).numpy()
        agree += int((got == want).sum())
    return agree / frames[..., 0].size


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train.export.parity", description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", required=True, type=Path)
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--checkpoint", type=Path)
    src.add_argument("--untrained", action="store_true", help="compare against the seeded random init")
    ap.add_argument("--arch", default="sctnet-s")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classes", type=Path, default=None, help="classes file (default: CamVid's)")
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--height", type=int, default=360)
    ap.add_argument("--width", type=int, default=480)
    args = ap.parse_args(argv)
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    if args.untrained:
        num_classes = len(load_classes_json(args.classes or camvid_dir() / "classes.json").classes)
        model = untrained_model(args.arch, num_classes, args.seed)
    else:
        model, _ = model_from_checkpoint(load_checkpoint(args.checkpoint), str(args.checkpoint))
    frac = mask_agreement(args.onnx, model, load_frames(args.frames, args.height, args.width))
    print(f"parity {args.onnx}: {frac:.6f} of pixels agree on {args.frames} val frames")
    return 0 if frac >= 0.999 else 1


if __name__ == "__main__":
    raise SystemExit(main())
