/**
 * A fixed pool of frame buffers, all carved from one allocation made at construction.
 * No allocation per frame; an exhausted pool is the caller's signal to drop.
 */

export interface PoolSlot {
  /** Slot number, 0..size-1. */
  readonly index: number;
  /** frameBytes bytes; a view into the pool's single backing buffer. */
  readonly data: Uint8Array;
}

export class FramePool {
  readonly frameBytes: number;
  readonly size: number;
  private readonly slots: readonly PoolSlot[];
  private readonly inUse: Uint8Array;
  /** Stack of free slot indices; `free` entries valid. */
  private readonly freeStack: Int32Array;
  private free: number;

  constructor(frameBytes: number, size: number) {
    if (!Number.isInteger(frameBytes) || frameBytes <= 0) throw new RangeError(`frameBytes must be > 0, got ${frameBytes}`);
    if (!Number.isInteger(size) || size <= 0) throw new RangeError(`pool size must be > 0, got ${size}`);
    this.frameBytes = frameBytes;
    this.size = size;
    const backing = new Uint8Array(frameBytes * size);
    const slots: PoolSlot[] = [];
    for (let i = 0; i < size; i++) slots.push({ index: i, data: backing.subarray(i * frameBytes, (i + 1) * frameBytes) });
    this.slots = slots;
    this.inUse = new Uint8Array(size);
    this.freeStack = new Int32Array(size);
    // Lowest index on top: slot 0 is handed out first (keeps tests and reasoning simple).
    for (let i = 0; i < size; i++) this.freeStack[i] = size - 1 - i;
    this.free = size;
  }

  /** Number of slots currently free. */
  get available(): number {
    return this.free;
  }

  /** A free slot, or null when every slot is held (the caller drops the frame). */
  acquire(): PoolSlot | null {
    if (this.free === 0) return null;
    const index = this.freeStack[--this.free] as number;
    this.inUse[index] = 1;
    return this.slots[index] as PoolSlot;
  }

  /** Returns a slot. Releasing a slot that is not held is a bug in the caller: throws. */
  release(slot: PoolSlot): void {
    const i = slot.index;
    if (this.slots[i] !== slot) throw new Error(`FramePool.release: slot ${i} does not belong to this pool`);
    if (this.inUse[i] === 0) throw new Error(`FramePool.release: slot ${i} released twice`);
    this.inUse[i] = 0;
    this.freeStack[this.free++] = i;
  }
}
