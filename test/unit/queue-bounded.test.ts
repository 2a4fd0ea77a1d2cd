import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BoundedQueue } from '../../pipeline/core/bounded-queue.js';

describe('BoundedQueue', () => {
  it('defaults to capacity 1: a push into a full queue evicts and returns the older item', () => {
    const q = new BoundedQueue<string>();
    assert.equal(q.capacity, 1);
    assert.equal(q.push('a'), undefined);
    assert.equal(q.push('b'), 'a');
    assert.equal(q.length, 1);
    assert.equal(q.shift(), 'b');
    assert.equal(q.shift(), undefined);
    assert.equal(q.length, 0);
  });

  it('never holds more than its capacity; evicts oldest first and keeps FIFO order', () => {
    const q = new BoundedQueue<number>(3);
    const evicted: number[] = [];
    for (let i = 0; i < 10; i++) {
      const e = q.push(i);
      if (e !== undefined) evicted.push(e);
      assert.ok(q.length <= 3, `length ${q.length} after push ${i}`);
    }
    assert.deepEqual(evicted, [0, 1, 2, 3, 4, 5, 6]);
    assert.equal(q.peek(), 7);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [7, 8, 9, undefined]);
  });

  it('interleaved push/shift wraps the ring correctly', () => {
    const q = new BoundedQueue<number>(2);
    const out: number[] = [];
    const evicted: number[] = [];
    for (let i = 0; i < 7; i++) {
      const e = q.push(i);
      if (e !== undefined) evicted.push(e);
      if (i % 2 === 1) out.push(q.shift() as number);
    }
    // Pushes 0..6 with a shift after every odd push: [0,1]→0 out; [1,2]+3 evicts 1 → [2,3]→2 out;
    // [3,4]+5 evicts 3 → [4,5]→4 out; then 6 → [5,6].
    assert.deepEqual(out, [0, 2, 4]);
    assert.deepEqual(evicted, [1, 3]);
    assert.deepEqual([q.shift(), q.shift(), q.shift()], [5, 6, undefined]);
  });

  it('clear() hands every item to the callback, oldest first, and empties the queue', () => {
    const q = new BoundedQueue<number>(4);
    [1, 2, 3].forEach((x) => q.push(x));
    const seen: number[] = [];
    q.clear((x) => seen.push(x));
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
  });

  it('rejects a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new BoundedQueue(bad), /capacity must be an integer >= 1/);
    }
  });

  it('unshiftAll() puts items back in front in their order; what does not fit is dropped oldest first', () => {
    const q = new BoundedQueue<number>(4);
    q.push(5);
    q.push(6);
    assert.equal(q.unshiftAll([3, 4]), 0);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift()], [3, 4, 5, 6]);
    // wrapped ring: head moves backwards over index 0
    q.push(7);
    q.push(8);
    q.shift();
    assert.equal(q.unshiftAll([1, 2, 3, 4, 5, 6]), 3, 'the three oldest of the put-back items');
    assert.equal(q.length, 4);
    assert.deepEqual([q.shift(), q.shift(), q.shift(), q.shift(), q.shift()], [4, 5, 6, 8, undefined]);
    assert.equal(q.unshiftAll([]), 0);
  });
});
