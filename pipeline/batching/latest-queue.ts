/**
 * Newest-wins bounded queue (one per stream, between decode and the batcher).
 *
 * For live video a late frame is worth less than a fresh one, so when the queue is full a push
 * evicts the OLDEST item and hands it back: the caller counts the drop (`queue_full`) and
 * releases the frame's buffer. The ring is allocated once; the queue never grows beyond its
 * capacity.
 */
export class LatestQueue<T> {
  readonly capacity: number;
  private readonly ring: (T | undefined)[];
  private head = 0; // index of the oldest item
  private count = 0;

  constructor(capacity = 1) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`LatestQueue: capacity must be an integer >= 1, got ${String(capacity)}`);
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

  /** Oldest item without removing it. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.ring[this.head];
  }

  /** Removes and returns the oldest item. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.ring[this.head];
    this.ring[this.head] = undefined; // do not keep a reference to a released frame
    this.head = (this.head + 1) % this.capacity;
    this.count--;
    return item;
  }

  /** Removes every item, oldest first, handing each to `fn` (e.g. release + count a drop). */
  clear(fn: (item: T) => void): void {
    for (let item = this.shift(); item !== undefined; item = this.shift()) fn(item);
  }
}
