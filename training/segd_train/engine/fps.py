"""Inference speed the paper's way (architectures.md §1.10, the PIDNet/FasterSeg loop): inference graph
including the final resize, eval, no_grad, batch 1, 10 warm-ups, calibrate from `start_iterations` doubling
until a run takes ≥ `min_seconds`, then a timed run of int(run_factor · estimate) iterations between CUDA
synchronises. As in the reference, the estimate is taken after one extra doubling (so ≈ 2·run_factor s)."""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ..models.interface import align_corners_of


class InferenceGraph(nn.Module):
    """Model logits resized bilinear (the model's align_corners) to the input size — what deployment runs."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        self.align_corners = align_corners_of(model)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.model(x), size=x.shape[-2:], mode="bilinear", align_corners=self.align_corners)


@dataclass(frozen=True)
class FpsResult:
    fps: float
    latency_ms: float
    iterations: int
    seconds: float
    device: str
    dtype: str
    size: tuple[int, int]
    batch: int
    compiled: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


@torch.no_grad()
def measure_fps(model: nn.Module, size: tuple[int, int], device: torch.device, *, batch: int = 1,
                fp16: bool = False, compile: bool = False, warmup: int = 10, start_iterations: int = 100,
                min_seconds: float = 1.0, run_factor: float = 6.0) -> FpsResult:
    if fp16 and device.type != "cuda":
        raise ValueError("fp16 timing needs a CUDA device")
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    dtype = torch.float16 if fp16 else torch.float32
    graph = InferenceGraph(model).to(device=device, dtype=dtype).eval()
    run = torch.compile(graph) if compile else graph
    x = torch.randn(batch, 3, size[0], size[1], device=device, dtype=dtype)
    for _ in range(warmup):
        run(x)
    iterations, elapsed = start_iterations, 0.0
    while elapsed < min_seconds:
        _sync(device)
        t0 = time.perf_counter()
        for _ in range(iterations):
            run(x)
        _sync(device)
        elapsed = time.perf_counter() - t0
        iterations *= 2
    iterations = max(1, int(iterations / elapsed * run_factor))
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(iterations):
        run(x)
    _sync(device)
    seconds = time.perf_counter() - t0
    latency_ms = seconds / iterations * 1000.0
    return FpsResult(fps=1000.0 / latency_ms * batch, latency_ms=latency_ms, iterations=iterations,
                     seconds=seconds, device=str(device), dtype=str(dtype).replace("torch.", ""),
                     size=size, batch=batch, compiled=compile)
