/** A FIFO of at most `capacity` items: pushing onto a full queue drops (and returns) the oldest. */
export class DropOldestQueue<T> {
  private items: T[] = [];

  constructor(readonly capacity: number) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) throw new RangeError(`capacity: ${capacity}; expected an integer >= 1`);
  }

  get length(): number {
    return this.items.length;
  }

  /** Appends; returns how many old items were dropped to make room (0 or 1). */
  push(item: T): number {
    this.items.push(item);
    if (this.items.length <= this.capacity) return 0;
    this.items.shift();
    return 1;
  }

  /** Puts items back at the front (in their order), e.g. unacknowledged ones after a disconnect; returns how many were dropped. */
  unshiftAll(items: readonly T[]): number {
    if (items.length === 0) return 0;
    this.items = [...items, ...this.items];
    const over = this.items.length - this.capacity;
    if (over <= 0) return 0;
    this.items.splice(0, over);
    return over;
  }

  shift(): T | undefined {
    return this.items.shift();
  }
}
