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

from ..data import build_dataset
from ..data.classes import load_classes_json
from ..data.paths import shared_dir
from .onnx_export import INPUT_NAME, SegmentationExport
from .model_source import load_checkpoint, model_from_checkpoint, untrained_model

def camvid_dir() -> Path:
    return shared_dir() / "data" / "camvid"


def dataset_images(count: int, height: int, width: int, *, dataset: str = "camvid", data_root: str = "data/camvid",
                   split: str = "val", spread: bool = False) -> np.ndarray:
    """Up to `count` images of a dataset split (layouts: camvid, cityscapes, folder) as uint8 RGB [N, H, W, 3],
    resized to H×W: the first ones in sorted order, or spread evenly over the split. A split with fewer images
    gives all it has (N < count); an empty or missing split raises an error naming the folder."""
    if count < 1:
        raise ValueError(f"asked for {count} frames; need at least 1")
    ds = build_dataset(dataset, data_root, split)
    n = min(count, len(ds))
    picks = [round(i * (len(ds) - 1) / max(n - 1, 1)) for i in range(n)] if spread else list(range(n))
    frames = np.empty((n, height, width, 3), dtype=np.uint8)
    for i, k in enumerate(picks):
        img = Image.open(ds.items[k].image).convert("RGB")
        if img.size != (width, height):
            img = img.resize((width, height), Image.Resampling.BILINEAR)
        frames[i] = np.asarray(img)
    return frames


def load_frames(count: int, height: int, width: int, split: str = "val") -> np.ndarray:
    """The first `count` images of a CamVid split (sorted by name) as uint8 RGB [N, H, W, 3]."""
    frames = dataset_images(count, height, width, split=split)
    if len(frames) < count:
        raise ValueError(f"{camvid_dir() / split / 'images'}: need {count} images, found {len(frames)}")
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
