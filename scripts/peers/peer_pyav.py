"""Bench peer: PyAV decoding (one thread per stream) + onnxruntime + websockets. See peer_common.py."""
from __future__ import annotations

import threading
import time

import av
from av.video.reformatter import Interpolation, VideoReformatter

from peer_common import NAN, Frame, Peer, now_ms, parse_args, read_card, run


def decode_loop(peer: Peer, index: int) -> None:
    args, info = peer.args, peer.info
    # One reformatter per thread: VideoFrame.to_ndarray(width=…) builds a new one, and so a new swscale
    # context, for every frame. threads=1: PyAV's default (0) starts a swscale thread per core for each
    # conversion, where segd's ffmpeg scales on its one thread.
    reformatter = VideoReformatter()
    peer.started.wait()
    seq = 0
    t0 = time.monotonic()
    offset = 0.0  # seconds of clip played before this pass (pacing across loops)
    while not peer.stop.is_set():
        with av.open(args.clip) as container:
            stream = container.streams.video[0]
            stream.codec_context.thread_count = args.decoder_threads
            rate = float(stream.average_rate or 10)
            last = 0.0
            for frame in container.decode(stream):
                if peer.stop.is_set():
                    return
                t = float(frame.time or 0.0)
                last = t
                if args.realtime:
                    delay = t0 + offset + t - time.monotonic()
                    if delay > 0:
                        time.sleep(delay)
                rgb = reformatter.reformat(frame, width=info.width, height=info.height, format="rgb24",
                                           interpolation=Interpolation.BILINEAR, threads=1).to_ndarray()
                pts_ms = (offset + t) * 1000.0 if frame.time is not None else NAN
                peer.submit(Frame(index, seq, pts_ms, now_ms(), rgb))
                seq += 1
            offset += last + 1.0 / rate


def main() -> None:
    args = parse_args("segd bench peer: PyAV + onnxruntime + websockets")
    peer = Peer(args, read_card(args))
    decoders = [threading.Thread(target=decode_loop, args=(peer, i), name=f"decode{i}", daemon=True) for i in range(args.streams)]
    run(peer, decoders)


if __name__ == "__main__":
    main()
