#!/usr/bin/env python3
"""Reference segd client in Python: prints per-frame class-area fractions of a daemon's masks.

    /usr/bin/python3 clients/python/segd_client.py ws://127.0.0.1:8080/ws [--frames N] [--stream ID]... [--encoding raw|deflate]

One line per mask: ``cam1 seq=12 road=0.3120 sky=0.2011 ...`` (the same format as the TypeScript
client). Needs only the standard library and ``websockets`` (Debian: python3-websockets). A daemon
that requires a token takes it in the URL: ``ws://HOST:PORT/ws?token=...``.

The wire format is docs/protocol.md (version 1): binary messages = 48-byte little-endian header,
stream id, model id, payload; JSON text messages for control. Its tests (test_segd_client.py) check
it against the protocol's machine-readable definition in docs/protocol/ (golden header vectors, the
control messages' JSON Schema). Importable: ``decode_header``, ``control_requests``,
``class_area_fractions``, ``format_fractions``, ``run``.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import struct
import sys
import zlib
from dataclasses import dataclass

import websockets

HEADER_FIXED_BYTES = 48
MESSAGE_TYPE_MASK = 1
ENCODINGS = {0: "raw", 1: "deflate", 2: "png"}
# magic, version, type, encoding, flags, headerLength, streamIdLength, modelIdLength, reserved,
# seq lo, seq hi, pts, capture time, width, height, payload length
_FIXED = struct.Struct("<4sBBBBHHHHIIddHHI")
assert _FIXED.size == HEADER_FIXED_BYTES


@dataclass(frozen=True)
class Header:
    message_type: int
    encoding: int
    stream_id: str
    model_id: str
    seq: int
    pts_ms: float | None
    capture_time_ms: float
    width: int
    height: int
    header_length: int


def decode_header(msg: bytes) -> Header:
    """Decodes and checks a binary message's header; raises ValueError naming the field."""
    if len(msg) < HEADER_FIXED_BYTES:
        raise ValueError(f"message: {len(msg)} bytes; expected at least {HEADER_FIXED_BYTES}")
    (magic, version, mtype, enc, _flags, hlen, slen, mlen, _res, seq_lo, seq_hi, pts, capture, width, height,
     plen) = _FIXED.unpack_from(msg)
    if magic != b"SEGD":
        raise ValueError(f"magic: {magic!r}; expected b'SEGD'")
    if version != 1:
        raise ValueError(f"version: {version}; expected 1")
    if mtype == MESSAGE_TYPE_MASK and enc not in ENCODINGS:
        raise ValueError(f"encoding: {enc}; expected 0 (raw), 1 (deflate) or 2 (png)")
    if hlen != HEADER_FIXED_BYTES + slen + mlen:
        raise ValueError(f"headerLength: {hlen}; expected {HEADER_FIXED_BYTES + slen + mlen}")
    if len(msg) != hlen + plen:
        raise ValueError(f"message: {len(msg)} bytes; expected {hlen} + {plen}")
    if seq_hi >= 2**21:
        raise ValueError(f"seq: high word {seq_hi} exceeds 2^53")
    return Header(
        message_type=mtype,
        encoding=enc,
        stream_id=msg[HEADER_FIXED_BYTES:HEADER_FIXED_BYTES + slen].decode("utf-8"),
        model_id=msg[HEADER_FIXED_BYTES + slen:hlen].decode("utf-8"),
        seq=seq_lo + seq_hi * 2**32,
        pts_ms=None if pts != pts else pts,  # NaN = unknown
        capture_time_ms=capture,
        width=width,
        height=height,
        header_length=hlen,
    )


def mask_ids(msg: bytes, h: Header) -> bytes:
    """The mask's width*height class ids (raw or deflate payloads)."""
    payload = msg[h.header_length:]
    name = ENCODINGS.get(h.encoding)
    if name == "raw":
        ids = payload
    elif name == "deflate":
        ids = zlib.decompress(payload)
    else:
        raise ValueError(f"encoding: {h.encoding} ({name}); this client asks for raw or deflate")
    if len(ids) != h.width * h.height:
        raise ValueError(f"mask: {len(ids)} ids; expected {h.width}*{h.height}")
    return ids


def control_requests(encoding: str, streams: list[str]) -> list[dict]:
    """What the client sends after ``hello``: its encoding, its streams (if any), a model card request."""
    return [
        {"type": "encoding", "encoding": encoding},
        *([{"type": "subscribe", "streams": streams}] if streams else []),
        {"type": "model_card"},
    ]


def class_area_fractions(ids: bytes, num_classes: int) -> list[float]:
    """Fraction of pixels per class id (index = id); sums to 1."""
    counts = [ids.count(bytes([k])) for k in range(num_classes)]
    outside = len(ids) - sum(counts)
    if outside:
        raise ValueError(f"mask holds {outside} pixels with class ids >= {num_classes}")
    return [c / len(ids) for c in counts]


def format_fractions(stream_id: str, seq: int, fractions: list[float], classes: list[dict]) -> str:
    """``cam1 seq=12 road=0.3120 ...``: classes with any area, largest first."""
    shown = sorted((c for c in classes if fractions[c["id"]] > 0), key=lambda c: -fractions[c["id"]])
    return f"{stream_id} seq={seq} " + " ".join(f"{c['name']}={fractions[c['id']]:.4f}" for c in shown)


async def run(url: str, frames: int | None, streams: list[str], encoding: str, out=sys.stdout) -> int:
    """Connects, prints `frames` lines (None = until the connection ends); returns an exit code."""
    async with websockets.connect(url, max_size=None, compression=None) as ws:
        classes: list[dict] | None = None
        seen = 0
        async for msg in ws:
            if isinstance(msg, str):
                reply = json.loads(msg)
                kind = reply.get("type")
                if kind == "hello":
                    for request in control_requests(encoding, streams):
                        await ws.send(json.dumps(request))
                elif kind == "model_card":
                    classes = reply["card"]["classes"]
                elif kind == "error":
                    print(f"segd: server: {reply.get('message')}", file=sys.stderr)
                continue
            h = decode_header(msg)
            if h.message_type != MESSAGE_TYPE_MASK or classes is None:
                continue  # previews, later message types, masks before the card
            if streams and h.stream_id not in streams:
                continue  # sent before our subscribe took effect
            fractions = class_area_fractions(mask_ids(msg, h), len(classes))
            print(format_fractions(h.stream_id, h.seq, fractions, classes), file=out, flush=True)
            seen += 1
            if frames is not None and seen >= frames:
                return 0
    if frames is not None and seen < frames:
        print(f"segd: connection closed after {seen} of {frames} frames", file=sys.stderr)
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Print per-frame class-area fractions of a segd daemon's masks.")
    p.add_argument("url", help="ws://HOST:PORT/ws (add ?token=... if the daemon requires one)")
    p.add_argument("--frames", type=int, default=None, help="stop after N masks (default: run until closed)")
    p.add_argument("--stream", action="append", default=[], help="only this stream (repeatable)")
    p.add_argument("--encoding", choices=["raw", "deflate"], default="deflate")
    a = p.parse_args(argv)
    if not a.url.startswith(("ws://", "wss://")):
        p.error(f"url: expected ws:// or wss://, got {a.url!r}")
    if a.frames is not None and a.frames < 1:
        p.error("--frames: expected a positive integer")
    try:
        return asyncio.run(run(a.url, a.frames, a.stream, a.encoding))
    except KeyboardInterrupt:
        return 0
    except (OSError, websockets.exceptions.WebSocketException) as err:
        print(f"segd: cannot talk to {a.url}: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
