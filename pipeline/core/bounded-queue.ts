/**
 * The one bounded FIFO of the pipeline: a ring allocated once that never holds more than its
 * capacity. A push into a full queue evicts the OLDEST item and hands it back, so the caller counts
 * the drop and releases what it held (a frame's buffer, a queued MQTT event). Every operation is
 * O(1) except unshiftAll, which is O(items).
 *
 * Users: per-stream frame queues in the batcher (newest wins: a late frame is worth less than a
 * fresh one), parked frames in a source's flow control, MQTT events waiting for a connection.
 */
export class BoundedQueue<T> {
  readonly capacity: number;
  private readonly ring: (T | undefined)[];
  private head = 0; // index of the oldest item
  private count = 0;

  constructor(capacity = 1) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new RangeError(`BoundedQueue: capacity must be an integer >= 1, got ${String(capacity)}`);
    }
    this.capacity = capacity;
    this.ring = new Array<T | undefined>(capacity).fill(undefined);
  }

  get length(): number {
    return this.count;
  }

  /** Appends `item`; when full, removes and returns the oldest item (the caller owns it), else undefined. */
  push(item: T): T | undefined {
    if (this.count < this.capacity) {
      this.ring[(this.head + this.count) % this.capacity] = item;
      this.count++;
      return undefined;
    }
    const evicted = this.ring[this.head];
    this.ring[this.head] = item; // the oldest slot becomes the newest
    this.head = (this.head + 1) % this.capacity;
    return evicted;
  }

  /**
   * Puts `items` back in front of the queue, in their order (e.g. unacknowledged events after a
   * disconnect). What does not fit is dropped oldest first, as if they had never left: returns how
   * many were dropped (the front of `items`, then nothing else, since they are the oldest).
   */
  unshiftAll(items: readonly T[]): number {
    for (let i = items.length - 1; i >= 0; i--) {
      if (this.count === this.capacity) return i + 1;
      this.head = (this.head - 1 + this.capacity) % this.capacity;
      this.ring[this.head] = items[i] as T;
      this.count++;
    }
    return 0;
  }

  /** Oldest item without removing it. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.ring[this.head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined; // do not keep a reference to a released item
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Removes every item, oldest first, handing each to `fn` (e.g. release + count a drop). */
  clear(fn: (item: T) => void): void {
    for (let item = this.shift(); item !== undefined; item = this.shift()) fn(item);
  }
}
