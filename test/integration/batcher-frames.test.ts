/**
 * The batcher's pixel hook (for preview JPEGs): with the real engine (inference in its worker
 * thread, the input buffer transferred there and back), `onBatch` gets each result's own RGB
 * pixels — exactly the frame the mask was computed from — and only for the duration of the call.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import type { Frame } from '../../pipeline/core/frame.js';
import type { BatchFrames, MaskResult } from '../../pipeline/core/mask-result.js';
import { REPO_ROOT, SAMPLE_CLIP_HEIGHT as H, SAMPLE_CLIP_WIDTH as W } from '../helpers/paths.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { firstClipFrames } from '../helpers/clip-frames.js';
import { testFrame } from '../helpers/test-frame.js';

function frame(streamId: string, seq: number, image: Uint8Array): Frame {
  const data = Uint8Array.from(image);
  return testFrame({ streamId, seq, width: W, height: H, data, onRelease: () => data.fill(0) }); // a reused pool slot: reading it late would see zeros
}

describe('Batcher pixel hook', { timeout: 120_000 }, () => {
  it("hands onBatch each result's own input pixels, valid only during the call", async (t) => {
    const engine = await OnnxEngine.create(cpuEngineOptions(join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx')));
    t.after(() => engine.close());
    const all = firstClipFrames(31);
    const images = new Map([
      ['a', all[0] as Uint8Array],
      ['b', all[30] as Uint8Array],
    ]);

    let kept: BatchFrames | null = null;
    const checked: string[] = [];
    const delivered = new Promise<void>((resolve, reject) => {
      const b = new Batcher({
        engine,
        streams: [
          { id: 'a', queueDepth: 1 },
          { id: 'b', queueDepth: 1 },
        ],
        maxBatch: 2,
        maxDelayMs: 1000,
        perStreamCap: 1,
        logger: pino({ level: 'silent' }),
        onBatch: (results: MaskResult[], _timing, frames) => {
          try {
            assert.equal(results.length, 2);
            results.forEach((r, i) => {
              const rgb = frames.rgb(i);
              assert.equal(rgb.length, W * H * 3);
              assert.ok(Buffer.from(rgb).equals(Buffer.from(images.get(r.streamId) as Uint8Array)), `pixels of ${r.streamId} are its frame`);
              checked.push(r.streamId);
            });
            assert.throws(() => frames.rgb(2), /index 2; expected 0…1/);
            kept = frames;
            resolve();
          } catch (err) {
            reject(err as Error);
          }
        },
        onDrop: (id, reason) => reject(new Error(`unexpected drop ${id} ${reason}`)),
      });
      b.offer(frame('a', 1, images.get('a') as Uint8Array));
      b.offer(frame('b', 1, images.get('b') as Uint8Array));
    });
    await delivered;
    assert.deepEqual(checked.sort(), ['a', 'b']);
    const after = kept as BatchFrames | null;
    assert.ok(after);
    assert.throws(() => after.rgb(0), /only during onBatch/);
  });
});
