import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { LatestQueue } from '../../pipeline/batching/latest-queue.js';

describe('LatestQueue', () => {
  it('defaults to capacity 1: a push into a full queue evicts and returns the older item', () => {
    const q = new LatestQueue<string>();
    assert.equal(q.capacity, 1);
    assert.equal(q.push('a'), undefined);
    assert.equal(q.push('b'), 'a');
    assert.equal(q.length, 1);
    assert.equal(q.shift(), 'b');
    assert.equal(q.shift(), undefined);
    assert.equal(q.length, 0);
  });

  it('never holds more than its capacity; evicts oldest first and keeps FIFO order', () => {
    const q = new LatestQueue<number>(3);
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
    const q = new LatestQueue<number>(2);
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
    const q = new LatestQueue<number>(4);
    [1, 2, 3].forEach((x) => q.push(x));
    const seen: number[] = [];
    q.clear((x) => seen.push(x));
    assert.deepEqual(seen, [1, 2, 3]);
    assert.equal(q.length, 0);
    assert.equal(q.peek(), undefined);
  });

  it('rejects a capacity that is not a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN]) {
      assert.throws(() => new LatestQueue(bad), /capacity must be an integer >= 1/);
    }
  });
});
