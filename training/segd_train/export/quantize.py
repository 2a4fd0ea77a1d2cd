"""Static int8 quantisation of an exported model, under the same model contract (uint8 NHWC in, uint8 mask out).

  python -m segd_train.export.quantize --onnx models/sctnet-s-camvid.onnx [--calibration-frames 64]

ONNX Runtime's `quantize_static` in QDQ form: every Conv gets int8 per-channel weights and uint8 activations
(asymmetric), calibrated by MinMax on frames spread evenly over the card's *train* split (never the evaluation
split). Convolutions are quantised together with the Clip/Relu right after them: ORT then gives the convolution's
output the activation's range and drops the activation (uint8 saturation clips), instead of a DequantizeLinear →
QuantizeLinear requantisation around every activation, which took 30 % of an EfficientNet-Lite0 student's CPU time
(training/RESULTS.md). Everything else (the uint8→float normalisation, adds, the logits resize, the argmax) stays
float as exported: quantising the adds too cut an EfficientNet-Lite0 student's agreement with fp32 from 99 % to
85 %. The graph keeps its input, output and card contract. The new card is the fp32 card with its own
file, hash, a `quantization` block (scheme, calibration, agreement with fp32) and — unless --no-eval — its own
metrics on the card's evaluation split, measured here with ONNX Runtime on every image of it.

The first convolution always stays float: with 3 input channels int8 saves little there, and quantising it made
ORT run the input normalisation channels-last (SCTNet-S: 100–112 → 71–78 ms a batch of 2 with it float, one
thread). Some models lose more than others, so further leading convolutions are kept float step by step
(1, 2, 6, 12, 25) until the masks agree with fp32 on at least --target-agreement of the evaluation frames
checked; the card records how many stayed float. (Under the Conv-only scheme an EfficientNet-Lite front needed
2–6; with its Clips folded it agrees on 99 % even quantised whole.)

A small dataset is fine: with fewer train or val images than asked for, all of them are used (the card records
how many); images of another size than the model's input are resized to it. Nothing is written unless every step
succeeds: the model and card are built under temporary names and renamed into place at the end.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
from PIL import Image

from ..data import build_dataset
from ..engine.evaluate import iou_from_confusion
from .card import sha256_file
from .onnx_export import INPUT_NAME
from .parity import dataset_images

#: Quantised op types: convolutions and the activations ORT folds into their output quantisation.
OPS = ["Conv", "Clip", "Relu"]
SCHEME = {"format": "QDQ", "ops": OPS, "weights": "int8 per-channel symmetric",
          "activations": "uint8 per-tensor asymmetric", "calibration_method": "MinMax", "tool": "onnxruntime"}


def split_frames(count: int, height: int, width: int, *, dataset: str = "camvid", data_root: str = "data/camvid",
                 split: str = "train") -> np.ndarray:
    """Up to `count` images spread evenly over a split (in its sorted order), uint8 RGB [N, H, W, 3], resized to
    H×W; a split with fewer images gives all it has."""
    return dataset_images(count, height, width, dataset=dataset, data_root=data_root, split=split, spread=True)


def _session(path: str | Path, threads: int) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


#: How many leading convolutions stay float, tried in this order until the agreement target is met (never 0:
#: the first one stays float for speed, see above).
FLOAT_LEADING_STEPS = (1, 2, 6, 12, 25)


def quantize_onnx(fp32: str | Path, out: str | Path, calibration: np.ndarray, float_leading: int = 0) -> Path:
    """Write the QDQ int8 model of `fp32` to `out`, calibrated on `calibration` (uint8 [N, H, W, 3]); the first
    `float_leading` convolutions (graph order) stay float."""
    import onnx
    from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                          quantize_static)
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Frames(CalibrationDataReader):
        def __init__(self) -> None:
            self.i = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.i >= len(calibration):
                return None
            self.i += 1
            return {INPUT_NAME: calibration[self.i - 1:self.i]}

    out = Path(out)
    with tempfile.TemporaryDirectory() as tmp:
        pre = Path(tmp) / "pre.onnx"   # shape inference + graph clean-up, as ORT recommends before quantising
        quant_pre_process(str(fp32), str(pre))
        convs = [n.name for n in onnx.load(str(pre)).graph.node if n.op_type == "Conv"]
        quantize_static(str(pre), str(out), Frames(), quant_format=QuantFormat.QDQ, per_channel=True,
                        activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=OPS,
                        calibrate_method=CalibrationMethod.MinMax, nodes_to_exclude=convs[:float_leading])
    return out


def mask_agreement_onnx(a: str | Path, b: str | Path, frames: np.ndarray, threads: int = 2) -> float:
    """Fraction of pixels on which two models of the same contract give the same class."""
    sa, sb = _session(a, threads), _session(b, threads)
    same = sum(int((sa.run(None, {INPUT_NAME: frames[i:i + 1]})[0] == sb.run(None, {INPUT_NAME: frames[i:i + 1]})[0]).sum())
               for i in range(len(frames)))
    return same / frames[..., 0].size


def evaluate_onnx(path: str | Path, *, dataset: str = "camvid", data_root: str = "data/camvid", split: str = "val",
                  threads: int = 2) -> dict[str, Any]:
    """mIoU, per-class IoU and pixel accuracy of an exported model on a whole split (images at the model's H×W),
    with ONNX Runtime."""
    ds = build_dataset(dataset, data_root, split)
    session = _session(path, threads)
    shape = session.get_inputs()[0].shape
    height, width = int(shape[1]), int(shape[2])
    k = ds.num_classes
    conf = np.zeros((k, k), dtype=np.int64)
    for i in range(len(ds)):
        image, label = ds.load(i)
        if image.shape[:2] != (height, width):   # scored at the model's input size, as the daemon feeds it
            image = np.asarray(Image.fromarray(image).resize((width, height), Image.Resampling.BILINEAR))
            label = np.asarray(Image.fromarray(label).resize((width, height), Image.Resampling.NEAREST))
        pred = session.run(None, {INPUT_NAME: image[None]})[0][0]
        keep = label < k
        conf += np.bincount(label[keep].astype(np.int64) * k + pred[keep], minlength=k * k).reshape(k, k)
    per_class, miou, acc = iou_from_confusion(conf)
    return {"split": split, "images": len(ds), "miou": miou, "pixel_accuracy": acc,
            "per_class_iou": {n: (None if np.isnan(v) else v) for n, v in zip(ds.class_names, per_class)}}


def write_int8_card(fp32_onnx: Path, int8_onnx: Path, *, calibration_count: int, calibration_dataset: str,
                    agreement: float, metrics: dict[str, Any] | None, card_path: Path | None = None,
                    float_leading: int = 0, calibration_split: str = "train", agreement_split: str = "val",
                    agreement_frames: int | None = None) -> Path:
    """The int8 card beside `int8_onnx` (or at `card_path`), describing the file `int8_onnx` as it is named."""
    card = json.loads(fp32_onnx.with_suffix(".json").read_text())
    source = card["name"]
    card["name"] = int8_onnx.stem
    card["onnx"] = {**card["onnx"], "file": int8_onnx.name, "sha256": sha256_file(int8_onnx)}
    card["quantization"] = {**SCHEME, "source": fp32_onnx.name,
                            "calibration": {"dataset": calibration_dataset, "split": calibration_split,
                                            "frames": calibration_count},
                            "float_leading_convs": float_leading,
                            "val_pixel_agreement_with_fp32": round(agreement, 6),
                            "agreement": {"split": agreement_split, "frames": agreement_frames}}
    if metrics is not None:
        card["metrics"] = metrics
    kept = {0: "", 1: ", its first convolution kept float"}.get(
        float_leading, f", its first {float_leading} convolutions kept float")
    card["training"] = {**card["training"], "summary": f"{card['training']['summary']}; then statically quantised "
                        f"to int8 (QDQ, Conv with its Clip/Relu{kept}, MinMax on {calibration_count} {calibration_dataset} "
                        f"{calibration_split} frames) from {source}"}
    path = card_path or int8_onnx.with_suffix(".json")
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train.export.quantize", description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", required=True, type=Path, help="fp32 model exported by segd_train (card beside it)")
    ap.add_argument("--out", type=Path, default=None, help="int8 model path (default <stem>-int8.onnx beside it)")
    ap.add_argument("--dataset", default="camvid", help="dataset layout of the calibration/eval data (camvid, "
                    "cityscapes, folder)")
    ap.add_argument("--data-root", default="data/camvid", help="its root; relative roots resolve against $SEGD_SHARED")
    ap.add_argument("--calibration-frames", type=int, default=64, help="train frames, spread evenly over the split")
    ap.add_argument("--agreement-frames", type=int, default=16,
                    help="evaluation-split frames for the int8-vs-fp32 check")
    ap.add_argument("--target-agreement", type=float, default=0.97,
                    help="keep leading convolutions float until int8 masks agree with fp32 on this fraction of pixels")
    ap.add_argument("--no-eval", action="store_true",
                    help="skip the whole evaluation-split mIoU (the card keeps fp32's)")
    args = ap.parse_args(argv)
    try:
        return _quantize(args)
    except (ValueError, FileNotFoundError, OSError, ort.capi.onnxruntime_pybind11_state.Fail) as err:
        # DatasetError is a ValueError; ONNX Runtime refuses a file that is not a model with Fail.
        print(f"error: {err}", file=sys.stderr)
        return 2


def _quantize(args: argparse.Namespace) -> int:
    threads = min(2, os.cpu_count() or 1)
    if not args.onnx.with_suffix(".json").is_file():
        raise SystemExit(f"{args.onnx}: no model card beside it ({args.onnx.with_suffix('.json').name})")
    for flag, n in (("--calibration-frames", args.calibration_frames), ("--agreement-frames", args.agreement_frames)):
        if n < 1:
            raise ValueError(f"{flag} must be at least 1, got {n}")
    shape = _session(args.onnx, threads).get_inputs()[0].shape
    height, width = int(shape[1]), int(shape[2])
    out = args.out or args.onnx.with_name(f"{args.onnx.stem}-int8.onnx")
    card_out = out.with_suffix(".json")
    if not 0.0 < args.target_agreement <= 1.0:
        raise ValueError(f"--target-agreement must be a fraction in (0, 1], got {args.target_agreement}")
    data = {"dataset": args.dataset, "data_root": args.data_root}
    # The splits the model was trained and selected on (a cross-sequence model: xseq-train / xseq-val).
    splits = json.loads(args.onnx.with_suffix(".json").read_text())["dataset"]
    train_split, eval_split = splits.get("train_split", "train"), splits.get("eval_split", "val")
    calibration = split_frames(args.calibration_frames, height, width, split=train_split, **data)
    check = split_frames(args.agreement_frames, height, width, split=eval_split, **data)
    for what, asked, got in ((f"{train_split} (calibration)", args.calibration_frames, len(calibration)),
                             (f"{eval_split} (agreement)", args.agreement_frames, len(check))):
        if got < asked:
            print(f"note: {what}: the split has {got} images, using all of them instead of {asked}", file=sys.stderr)
    out.parent.mkdir(parents=True, exist_ok=True)
    # Built under temporary names beside the destination, renamed into place only once everything succeeded.
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=f".{out.stem}-") as tmp:
        best: tuple[float, int, Path] | None = None
        for k in FLOAT_LEADING_STEPS:
            candidate = Path(tmp) / f"float{k}" / out.name
            candidate.parent.mkdir()
            quantize_onnx(args.onnx, candidate, calibration, float_leading=k)
            agreement = mask_agreement_onnx(args.onnx, candidate, check, threads)
            print(f"int8 with the first {k} convolutions float: {agreement:.4f} of {eval_split} pixels agree "
                  f"with fp32", file=sys.stderr)
            if best is None or agreement > best[0]:
                best = (agreement, k, candidate)
            if agreement >= args.target_agreement:
                break
        assert best is not None
        agreement, k, tmp_onnx = best
        if agreement < args.target_agreement:
            print(f"warning: no step reached --target-agreement {args.target_agreement}; keeping the best "
                  f"({agreement:.4f}, first {k} convolutions float)", file=sys.stderr)
        metrics = None if args.no_eval else evaluate_onnx(tmp_onnx, split=eval_split, threads=threads, **data)
        name = splits["name"]
        tmp_card = write_int8_card(args.onnx, tmp_onnx, calibration_count=len(calibration), calibration_dataset=name,
                                   agreement=agreement, metrics=metrics, float_leading=k,
                                   calibration_split=train_split, agreement_split=eval_split,
                                   agreement_frames=len(check))
        os.replace(tmp_onnx, out)
        os.replace(tmp_card, card_out)
    print(json.dumps({"int8": str(out), "card": str(card_out), "agreement_with_fp32": agreement,
                      "float_leading_convs": k, "calibration_frames": len(calibration),
                      "agreement_frames": len(check), "eval_split": eval_split,
                      "eval_miou": None if metrics is None else metrics["miou"]}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
