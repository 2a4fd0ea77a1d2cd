"""Export a segmentation network as the segd ONNX contract (docs/model-contract.md).

The graph takes `frames` uint8 [N, H, W, 3] RGB and returns `mask` uint8 [N, H, W]:
uint8 → NCHW → float → mean/std normalisation → network (inference path, BN folded) → bilinear
resize to H×W with the network's own align_corners (SCTNet False, STDC-Seg and SFNet True; a model
without the attribute: False) → argmax → uint8. N is dynamic, H×W fixed.

Exporter: torch.onnx.export with dynamo=True (torch.export + onnxscript, the default in torch
2.11; the TorchScript path is deprecated). It translates at opset 18 and converts down to 17
(which works because SCTNet's global pool is an AveragePool, not an opset-18 ReduceMean).
BN is folded before export (fuse.py); ConvAttn's Kvᵀ/Khᵀ transposes are folded into
initializers afterwards (the exporter's optimiser skips constants that large). The result is
checked: opset ≥ 17, no BatchNormalization node, every padded AveragePool has
count_include_pad=1, input/output names, dtypes and shapes as the contract says.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import torch
import torch.nn.functional as F
from onnx import numpy_helper
from torch import nn

from ..data.normalize import MEAN, STD   # the same numbers training normalises with
from ..models.interface import align_corners_of
from .fuse import fold_batchnorm

OPSET = 17
INPUT_NAME = "frames"
OUTPUT_NAME = "mask"
MAX_BATCH = 64


class SegmentationExport(nn.Module):
    """uint8 NHWC frames → uint8 NHW class mask, around a network that maps N×3×h×w → N×K×h'×w'."""

    def __init__(self, net: nn.Module, height: int, width: int) -> None:
        super().__init__()
        if height < 32 or width < 32:
            raise ValueError(f"export size must be at least 32×32, got {height}×{width}")
        self.net = net
        self.height = height
        self.width = width
        self.align_corners = align_corners_of(net)   # a decision at construction, baked into the graph
        self.register_buffer("mean", torch.tensor(MEAN).reshape(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(STD).reshape(1, 3, 1, 1))

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        # Channels first before normalising: ONNX Runtime's CPU Sub/Div broadcast a [1,1,1,3] operand over NHWC
        # ~18× slower than a [1,3,1,1] one over NCHW (13.5 vs 0.7 ms per batch of two 360×480 frames, 1 thread).
        x = (frames.permute(0, 3, 1, 2).float() - self.mean) / self.std
        logits = F.interpolate(self.net(x), size=(self.height, self.width), mode="bilinear",
                               align_corners=self.align_corners)
        return logits.argmax(dim=1).to(torch.uint8)


def export_onnx(model: nn.Module, path: str | Path, height: int, width: int) -> Path:
    """Write `model` (its `forward` = inference path) to `path` per the model contract; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = SegmentationExport(fold_batchnorm(model), height, width).eval()
    # N=2 example so torch.export does not specialise the batch axis to 1.
    example = torch.zeros(2, height, width, 3, dtype=torch.uint8)
    batch = torch.export.Dim("N", min=1, max=MAX_BATCH)
    with torch.no_grad():
        program = torch.onnx.export(
            wrapper, (example,), dynamo=True, opset_version=OPSET,
            input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
            dynamic_shapes={"frames": {0: batch}}, optimize=True, verbose=False)
    if program is None:
        raise RuntimeError("torch.onnx.export returned no program")
    graph = fold_initializer_transposes(program.model_proto)
    check_graph(graph, height, width)
    onnx.save_model(graph, str(path))
    return path


def fold_initializer_transposes(model: onnx.ModelProto) -> onnx.ModelProto:
    """Replace each Transpose of an initializer by a transposed initializer (ConvAttn's Kvᵀ/Khᵀ).

    The exporter's optimiser leaves them because they exceed its constant-folding size limit."""
    inits = {t.name: t for t in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        if node.op_type == "Transpose" and node.input[0] in inits:
            perm = next((list(onnx.helper.get_attribute_value(a)) for a in node.attribute if a.name == "perm"), None)
            value = numpy_helper.to_array(inits[node.input[0]])
            model.graph.initializer.append(
                numpy_helper.from_array(np.ascontiguousarray(value.transpose(perm)), node.output[0]))
        else:
            keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def graph_opset(model: onnx.ModelProto) -> int:
    """The default-domain opset the graph declares (18 when the exporter could not convert down to OPSET)."""
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def check_graph(model: onnx.ModelProto, height: int, width: int) -> None:
    """Raise ValueError naming what breaks the contract in an exported graph."""
    onnx.checker.check_model(model)
    problems = []
    opset = graph_opset(model)
    if opset < OPSET:
        problems.append(f"opset {opset} < {OPSET}")
    ops = [n.op_type for n in model.graph.node]
    if "BatchNormalization" in ops:
        problems.append(f"{ops.count('BatchNormalization')} BatchNormalization node(s) left unfolded")
    for node in model.graph.node:
        if node.op_type == "AveragePool":
            attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
            if any(attrs.get("pads", [])) and attrs.get("count_include_pad", 0) != 1:
                problems.append(f"AveragePool {node.name} pads {attrs.get('pads')} without count_include_pad=1")
    problems += _check_io(model.graph.input, INPUT_NAME, onnx.TensorProto.UINT8, ["N", height, width, 3])
    problems += _check_io(model.graph.output, OUTPUT_NAME, onnx.TensorProto.UINT8, ["N", height, width])
    if problems:
        raise ValueError("exported graph breaks the model contract: " + "; ".join(problems))


def _check_io(values: object, name: str, dtype: int, shape: list[object]) -> list[str]:
    entries = list(values)  # type: ignore[call-overload]
    if len(entries) != 1 or entries[0].name != name:
        return [f"expected exactly one {name!r}, got {[v.name for v in entries]}"]
    t = entries[0].type.tensor_type
    dims: list[object] = [d.dim_value if d.HasField("dim_value") else "N" for d in t.shape.dim]
    problems = []
    if t.elem_type != dtype:
        problems.append(f"{name} dtype {onnx.TensorProto.DataType.Name(t.elem_type)}, expected "
                        f"{onnx.TensorProto.DataType.Name(dtype)}")
    if dims != shape:
        problems.append(f"{name} shape {dims}, expected {shape}")
    return problems
