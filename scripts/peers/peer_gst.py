"""Bench peer: one GStreamer pipeline per stream (PyGObject) ending in an appsink that feeds onnxruntime and
websockets. See peer_common.py.

    filesrc ! qtdemux ! h264parse ! avdec_h264 ! videoscale ! videoconvert ! video/x-raw,format=RGB,W,H ! appsink

The bench clip is MP4/H.264, hence the explicit demuxer and decoder (decodebin would pick the same elements but
give avdec_h264 a thread per core). A paced stream (--realtime) lets the appsink sync to the clock, as a
camera delivers frames; unpaced, it takes them as fast as the queue drains. The clip loops by a flushing seek
to 0 at end of stream, from a thread that watches the pipeline's bus.
"""
from __future__ import annotations

import threading

import gi
import numpy as np

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from peer_common import NAN, Frame, Peer, now_ms, parse_args, read_card, run  # noqa: E402


class Stream:
    def __init__(self, peer: Peer, index: int) -> None:
        self.peer = peer
        self.index = index
        self.seq = 0
        args, info = peer.args, peer.info
        sync = "true" if args.realtime else "false"
        location = args.clip.replace("\\", "\\\\").replace('"', '\\"')
        self.pipeline = Gst.parse_launch(
            f'filesrc location="{location}" ! qtdemux ! h264parse ! avdec_h264 max-threads={args.decoder_threads} ! '
            f"videoscale method=bilinear ! videoconvert ! video/x-raw,format=RGB,width={info.width},height={info.height} ! "
            f"appsink name=sink emit-signals=true sync={sync} max-buffers=1"
        )
        # RGB rows are padded to a multiple of 4 bytes in GStreamer buffers.
        self.stride = (info.width * 3 + 3) & ~3
        sink = self.pipeline.get_by_name("sink")
        sink.connect("new-sample", self.on_sample)
        self.thread = threading.Thread(target=self.watch, name=f"bus{index}", daemon=True)

    def on_sample(self, sink) -> Gst.FlowReturn:
        sample = sink.emit("pull-sample")
        buf = sample.get_buffer()
        info = self.peer.info
        ok, m = buf.map(Gst.MapFlags.READ)
        if not ok:
            return Gst.FlowReturn.ERROR
        try:
            rows = np.frombuffer(m.data, np.uint8, count=self.stride * info.height).reshape(info.height, self.stride)
            rgb = rows[:, : info.width * 3].reshape(info.height, info.width, 3).copy()
        finally:
            buf.unmap(m)
        pts_ms = buf.pts / Gst.MSECOND if buf.pts != Gst.CLOCK_TIME_NONE else NAN
        self.peer.submit(Frame(self.index, self.seq, pts_ms, now_ms(), rgb))
        self.seq += 1
        return Gst.FlowReturn.OK

    def watch(self) -> None:
        self.peer.started.wait()
        self.pipeline.set_state(Gst.State.PLAYING)
        bus = self.pipeline.get_bus()
        while not self.peer.stop.is_set():
            msg = bus.timed_pop_filtered(200 * Gst.MSECOND, Gst.MessageType.EOS | Gst.MessageType.ERROR)
            if msg is None:
                continue
            if msg.type == Gst.MessageType.ERROR:
                err, debug = msg.parse_error()
                raise RuntimeError(f"peer_gst: stream {self.index}: {err.message} ({debug})")  # fatal: see peer_common
            self.pipeline.seek_simple(Gst.Format.TIME, Gst.SeekFlags.FLUSH | Gst.SeekFlags.KEY_UNIT, 0)

    def stop(self) -> None:
        self.pipeline.set_state(Gst.State.NULL)


def main() -> None:
    args = parse_args("segd bench peer: GStreamer appsink + onnxruntime + websockets")
    Gst.init(None)
    peer = Peer(args, read_card(args))
    streams = [Stream(peer, i) for i in range(args.streams)]

    def stop_all() -> None:
        for s in streams:
            s.stop()

    run(peer, [s.thread for s in streams], stop_all)


if __name__ == "__main__":
    main()
