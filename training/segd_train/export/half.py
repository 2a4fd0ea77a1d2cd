"""Half-precision (fp16) variant of an exported model, under the same model contract (uint8 NHWC in, uint8 mask out).

  python -m segd_train.export.half --onnx models/sctnet-s-camvid.onnx [--out PATH] [--agreement-frames 16]
  (or: python -m segd_train fp16 --onnx ...)

Weights and activations become float16 with onnxruntime's own converter (`onnxruntime.transformers.float16`,
shipped in the onnxruntime wheel: no extra dependency). The graph's uint8 input and output stay uint8: the
uint8→float cast at the input now casts to float16, and the argmax's cast back to uint8 is unchanged, so the
daemon loads it like any contract model. This is how TensorRT or CUDA run segd in half precision through
onnxruntime-node, which gives the TensorRT provider no fp16 switch (docs/running.md, "TensorRT"). The new card is
the fp32 card with its own file, hash and a `precision` block (format, tool, agreement with fp32 on val frames).
"""
from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

import onnx

from .card import sha256_file
from .parity import load_frames
from .quantize import _session, mask_agreement_onnx

TOOL = "onnxruntime.transformers.float16.convert_float_to_float16 (keep_io_types)"


def half_onnx(fp32: str | Path, out: str | Path) -> Path:
    """Write the float16 model of `fp32` to `out`; graph inputs and outputs keep their types (uint8 here)."""
    from onnxruntime.transformers.float16 import convert_float_to_float16

    model = convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True)
    onnx.checker.check_model(model)
    out = Path(out)
    onnx.save(model, str(out))
    return out


def write_fp16_card(fp32_onnx: Path, fp16_onnx: Path, *, agreement: float, frames: int) -> Path:
    card = json.loads(fp32_onnx.with_suffix(".json").read_text())
    source = card["name"]
    card["name"] = fp16_onnx.stem
    card["onnx"] = {**card["onnx"], "file": fp16_onnx.name, "sha256": sha256_file(fp16_onnx)}
    card["precision"] = {"format": "float16", "tool": TOOL, "io": "uint8 in, uint8 out (unchanged)", "source": fp32_onnx.name,
                         "val_frames": frames, "val_pixel_agreement_with_fp32": round(agreement, 6)}
    card["training"] = {**card["training"], "summary": f"{card['training']['summary']}; then converted to float16 "
                        f"weights and activations (uint8 I/O kept) from {source}"}
    path = fp16_onnx.with_suffix(".json")
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train.export.half", description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", required=True, type=Path, help="fp32 model exported by segd_train (card beside it)")
    ap.add_argument("--out", type=Path, default=None, help="fp16 model path (default <stem>-fp16.onnx beside it)")
    ap.add_argument("--agreement-frames", type=int, default=16, help="val frames for the fp16-vs-fp32 check")
    args = ap.parse_args(argv)
    if not args.onnx.with_suffix(".json").is_file():
        raise SystemExit(f"{args.onnx}: no model card beside it ({args.onnx.with_suffix('.json').name})")
    threads = min(2, os.cpu_count() or 1)
    shape = _session(args.onnx, threads).get_inputs()[0].shape
    height, width = int(shape[1]), int(shape[2])
    out = args.out or args.onnx.with_name(f"{args.onnx.stem}-fp16.onnx")
    half_onnx(args.onnx, out)
    agreement = mask_agreement_onnx(args.onnx, out, load_frames(args.agreement_frames, height, width), threads)
    card = write_fp16_card(args.onnx, out, agreement=agreement, frames=args.agreement_frames)
    print(json.dumps({"fp16": str(out), "card": str(card), "agreement_with_fp32": agreement}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
