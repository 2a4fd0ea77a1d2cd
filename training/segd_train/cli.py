"""`python -m segd_train <command>`: train-teacher, train-student, train-baseline, eval, fps, profile, models, report,
export, import, quantize.

Run `python -m segd_train <command> --help` for each command's options; training/README.md lists recipes.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from .data import DeviceSplit, build_dataset
from .data.paths import REPO_ROOT
from .engine import checkpoint
from .engine.config import ConfigError, load_config
from .engine.device import resolve_device
from .engine.evaluate import evaluate, save_confusion_png
from .engine.fps import measure_fps
from .engine.profile import profile_model
from .engine.report import markdown, summarise
from .engine.runner import RunOptions, run_training
from .models import MODEL_NAMES, STUDENTS, TEACHERS, build_model

TRAIN_COMMANDS = {"train-teacher": "teacher", "train-student": "student", "train-baseline": "baseline"}


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected HxW such as 360x480, got {text!r}") from None
    if h < 1 or w < 1:
        raise argparse.ArgumentTypeError(f"size must be positive, got {text!r}")
    return h, w


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", default="auto", help="auto | cpu | cuda[:N] (default auto)")
    p.add_argument("--threads", type=int, default=None, help="CPU threads (torch.set_num_threads)")


def _train_parser(sub: argparse._SubParsersAction, name: str, task: str) -> None:
    p = sub.add_parser(name, help=f"train a {task} model from a YAML recipe")
    p.add_argument("--config", type=Path, required=True, help="training/configs/<recipe>.yaml")
    if task == "student":
        p.add_argument("--teacher", type=Path, default=None,
                       help="teacher checkpoint (from train-teacher); optional when resuming")
    p.add_argument("--out", type=Path, default=None, help="run directory (default training/runs/<config name>)")
    p.add_argument("--resume", nargs="?", const="auto", default=None, metavar="CKPT",
                   help="continue from CKPT, or from <out>/last.pt when given without a path")
    p.add_argument("--max-minutes", type=float, default=None,
                   help="stop cleanly (checkpoint + validation) before this much wall time has passed")
    p.add_argument("--stop-at-step", type=int, default=None, help="stop cleanly after this many steps")
    p.add_argument("--no-progress", action="store_true", help="no tqdm progress bars")
    _common(p)


def build_parser() -> argparse.ArgumentParser:
    # The docstring's whole first paragraph: its first line alone stops mid-list.
    ap = argparse.ArgumentParser(prog="python -m segd_train", description=" ".join(__doc__.split("\n\n")[0].split()))
    sub = ap.add_subparsers(dest="command", required=True)
    for name, task in TRAIN_COMMANDS.items():
        _train_parser(sub, name, task)

    e = sub.add_parser("eval", help="evaluate a checkpoint (mIoU, per-class IoU, confusion PNG)")
    e.add_argument("--checkpoint", type=Path, required=True)
    e.add_argument("--split", default="val")
    e.add_argument("--data-root", default=None, help="override the checkpoint config's data_root")
    e.add_argument("--limit", type=int, default=None, help="evaluate only the first N images")
    e.add_argument("--batch-size", type=int, default=4)
    e.add_argument("--out", type=Path, default=None, help="where eval-<split>.json/png go (default: beside the checkpoint)")
    _common(e)

    f = sub.add_parser("fps", help="inference speed, the paper's way (batch 1, calibrated timed loop)")
    f.add_argument("--model", required=True, choices=MODEL_NAMES)
    f.add_argument("--size", type=_size, required=True, help="HxW, e.g. 360x480")
    f.add_argument("--num-classes", type=int, default=11)
    f.add_argument("--batch", type=int, default=1)
    f.add_argument("--fp16", action="store_true", help="half precision (CUDA only)")
    f.add_argument("--compile", action="store_true", help="torch.compile the inference graph")
    f.add_argument("--start-iterations", type=int, default=100, help="calibration starts here and doubles")
    f.add_argument("--run-factor", type=float, default=6.0, help="timed run ≈ 2×this many seconds (reference: 6)")
    f.add_argument("--out", type=Path, default=None, help="also write the result as JSON here")
    _common(f)

    pr = sub.add_parser("profile", help="parameters (inference, training) and GFLOPs of one forward(): one JSON line")
    pr.add_argument("--model", required=True, choices=MODEL_NAMES)
    pr.add_argument("--size", type=_size, default=(360, 480), help="HxW (default 360x480, CamVid's 480×360)")
    pr.add_argument("--num-classes", type=int, default=11)

    sub.add_parser("models", help="the registered model names as one JSON line: all, students, teachers")

    rp = sub.add_parser("report", help="markdown tables (best val, per-class IoU, images, wall time) of run dirs")
    rp.add_argument("runs", type=Path, nargs="+", help="run directories (training/runs/<name>)")

    sub.add_parser("export", help="ONNX + model card; arguments go to `python -m segd_train.export` (see its --help)",
                   add_help=False)
    sub.add_parser("import", help="official checkpoint (SCTNet, SegFormer) → ONNX + card; arguments go to "
                   "`segd_train.importers.cli` (see its --help)", add_help=False)
    sub.add_parser("quantize", help="static int8 (QDQ) model + card from an exported one; arguments go to "
                   "`python -m segd_train.export.quantize`", add_help=False)
    sub.add_parser("fp16", help="float16 model (uint8 I/O kept) + card from an exported one; arguments go to "
                   "`python -m segd_train.export.half`", add_help=False)
    return ap


def _train(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    want = TRAIN_COMMANDS[args.command]
    if cfg.task != want:
        raise ConfigError(f"{args.config}: recipe task is '{cfg.task}' but `{args.command}` trains '{want}'")
    if args.threads:
        cfg = cfg.replace(num_threads=args.threads)
    out = args.out or REPO_ROOT / "training" / "runs" / cfg.name
    resume: Path | None = None
    if args.resume == "auto":
        if (out / "last.pt").is_file():
            resume = out / "last.pt"
        else:
            print(f"--resume: no {out / 'last.pt'} yet; starting fresh", flush=True)
    elif args.resume is not None:
        resume = Path(args.resume)
    elif (out / "last.pt").is_file():
        raise SystemExit(f"{out} already holds a run (last.pt); pass --resume to continue it or choose another --out")
    opts = RunOptions(out_dir=out, device=resolve_device(args.device), resume=resume,
                      teacher_checkpoint=getattr(args, "teacher", None), max_minutes=args.max_minutes,
                      stop_at_step=args.stop_at_step, progress=not args.no_progress)
    run_training(cfg, opts)
    return 0


def _eval(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    ckpt = checkpoint.read(args.checkpoint)
    cfg = ckpt["config"]
    ds = build_dataset(cfg["dataset"], args.data_root or cfg["data_root"], args.split).subset(args.limit)
    model, _ = checkpoint.rebuild_model(ckpt, args.checkpoint, num_classes=ds.num_classes)
    model.to(device)
    res = evaluate(model, DeviceSplit.load(ds, device), ds.num_classes, batch_size=args.batch_size,
                   amp=cfg.get("amp", "none") if device.type == "cuda" else "none", progress=True)
    out = args.out or args.checkpoint.parent
    out.mkdir(parents=True, exist_ok=True)
    doc = {"split": args.split, "images": len(ds), "checkpoint": str(args.checkpoint), "step": ckpt.get("step"),
           "model": cfg["model"], **res.as_dict(ds.class_names)}
    stem = f"eval-{args.checkpoint.stem}-{args.split}"
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2))
    save_confusion_png(res.confusion, ds.class_names, out / f"{stem}-confusion.png",
                       f"{cfg['model']} {args.split} mIoU {res.miou:.4f}")
    print(json.dumps(doc, indent=2))
    print(f"wrote {out / (stem + '.json')} and {out / (stem + '-confusion.png')}")
    return 0


def _fps(args: argparse.Namespace) -> int:
    device = resolve_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    model = build_model(args.model, num_classes=args.num_classes)
    res = measure_fps(model, args.size, device, batch=args.batch, fp16=args.fp16, compile=args.compile,
                      start_iterations=args.start_iterations, run_factor=args.run_factor)
    doc = {"model": args.model, "num_classes": args.num_classes, **res.as_dict()}
    print(json.dumps(doc, indent=2))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(doc, indent=2))
    return 0


def _profile(args: argparse.Namespace) -> int:
    torch.set_num_threads(min(2, torch.get_num_threads()))   # counting, not timing: stay off the shared cores
    model = build_model(args.model, num_classes=args.num_classes)
    print(json.dumps(profile_model(args.model, model, args.size).as_dict()))
    return 0


def _models() -> int:
    # Students are what the daemon serves; teachers exist only to guide them through SIAM.
    print(json.dumps({"models": list(MODEL_NAMES), "students": list(STUDENTS), "teachers": list(TEACHERS)}))
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "export":
        from .export.__main__ import main as export_main   # the models helper owns the exporter's options
        return export_main(argv[1:])
    if argv and argv[0] == "import":
        from .importers.cli import main as import_main
        return import_main(argv[1:])
    if argv and argv[0] == "quantize":
        from .export.quantize import main as quantize_main
        return quantize_main(argv[1:])
    if argv and argv[0] == "fp16":
        from .export.half import main as half_main
        return half_main(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command in TRAIN_COMMANDS:
            return _train(args)
        if args.command == "eval":
            return _eval(args)
        if args.command == "profile":
            return _profile(args)
        if args.command == "models":
            return _models()
        if args.command == "report":
            print(markdown([summarise(d) for d in args.runs]), end="")
            return 0
        return _fps(args)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
