"""A real Triton (PyTriton's tritonserver 2.51) serving a segd contract model through onnxruntime CPU.

Run with the venv of test/triton/setup_env.sh (Debian's /usr/bin/python3):

  triton-server.py --model PATH.onnx --name NAME --http-port P --grpc-port P --metrics-port P
                   [--card CARD.json] [--threads 1] [--instances 1] [--allow-spinning 1] [--max-batch 4]
                   [--input-name frames] [--output-name mask]

Binds 127.0.0.1 only. --card puts the card's JSON into the Triton model config as the parameter
`segd_card` (how a daemon can take its card from Triton). --input-name / --output-name serve the
tensors under other names (a contract mismatch for the tests). --instances runs that many model instances, each
its own onnxruntime session of --threads threads (as segd's model.sessions does locally). Prints `SEGD_TRITON_READY` once the
model is ready, and serves until SIGTERM / SIGINT.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import threading

import numpy as np
import onnxruntime as ort
from pytriton.decorators import batch
from pytriton.model_config import DynamicBatcher, ModelConfig, Tensor
from pytriton.models.model import Model
from pytriton.triton import Triton, TritonConfig


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--name", required=True)
    ap.add_argument("--card", default=None)
    ap.add_argument("--http-port", type=int, required=True)
    ap.add_argument("--grpc-port", type=int, required=True)
    ap.add_argument("--metrics-port", type=int, required=True)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--instances", type=int, default=1)
    ap.add_argument("--allow-spinning", type=int, choices=(0, 1), default=1, help="ONNX Runtime's pool threads spin while idle (its default)")
    ap.add_argument("--max-batch", type=int, default=4)
    ap.add_argument("--input-name", default="frames")
    ap.add_argument("--output-name", default="mask")
    args = ap.parse_args()

    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", str(args.allow_spinning))
    sessions = [ort.InferenceSession(args.model, options, providers=["CPUExecutionProvider"]) for _ in range(args.instances)]
    shape = sessions[0].get_inputs()[0].shape
    height, width = int(shape[1]), int(shape[2])
    onnx_in, onnx_out = sessions[0].get_inputs()[0].name, sessions[0].get_outputs()[0].name

    def infer_with(session: ort.InferenceSession):
        @batch
        def infer(**inputs: np.ndarray) -> dict[str, np.ndarray]:
            return {args.output_name: session.run([onnx_out], {onnx_in: inputs[args.input_name]})[0]}

        return infer

    # A list of callables = that many model instances (PyTriton's multi-instance binding).
    infers = [infer_with(s) for s in sessions]

    if args.card is not None:
        card = json.dumps(json.load(open(args.card)))
        original = Model._get_triton_model_config

        def with_card(self):  # PyTriton has no public way to add a model-config parameter
            cfg = original(self)
            cfg.backend_parameters["segd_card"] = card
            return cfg

        Model._get_triton_model_config = with_card

    config = TritonConfig(http_address="127.0.0.1", http_port=args.http_port, grpc_address="127.0.0.1",
                          grpc_port=args.grpc_port, metrics_address="127.0.0.1", metrics_port=args.metrics_port,
                          exit_on_error=True)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    with Triton(config=config) as triton:
        triton.bind(
            model_name=args.name,
            infer_func=infers if len(infers) > 1 else infers[0],
            inputs=[Tensor(name=args.input_name, dtype=np.uint8, shape=(height, width, 3))],
            outputs=[Tensor(name=args.output_name, dtype=np.uint8, shape=(height, width))],
            config=ModelConfig(max_batch_size=args.max_batch, batcher=DynamicBatcher(max_queue_delay_microseconds=0)),
            strict=True,
        )
        triton.run()
        # One write of a token that tritonserver never logs: its own log lines share this stdout and can be
        # written in pieces around ours ("successfully loade" READY "d 'seg'"), so nothing line-based holds.
        print("SEGD_TRITON_READY", flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
