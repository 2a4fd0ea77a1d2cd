/**
 * Cuts exact width*height*3 frames out of ffmpeg's stdout, whatever the chunk boundaries.
 * Each chunk is copied once, straight into the current frame's pool buffer (no concatenation).
 */
import type { FramePool, PoolSlot } from './frame-pool.js';

export interface CutterSink {
  /** A complete frame, owned by the sink from now on (it releases `slot` to the pool). */
  onFrame(slot: PoolSlot, index: number): void;
  /** A complete frame whose bytes were discarded because the pool had no free buffer. */
  onPoolExhausted(index: number): void;
  /**
   * Backpressure: asked after each complete frame; true stops push() at that frame boundary
   * (the caller keeps the rest of the chunk and pushes it again later).
   */
  shouldStop?(): boolean;
}

export class FrameCutter {
  private readonly pool: FramePool;
  private readonly sink: CutterSink;
  private readonly frameBytes: number;
  /** Buffer of the frame being filled; null while discarding (pool exhausted) or between frames. */
  private slot: PoolSlot | null = null;
  /** Bytes of the current frame received so far (whether stored or discarded). */
  private filled = 0;
  /** Complete frames cut since the last reset, delivered or not: the frame index ffmpeg would report. */
  private index = 0;

  constructor(pool: FramePool, sink: CutterSink) {
    this.pool = pool;
    this.sink = sink;
    this.frameBytes = pool.frameBytes;
  }

  /** Frames completed since the last reset (including pool-exhausted ones). */
  get framesCut(): number {
    return this.index;
  }

  /**
   * Cuts frames from chunk[from..]. Returns where it stopped: chunk.length, or the end of a frame
   * after which the sink's shouldStop() said true.
   */
  push(chunk: Uint8Array, from = 0): number {
    const frameBytes = this.frameBytes;
    let pos = from;
    const len = chunk.length;
    while (pos < len) {
      // The buffer is chosen at a frame's first byte; an exhausted pool means this frame is discarded whole.
      if (this.filled === 0) this.slot = this.pool.acquire();
      const n = Math.min(frameBytes - this.filled, len - pos);
      if (this.slot !== null) this.slot.data.set(chunk.subarray(pos, pos + n), this.filled);
      this.filled += n;
      pos += n;
      if (this.filled === frameBytes) {
        const slot = this.slot;
        const index = this.index++;
        this.slot = null;
        this.filled = 0;
        if (slot !== null) this.sink.onFrame(slot, index);
        else this.sink.onPoolExhausted(index);
        if (pos < len && this.sink.shouldStop?.() === true) return pos;
      }
    }
    return pos;
  }

  /**
   * Forgets a partial frame (child exited mid-frame: it is never emitted) and restarts the frame
   * index for the next child. Returns how many bytes of partial frame were discarded.
   */
  reset(): number {
    const partial = this.filled;
    if (this.slot !== null) this.pool.release(this.slot);
    this.slot = null;
    this.filled = 0;
    this.index = 0;
    return partial;
  }
}
