/**
 * The Frame handed to consumers: a view of one pool slot, released exactly once.
 */
import type { Frame } from '../core/frame.js';
import type { FramePool, PoolSlot } from './frame-pool.js';

export class PooledFrame implements Frame {
  readonly streamId: string;
  readonly seq: number;
  /** Filled in when showinfo's line for this frame is matched (see pts-matcher.ts). */
  ptsMs: number | null = null;
  readonly captureTimeMs: number;
  readonly decodedAtNs: bigint;
  readonly width: number;
  readonly height: number;
  readonly data: Uint8Array;
  private readonly pool: FramePool;
  private readonly slot: PoolSlot;
  private released = false;

  constructor(
    pool: FramePool,
    slot: PoolSlot,
    streamId: string,
    seq: number,
    width: number,
    height: number,
    captureTimeMs: number,
    decodedAtNs: bigint,
  ) {
    this.pool = pool;
    this.slot = slot;
    this.streamId = streamId;
    this.seq = seq;
    this.width = width;
    this.height = height;
    this.captureTimeMs = captureTimeMs;
    this.decodedAtNs = decodedAtNs;
    this.data = slot.data;
  }

  /** Returns the buffer to the pool. A second call is a consumer bug and throws. */
  release(): void {
    // Checked here, not only in the pool: the slot may already belong to a newer frame.
    if (this.released) throw new Error(`frame ${this.streamId}#${this.seq} released twice`);
    this.released = true;
    this.pool.release(this.slot);
  }
}
