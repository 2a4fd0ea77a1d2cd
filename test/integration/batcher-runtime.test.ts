/**
 * Batcher runtime control with real engines (issue 15): a stream added or removed touches only
 * its own queue (its queued frames released once, as `reconfigured`), and an engine swap takes
 * effect between batches, never during one: the batch in flight finishes on the old engine, the
 * switch callback runs before the first batch of the new one, and frames of the old input size
 * still arriving are dropped, not thrown. No timing assertions.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import type { Frame } from '../../pipeline/core/frame.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import type { DropReason } from '../../pipeline/core/reasons.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { MODEL_PATH } from '../helpers/daemon.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { testFrame } from '../helpers/test-frame.js';

const logger = pino({ level: 'silent' });

/** Resolves once `cond()` holds (checked every few ms; the test's timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 5));
}
/** The small hand-encoded model (mask = max(R, G, B)); its card has every id a uint8 frame can give. */
const SMALL_H = 36;
const SMALL_W = 48;

/** Frames of one size, each with its own buffer; counts releases. */
class Frames {
  readonly releases = new Map<string, number>();
  make(streamId: string, seq: number, width: number, height: number, value = 50): Frame {
    const key = `${streamId}#${seq}@${width}`;
    this.releases.set(key, 0);
    const data = new Uint8Array(width * height * 3).fill(value);
    return testFrame({ streamId, seq, width, height, data, onRelease: () => this.releases.set(key, (this.releases.get(key) ?? 0) + 1) });
  }
  assertAllReleasedOnce(): void {
    for (const [key, n] of this.releases) assert.equal(n, 1, `frame ${key} released ${n} times`);
  }
}

describe('Batcher: streams added and removed, engine swapped, at run time', { timeout: 180_000 }, () => {
  let big: OnnxEngine;
  let small: OnnxEngine;
  let dir: ModelDir;

  before(async () => {
    dir = await makeModelDir();
    const model = failsOnBrightPixelsModel(SMALL_H, SMALL_W);
    const smallPath = await dir.writeModel('small', model, contractCard(model, SMALL_H, SMALL_W, { name: 'small', classes: cardClasses(256) }));
    [big, small] = await Promise.all([OnnxEngine.create(cpuEngineOptions(MODEL_PATH)), OnnxEngine.create(cpuEngineOptions(smallPath))]);
  });
  after(async () => {
    await Promise.all([big?.close(), small?.close()]);
    await dir?.cleanup();
  });

  function make(events: string[], drops: { id: string; reason: DropReason }[], streams: string[]): Batcher {
    return new Batcher({
      engine: big,
      streams: streams.map((id) => ({ id, queueDepth: 1 })),
      maxBatch: 2,
      maxDelayMs: 0,
      perStreamCap: 1,
      logger,
      onBatch: (results: MaskResult[]) => events.push(`batch ${results.map((r) => `${r.streamId}#${r.seq}:${r.mask.length}`).join(',')}`),
      onDrop: (id, reason) => drops.push({ id, reason }),
    });
  }

  it('adds and removes streams without touching the others', async () => {
    const events: string[] = [];
    const drops: { id: string; reason: DropReason }[] = [];
    const frames = new Frames();
    const b = make(events, drops, ['a', 'b']);
    const W = big.inputWidth;
    const H = big.inputHeight;
    b.addStream({ id: 'c', queueDepth: 1 });
    assert.throws(() => b.addStream({ id: 'c', queueDepth: 1 }), /already present/);
    assert.deepEqual(b.streamIds, ['a', 'b', 'c']);

    b.offer(frames.make('a', 0, W, H)); // dispatched at once (maxDelayMs 0): in flight
    b.offer(frames.make('b', 0, W, H)); // queued behind it
    b.offer(frames.make('c', 0, W, H));
    assert.equal(b.removeStream('b'), true);
    assert.equal(b.removeStream('b'), false);
    assert.deepEqual(drops, [{ id: 'b', reason: 'reconfigured' }], "b's queued frame released as reconfigured");
    assert.equal(b.queuedFor('c'), 1, "c's frame untouched");
    assert.throws(() => b.offer(frames.make('b', 1, W, H)), /unknown stream 'b'/);
    await until(() => events.length === 2);
    await b.drain();
    assert.deepEqual(events, [`batch a#0:${W * H}`, `batch c#0:${W * H}`]);
    frames.assertAllReleasedOnce();
  });

  it('swaps the engine between batches, never during one; old-size frames are dropped after a resize', async () => {
    const events: string[] = [];
    const drops: { id: string; reason: DropReason }[] = [];
    const frames = new Frames();
    const b = make(events, drops, ['a']);
    const W = big.inputWidth;
    const H = big.inputHeight;

    b.offer(frames.make('a', 0, W, H)); // in flight on the big engine
    let switchedAfter = -1;
    const swapped = b.swapEngine(small, () => {
      switchedAfter = events.length;
      events.push('switch');
    });
    assert.equal(switchedAfter, -1, 'not during the batch in flight');
    b.offer(frames.make('a', 1, W, H)); // old size, queued: released at the switch
    await swapped;
    assert.equal(b.currentEngine, small);
    assert.deepEqual(events.slice(0, 2), [`batch a#0:${W * H}`, 'switch'], 'the batch in flight finished on the old engine first');
    b.offer(frames.make('a', 2, W, H)); // old size still arriving from a source: dropped, not thrown
    b.offer(frames.make('a', 3, SMALL_W, SMALL_H));
    assert.throws(() => b.offer(frames.make('a', 4, 10, 10)), /expected/, 'any other size is still a wiring bug');
    await until(() => events.length === 3);
    await b.drain();
    assert.deepEqual(events, [`batch a#0:${W * H}`, 'switch', `batch a#3:${SMALL_W * SMALL_H}`]);
    assert.deepEqual(drops.map((d) => `${d.id}#${d.reason}`), ['a#reconfigured', 'a#reconfigured']);
    frames.assertAllReleasedOnce();
  });
});
