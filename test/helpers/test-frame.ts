import type { Frame } from '../../pipeline/core/frame.js';

/** A Frame captured now, holding `data` (its own buffer: a pool slot); `release` calls `onRelease`. */
export function testFrame(f: {
  streamId: string;
  seq: number;
  width: number;
  height: number;
  data: Uint8Array;
  ptsMs?: number | null;
  onRelease: () => void;
}): Frame {
  return {
    streamId: f.streamId,
    seq: f.seq,
    ptsMs: f.ptsMs ?? null,
    captureTimeMs: Date.now(),
    decodedAtNs: process.hrtime.bigint(),
    width: f.width,
    height: f.height,
    data: f.data,
    release: f.onRelease,
  };
}
