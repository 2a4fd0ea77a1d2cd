"""Model size and compute: parameters (inference path and training) and GFLOPs of one forward().

FLOPs are counted by torch.utils.flop_counter.FlopCounterMode over `model(x)` (the inference graph up to the
logits: no final resize, argmax or normalisation — resizes are not counted by the counter anyway) at batch 1,
eval mode. The counter reports 2 FLOPs per multiply-accumulate, the convention of the papers' GFLOPs.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..models.interface import inference_parameters_of


@dataclass(frozen=True)
class Profile:
    model: str
    params: int           # reachable from forward() (what the ONNX holds)
    train_params: int     # every parameter the model trains (aux and detail heads included)
    gflops: float         # one forward() at batch 1, 2 FLOPs per MAC
    size: tuple[int, int] # H, W

    def as_dict(self) -> dict:
        d = asdict(self)
        d["size"] = list(self.size)
        return d


def count_flops(model: nn.Module, size: tuple[int, int]) -> int:
    """FLOPs of one batch-1 forward() at H×W = `size` (model put in eval mode, no autograd)."""
    model.eval()
    x = torch.zeros(1, 3, size[0], size[1])
    counter = FlopCounterMode(display=False)
    with torch.no_grad(), counter:
        model(x)
    return int(counter.get_total_flops())


def profile_model(name: str, model: nn.Module, size: tuple[int, int]) -> Profile:
    return Profile(model=name, params=inference_parameters_of(model),
                   train_params=sum(p.numel() for p in model.parameters()),
                   gflops=round(count_flops(model, size) / 1e9, 2), size=size)
