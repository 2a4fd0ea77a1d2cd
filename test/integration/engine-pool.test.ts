// Two ONNX Runtime sessions side by side (model.sessions: 2, pipeline/engine/onnx-engine-pool.ts),
// through the real Batcher: two batches in flight, every stream's masks in order, each mask the one
// a single session gives for that frame, and each batch's pixels its own (the ring's rule). A bad
// session count is refused; one session is a plain OnnxEngine.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { createOnnxEngines, OnnxEngine, OnnxEnginePool } from '../../pipeline/engine/index.js';
import { firstClipFrames } from '../helpers/clip-frames.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { checkInFlightBatches } from '../helpers/in-flight-batches.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');

describe('OnnxEnginePool: sessions side by side', { timeout: 300_000 }, () => {
  it('two sessions through the Batcher: two batches in flight, masks in order and equal to one session\'s, pixels their own', async () => {
    const frames = firstClipFrames(4);
    const single = await OnnxEngine.create(cpuEngineOptions(MODEL));
    const pool = await createOnnxEngines({ ...cpuEngineOptions(MODEL), sessions: 2 });
    assert.ok(pool instanceof OnnxEnginePool);
    assert.equal(pool.maxInFlight, 2);
    assert.equal(pool.provider, 'cpu');
    // Count overlapping runs at the pool's own run(): the batcher must use both sessions at once.
    let running = 0;
    let most = 0;
    const run = pool.run.bind(pool);
    pool.run = (n: number) => {
      most = Math.max(most, ++running);
      return run(n).finally(() => running--);
    };
    try {
      const want: Uint8Array[] = [];
      for (const f of frames) {
        const input = single.acquireInput();
        input.set(f);
        want.push(new Uint8Array(await single.run(1)));
      }
      await checkInFlightBatches(pool, frames, want);
      assert.equal(most, 2, 'two batches ran at once');
    } finally {
      await Promise.all([single.close(), pool.close()]);
    }
  });

  it('one session is a plain OnnxEngine; a session count below 1 is refused naming the setting', async () => {
    const one = await createOnnxEngines({ ...cpuEngineOptions(MODEL), sessions: 1 });
    try {
      assert.ok(one instanceof OnnxEngine);
    } finally {
      await one.close();
    }
    await assert.rejects(createOnnxEngines({ ...cpuEngineOptions(MODEL), sessions: 0 }), /model\.sessions: expected an integer >= 1, got 0/);
  });
});
