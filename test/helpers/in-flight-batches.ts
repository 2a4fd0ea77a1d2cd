/**
 * Drives an engine that keeps several batches in flight (TritonEngine, OnnxEnginePool) through the real
 * Batcher: 4 streams × `perStream` frames queued at once, so a second batch is sent before the first
 * returns. Checks every stream's masks in order, each frame's pixels its own (the input ring's rule)
 * and each mask equal to `want[frame]` (a one-at-a-time engine's mask of that frame).
 */
import assert from 'node:assert/strict';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import type { SegEngine } from '../../pipeline/engine/index.js';

/** Polls `cond` (no deadline of its own: the test's timeout bounds it). */
async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 50));
}

export async function checkInFlightBatches(engine: SegEngine, frames: readonly Uint8Array[], want: readonly Uint8Array[], perStream = 6): Promise<void> {
  const streams = ['s0', 's1', 's2', 's3'];
  const got: { streamId: string; seq: number; mask: Uint8Array; rgb: Uint8Array }[] = [];
  let released = 0;
  const b = new Batcher({
    engine,
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
        b.offer({ streamId: id, seq, ptsMs: null, captureTimeMs: Date.now(), decodedAtNs: process.hrtime.bigint(), width: engine.inputWidth, height: engine.inputHeight, data: Uint8Array.from(frameOf(k, seq)), release: () => released++ }),
      );
    }
    await until(() => got.length === streams.length * perStream);
  } finally {
    await b.drain();
  }
  assert.equal(released, streams.length * perStream);
  streams.forEach((id, k) => {
    const mine = got.filter((g) => g.streamId === id);
    assert.deepEqual(mine.map((g) => g.seq), Array.from({ length: perStream }, (_, i) => i), `${id}: in order`);
    for (const g of mine) {
      const f = (k + g.seq) % frames.length;
      assert.ok(Buffer.from(g.rgb).equals(Buffer.from(frames[f] as Uint8Array)), `${id} seq ${g.seq}: the pixels of its own frame`);
      assert.ok(Buffer.from(g.mask).equals(Buffer.from(want[f] as Uint8Array)), `${id} seq ${g.seq}: the one-at-a-time mask of its frame`);
    }
  });
}
