// Two ONNX Runtime sessions side by side (model.sessions: 2, pipeline/engine/onnx-engine-pool.ts),
// through the real Batcher: two batches in flight, every stream's masks in order, each mask the one
// a single session gives for that frame, and each batch's pixels its own (the ring's rule). A bad
// session count is refused; one session is a plain OnnxEngine.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import { createOnnxEngines, OnnxEngine, OnnxEnginePool } from '../../pipeline/engine/index.js';
import { firstClipFrames } from '../helpers/clip-frames.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');

/** Polls `cond` (no deadline of its own: the test's timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 50));
}

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
    const streams = ['s0', 's1', 's2', 's3'];
    const perStream = 6;
    const got: { streamId: string; seq: number; mask: Uint8Array; rgb: Uint8Array }[] = [];
    let released = 0;
    const b = new Batcher({
      engine: pool,
      streams: streams.map((id) => ({ id, queueDepth: perStream })),
      maxBatch: 2,
      maxDelayMs: 0,
      perStreamCap: 1,
      logger: pino({ level: 'silent' }),
      onBatch: (results, _timing, batchFrames) => results.forEach((r, i) => got.push({ streamId: r.streamId, seq: r.seq, mask: Uint8Array.from(r.mask), rgb: Uint8Array.from(batchFrames.rgb(i)) })),
      onDrop: (id, reason) => assert.fail(`${id} dropped (${reason})`),
    });
    try {
      const frameOf = (k: number, seq: number): Uint8Array => frames[(k + seq) % frames.length] as Uint8Array;
      for (let seq = 0; seq < perStream; seq++) {
        streams.forEach((id, k) =>
          b.offer({ streamId: id, seq, ptsMs: null, captureTimeMs: Date.now(), decodedAtNs: process.hrtime.bigint(), width: pool.inputWidth, height: pool.inputHeight, data: Uint8Array.from(frameOf(k, seq)), release: () => released++ }),
        );
      }
      await until(() => got.length === streams.length * perStream);
      await b.drain();
      assert.equal(most, 2, 'two batches ran at once');
      assert.equal(released, streams.length * perStream);
      const want: Uint8Array[] = [];
      for (const f of frames) {
        const input = single.acquireInput();
        input.set(f);
        want.push(new Uint8Array(await single.run(1)));
      }
      streams.forEach((id, k) => {
        const mine = got.filter((g) => g.streamId === id);
        assert.deepEqual(mine.map((g) => g.seq), Array.from({ length: perStream }, (_, i) => i), `${id}: in order`);
        for (const g of mine) {
          const f = (k + g.seq) % frames.length;
          assert.ok(Buffer.from(g.rgb).equals(Buffer.from(frames[f] as Uint8Array)), `${id} seq ${g.seq}: the pixels of its own frame`);
          assert.ok(Buffer.from(g.mask).equals(Buffer.from(want[f] as Uint8Array)), `${id} seq ${g.seq}: one session's mask of its frame`);
        }
      });
    } finally {
      await b.drain();
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
