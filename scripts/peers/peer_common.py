"""The half both bench peers share: batched ONNX Runtime inference and a WebSocket server sending each mask.

A peer is what a user who did not pick segd would write: N decoders (one thread or pipeline per stream) put RGB
frames at the model's size into one bounded queue; one inference thread takes up to --batch frames at a time
(no waiting for a fuller batch, as segd's maxDelayMs 0), runs the model (argmax is inside it) and hands each
mask to the asyncio loop, which broadcasts it to every connected client. Masks go out in segd's binary format
(docs/protocol.md, raw encoding) so that the same counting client measures segd and the peers alike.

Paced streams (--realtime, a camera) drop a frame when the queue is full, as a live source must; unpaced
ones block until there is room. Counters are printed as one JSON line on SIGUSR1 (the bench reads them at
the edges of its window) and at exit; the line {"ready": …, "port": …} says the server is listening.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import queue
import signal
import struct
import sys
import threading
import time
from dataclasses import dataclass

import numpy as np
import onnxruntime as ort
from websockets.asyncio.server import broadcast, serve

# segd's mask header (docs/protocol.md): magic, version 1, type 1 (mask), encoding 0 (raw), flags,
# header length, stream id length, model id length, reserved, seq, pts ms, capture ms, width, height, payload length.
HEADER = struct.Struct("<4sBBBBHHHHQddHHI")
assert HEADER.size == 48


def parse_args(description: str) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--model", required=True, help="the .onnx model (input frames [N,H,W,3] uint8, output mask [N,H,W] uint8)")
    p.add_argument("--card", help="its model card (default: the .json beside it): input size and model id")
    p.add_argument("--clip", required=True, help="video file every stream loops")
    p.add_argument("--streams", type=int, default=4)
    p.add_argument("--batch", type=int, default=2, help="frames per inference at most")
    p.add_argument("--realtime", action="store_true", help="pace each stream at the clip's native rate (a camera)")
    p.add_argument("--intra-op-threads", type=int, default=2)
    p.add_argument("--inter-op-threads", type=int, default=1)
    p.add_argument("--allow-spinning", action="store_true")
    p.add_argument("--decoder-threads", type=int, default=1, help="decoder threads per stream")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = any free port (printed in the ready line)")
    p.add_argument("--start-on-client", action="store_true", help="decode nothing until the first client connects (tests)")
    p.add_argument("--dump-dir", help="write stream 0's first --dump-frames RGB frames here as <seq>.rgb (tests)")
    p.add_argument("--dump-frames", type=int, default=0)
    a = p.parse_args()
    if a.streams < 1 or a.batch < 1:
        p.error("--streams and --batch must be at least 1")
    return a


@dataclass(frozen=True)
class ModelInfo:
    model_id: str
    width: int
    height: int


def read_card(args: argparse.Namespace) -> ModelInfo:
    path = args.card or os.path.splitext(args.model)[0] + ".json"
    with open(path, encoding="utf-8") as f:
        card = json.load(f)
    return ModelInfo(card["name"], int(card["input"]["width"]), int(card["input"]["height"]))


@dataclass
class Frame:
    stream: int
    seq: int
    pts_ms: float
    capture_ms: float
    rgb: np.ndarray  # [H, W, 3] uint8


class Counters:
    """Frames decoded, dropped (by reason) and masks published; written by several threads, read on SIGUSR1."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.decoded = 0
        self.published = 0
        self.batches = 0
        self.dropped: dict[str, int] = {}

    def add(self, field: str, n: int = 1) -> None:
        with self.lock:
            setattr(self, field, getattr(self, field) + n)

    def drop(self, reason: str) -> None:
        with self.lock:
            self.dropped[reason] = self.dropped.get(reason, 0) + 1

    def line(self) -> str:
        with self.lock:
            return json.dumps({"decoded": self.decoded, "published": self.published, "batches": self.batches, "dropped": dict(self.dropped)})


class Peer:
    """Queue, inference thread and server; a decoder front end calls submit() for every RGB frame."""

    def __init__(self, args: argparse.Namespace, info: ModelInfo) -> None:
        self.args = args
        self.info = info
        self.counters = Counters()
        # One slot per stream: enough to keep the model busy, short enough that a frame never waits long.
        self.frames: queue.Queue[Frame | None] = queue.Queue(maxsize=max(args.streams, args.batch))
        self.started = threading.Event()
        self.stop = threading.Event()
        if not args.start_on_client:
            self.started.set()
        self.stream_ids = [f"bench{i}".encode() for i in range(args.streams)]
        self.model_id = info.model_id.encode()
        self.loop: asyncio.AbstractEventLoop | None = None
        self.clients: set = set()
        so = ort.SessionOptions()
        so.intra_op_num_threads = args.intra_op_threads
        so.inter_op_num_threads = args.inter_op_threads
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        spin = "1" if args.allow_spinning else "0"
        so.add_session_config_entry("session.intra_op.allow_spinning", spin)
        so.add_session_config_entry("session.inter_op.allow_spinning", spin)
        self.session = ort.InferenceSession(args.model, so, providers=["CPUExecutionProvider"])
        # Reused batch buffer: one copy per frame into it, a contiguous [n, H, W, 3] slice per run.
        self.batch = np.empty((args.batch, info.height, info.width, 3), np.uint8)
        for _ in range(2):  # warm-up, as segd's model.warmupRuns
            self.session.run(["mask"], {"frames": self.batch})

    def submit(self, frame: Frame) -> None:
        """From a decoder thread: queue the frame (a paced stream drops it when the queue is full)."""
        self.counters.add("decoded")
        if self.args.dump_dir and frame.stream == 0 and frame.seq < self.args.dump_frames:
            with open(os.path.join(self.args.dump_dir, f"{frame.seq}.rgb"), "wb") as f:
                f.write(frame.rgb.tobytes())
        if self.args.realtime:
            try:
                self.frames.put_nowait(frame)
            except queue.Full:
                self.counters.drop("queue_full")
        else:
            while not self.stop.is_set():
                try:
                    self.frames.put(frame, timeout=0.5)
                    return
                except queue.Full:
                    continue

    def _infer_loop(self) -> None:
        while True:
            first = self.frames.get()
            if first is None:
                return
            items = [first]
            while len(items) < self.args.batch:
                try:
                    nxt = self.frames.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    return
                items.append(nxt)
            n = len(items)
            for i, f in enumerate(items):
                self.batch[i] = f.rgb
            (masks,) = self.session.run(["mask"], {"frames": self.batch[:n]})
            self.counters.add("batches")
            msgs = [self._message(f, masks[i]) for i, f in enumerate(items)]
            assert self.loop is not None
            self.loop.call_soon_threadsafe(self._send, msgs)

    def _message(self, f: Frame, mask: np.ndarray) -> bytes:
        sid = self.stream_ids[f.stream]
        payload = mask.tobytes()
        header = HEADER.pack(b"SEGD", 1, 1, 0, 0, 48 + len(sid) + len(self.model_id), len(sid), len(self.model_id), 0,
                             f.seq, f.pts_ms, f.capture_ms, mask.shape[1], mask.shape[0], len(payload))
        return b"".join((header, sid, self.model_id, payload))

    def _send(self, msgs: list[bytes]) -> None:
        for m in msgs:
            broadcast(self.clients, m)
        self.counters.add("published", len(msgs))

    async def _handler(self, ws) -> None:
        self.clients.add(ws)
        self.started.set()
        try:
            async for _ in ws:  # clients send nothing the peer needs; read to notice the close
                pass
        finally:
            self.clients.discard(ws)

    async def serve(self, decoders: list[threading.Thread], on_stop) -> None:
        self.loop = asyncio.get_running_loop()
        done = asyncio.Event()
        self.loop.add_signal_handler(signal.SIGUSR1, lambda: print(self.counters.line(), flush=True))
        self.loop.add_signal_handler(signal.SIGTERM, done.set)
        self.loop.add_signal_handler(signal.SIGINT, done.set)
        infer = threading.Thread(target=self._infer_loop, name="infer", daemon=True)
        async with serve(self._handler, self.args.host, self.args.port, max_size=2**16, compression=None) as server:
            port = next(iter(server.sockets)).getsockname()[1]
            infer.start()
            for t in decoders:
                t.start()
            print(json.dumps({"ready": True, "port": port}), flush=True)
            await done.wait()
        self.stop.set()
        on_stop()
        try:
            self.frames.put_nowait(None)
        except queue.Full:
            pass
        print(self.counters.line(), flush=True)


def _fatal(hook: threading.ExceptHookArgs) -> None:
    """A decoder or the inference thread that fails ends the peer: a silently missing stream would skew the bench."""
    threading.__excepthook__(hook)
    sys.stderr.flush()
    os._exit(1)


threading.excepthook = _fatal


def now_ms() -> float:
    return time.time() * 1000.0


def run(peer: Peer, decoders: list[threading.Thread], on_stop=lambda: None) -> None:
    asyncio.run(peer.serve(decoders, on_stop))
    sys.stdout.flush()
    os._exit(0)  # decoder and inference threads may sit in native calls; nothing is left to flush


NAN = math.nan
