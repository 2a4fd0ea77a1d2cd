"""Move an exported model's input normalisation to channels first, in place of a re-export.

  python -m segd_train.export.channels_first --onnx models/sctnet-s-camvid.onnx [--out PATH] [--agreement-frames 8]

Exports before 2026-12-03 normalised the uint8 NHWC frames before the transpose to NCHW:
Cast → Sub([1,1,1,3] mean) → Div([1,1,1,3] std) → Transpose(0,3,1,2). ONNX Runtime's CPU kernels broadcast a
3-element last axis slowly: 13.5 ms of Sub/Div per batch of two 360×480 frames on one thread, against 0.7 ms for
the same arithmetic over NCHW with [1,3,1,1] operands — 13 % of the SCTNet-S-Lite0 int8 model's time. The
exporter now writes Transpose → Cast → Sub → Div itself (onnx_export.SegmentationExport); this rewrites a file
exported the old way (fp32, int8 or fp16 alike, as the chain is the same) without its checkpoint. Each element
gets the same two float operations as before, so the masks must equal the old file's on every pixel: the tool
checks that on dataset frames and refuses to write otherwise. The card beside the output gets the new sha256.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from .card import sha256_file
from .onnx_export import INPUT_NAME

NHWC_CHANNELS = [1, 1, 1, 3]


def _sole_consumer(graph: onnx.GraphProto, name: str) -> onnx.NodeProto | None:
    users = [n for n in graph.node if name in n.input]
    return users[0] if len(users) == 1 and name not in {o.name for o in graph.output} else None


def _channel_constant(graph: onnx.GraphProto, node: onnx.NodeProto, data_input: str) -> onnx.TensorProto | None:
    """The node's other operand when it is an initializer shaped [1,1,1,3]."""
    other = [i for i in node.input if i != data_input]
    inits = {t.name: t for t in graph.initializer}
    if len(other) != 1 or other[0] not in inits or list(inits[other[0]].dims) != NHWC_CHANNELS:
        return None
    return inits[other[0]]


def nhwc_normalisation(graph: onnx.GraphProto) -> tuple[onnx.NodeProto, ...] | None:
    """(Cast, Sub, Div, Transpose) when the graph normalises before its NHWC → NCHW transpose, else None."""
    cast = _sole_consumer(graph, INPUT_NAME)
    if cast is None or cast.op_type != "Cast":
        return None
    sub = _sole_consumer(graph, cast.output[0])
    if sub is None or sub.op_type != "Sub" or sub.input[0] != cast.output[0] or not _channel_constant(graph, sub, cast.output[0]):
        return None
    div = _sole_consumer(graph, sub.output[0])
    if div is None or div.op_type != "Div" or div.input[0] != sub.output[0] or not _channel_constant(graph, div, sub.output[0]):
        return None
    transpose = _sole_consumer(graph, div.output[0])
    if transpose is None or transpose.op_type != "Transpose":
        return None
    perm = next((list(onnx.helper.get_attribute_value(a)) for a in transpose.attribute if a.name == "perm"), None)
    return (cast, sub, div, transpose) if perm == [0, 3, 1, 2] else None


def channels_first_input(model: onnx.ModelProto) -> bool:
    """Rewrite the old input chain to Transpose → Cast → Sub → Div in place; False when there is none to rewrite."""
    graph = model.graph
    chain = nhwc_normalisation(graph)
    if chain is None:
        return False
    cast, sub, div, transpose = chain
    network_input = transpose.output[0]
    nchw = f"{INPUT_NAME}_nchw"
    transpose.input[0], transpose.output[0] = INPUT_NAME, nchw
    cast.input[0] = nchw
    div.output[0] = network_input
    for node, data in ((sub, cast.output[0]), (div, sub.output[0])):
        const = _channel_constant(graph, node, data)
        assert const is not None   # nhwc_normalisation checked it
        value = numpy_helper.to_array(const).reshape(1, 3, 1, 1)
        name = f"{const.name}_nchw"
        graph.initializer.append(numpy_helper.from_array(np.ascontiguousarray(value), name))
        node.input[list(node.input).index(const.name)] = name
        if not any(const.name in n.input for n in graph.node):
            graph.initializer.remove(const)
    # Shapes recorded for the moved intermediates are NHWC: drop them (shape inference recomputes what it needs).
    stale = {cast.output[0], sub.output[0], network_input, nchw}
    kept = [v for v in graph.value_info if v.name not in stale]
    del graph.value_info[:]
    graph.value_info.extend(kept)
    # Topological order: the four nodes first, in their new order, where the Cast stood.
    at = list(graph.node).index(cast)
    rest = [n for n in graph.node if n not in chain]
    del graph.node[:]
    graph.node.extend(rest[:at] + [transpose, cast, sub, div] + rest[at:])
    onnx.checker.check_model(model)
    return True


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m segd_train.export.channels_first", description=__doc__.splitlines()[0])
    ap.add_argument("--onnx", required=True, type=Path, help="a model exported by segd_train (card beside it)")
    ap.add_argument("--out", type=Path, default=None, help="where to write (default: replace --onnx and its card)")
    ap.add_argument("--agreement-frames", type=int, default=8, help="dataset frames on which the masks must be equal")
    args = ap.parse_args(argv)
    card_path = args.onnx.with_suffix(".json")
    if not card_path.is_file():
        raise SystemExit(f"{args.onnx}: no model card beside it ({card_path.name})")
    model = onnx.load(str(args.onnx))
    if not channels_first_input(model):
        print(json.dumps({"onnx": str(args.onnx), "rewritten": False,
                          "reason": "no Cast → Sub → Div → Transpose(0,3,1,2) input chain (already channels first?)"}))
        return 0
    from .parity import load_frames
    from .quantize import _session, mask_agreement_onnx

    out = args.out or args.onnx
    tmp = out.with_name(f".{out.name}.tmp")
    onnx.save(model, str(tmp))
    threads = min(2, os.cpu_count() or 1)
    shape = _session(args.onnx, threads).get_inputs()[0].shape
    frames = load_frames(args.agreement_frames, int(shape[1]), int(shape[2]))
    agreement = mask_agreement_onnx(args.onnx, tmp, frames, threads)
    if agreement != 1.0:
        tmp.unlink()
        print(f"error: masks differ after the rewrite ({agreement:.6f} of pixels agree); {args.onnx} left as it was",
              file=sys.stderr)
        return 1
    card = json.loads(card_path.read_text())
    if args.out is not None:
        card["name"] = out.stem
    card["onnx"] = {**card["onnx"], "file": out.name, "sha256": sha256_file(tmp)}
    os.replace(tmp, out)
    out.with_suffix(".json").write_text(json.dumps(card, indent=2) + "\n")
    print(json.dumps({"onnx": str(out), "rewritten": True, "frames": len(frames), "pixel_agreement": agreement}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
