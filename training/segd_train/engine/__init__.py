"""Training engine: one step, evaluation, checkpoints, LR schedule, FPS timing, the run loop."""
from .checkpoint import capture_rng, restore_rng
from .checkpoint import load as load_checkpoint
from .checkpoint import read as read_checkpoint
from .checkpoint import save as save_checkpoint
from .config import ConfigError, TrainConfig, config_from_dict, load_config
from .device import resolve_device
from .evaluate import EvalResult, confusion_matrix, evaluate, iou_from_confusion, save_confusion_png
from .fps import FpsResult, InferenceGraph, measure_fps
from .runner import RunOptions, RunResult, run_training
from .schedule import build_optimizer, build_scheduler, param_groups, poly_warmup_factor
from .train import TrainForward, train_one_step

__all__ = [
    "ConfigError", "EvalResult", "FpsResult", "InferenceGraph", "RunOptions", "RunResult",
    "TrainConfig", "TrainForward", "build_optimizer", "build_scheduler", "capture_rng",
    "config_from_dict", "confusion_matrix", "evaluate", "iou_from_confusion", "load_checkpoint", "load_config",
    "measure_fps", "param_groups", "poly_warmup_factor", "read_checkpoint", "resolve_device", "restore_rng",
    "run_training", "save_checkpoint", "save_confusion_png", "train_one_step",
]
