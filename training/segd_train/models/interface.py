"""Reading the model interface (training/README.md "Model interface") off any segmentation network.

Every consumer (loss, evaluation, export, fps, SIAM, optimizer) asks through these functions, so a model
that leaves an optional attribute out gets one documented default instead of a per-call-site guess.
"""
from __future__ import annotations

from torch import nn

DISTILL_TAPS = ("x_out", "x3", "x5")


def align_corners_of(model: nn.Module) -> bool:
    """How the model's logits are resized to input/label size; models without the attribute resize half-pixel."""
    return bool(getattr(model, "align_corners", False))


def distill_channels_of(model: nn.Module) -> dict[str, int]:
    """Channels of the SIAM taps {"x_out", "x3", "x5"}; a model without them cannot be a SIAM student."""
    channels = getattr(model, "distill_channels", None)
    if not isinstance(channels, dict) or any(not isinstance(channels.get(k), int) for k in DISTILL_TAPS):
        raise ValueError(f"{type(model).__name__} cannot be a SIAM student: it needs distill_channels with integer "
                         f"{list(DISTILL_TAPS)} (got {channels!r})")
    return {k: channels[k] for k in DISTILL_TAPS}


def head_prefixes_of(model: nn.Module) -> tuple[str, ...] | None:
    """Parameter-name prefixes that get the head learning rate, or None for mmcv's substring rule ("head" anywhere
    in the name), which SCTNet and SegFormer use."""
    prefixes = getattr(model, "head_prefixes", None)
    if prefixes is None:
        return None
    if not isinstance(prefixes, tuple) or not all(isinstance(p, str) and p for p in prefixes):
        raise ValueError(f"{type(model).__name__}.head_prefixes must be a tuple of non-empty strings, got {prefixes!r}")
    return prefixes


def inference_parameters_of(model: nn.Module) -> int:
    """Parameters reachable from forward() (training-only heads excluded when the model says how)."""
    count = getattr(model, "inference_parameters", None)
    return int(count()) if callable(count) else sum(p.numel() for p in model.parameters())
