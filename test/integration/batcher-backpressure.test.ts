/**
 * Backpressure between the batcher and a source, with the real OnnxEngine on the shipped model:
 * the onQueueSpace edges (full / room), an offer made from inside the callback, and a real
 * unpaced FfmpegSource wired as daemon/app.ts wires it — every frame of the clip inferred, in
 * order, none dropped. No timing assertions.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import type { Frame } from '../../pipeline/core/frame.js';
import type { DropReason } from '../../pipeline/core/reasons.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import { FfmpegSource, pacingOf } from '../../pipeline/sources/index.js';
import { FFMPEG_PATH, REPO_ROOT, SAMPLE_CLIP_HEIGHT, SAMPLE_CLIP_VAL, SAMPLE_CLIP_WIDTH } from '../helpers/paths.js';
import { streamConfig, waitFor } from '../helpers/source-harness.js';
import { testFrame } from '../helpers/test-frame.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx');
const H = SAMPLE_CLIP_HEIGHT;
const W = SAMPLE_CLIP_WIDTH;
const FRAME_BYTES = H * W * 3;

function firstFrame(): Uint8Array {
  const r = spawnSync(FFMPEG_PATH, ['-nostdin', '-v', 'error', '-i', SAMPLE_CLIP_VAL, '-frames:v', '1', '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'], {
    maxBuffer: FRAME_BYTES + 1024,
  });
  assert.equal(r.status, 0, `ffmpeg failed: ${r.stderr?.toString()}`);
  return new Uint8Array(r.stdout.subarray(0, FRAME_BYTES));
}

/** A Frame with a buffer of its own that counts its releases. */
function frameOf(streamId: string, seq: number, image: Uint8Array, released: Map<string, number>): Frame {
  const key = `${streamId}#${seq}`;
  released.set(key, 0);
  return testFrame({ streamId, seq, ptsMs: seq * 100, width: W, height: H, data: Uint8Array.from(image), onRelease: () => released.set(key, (released.get(key) ?? 0) + 1) });
}

describe('Batcher backpressure with the real engine', { timeout: 240_000 }, () => {
  const logger = pino({ level: 'silent' });
  let engine: OnnxEngine;
  let image: Uint8Array;

  before(async () => {
    image = firstFrame();
    engine = await OnnxEngine.create({
      modelPath: MODEL,
      providers: ['cpu'],
      cpu: { intraOpThreads: 2, interOpThreads: 1 },
      maxBatch: 2,
      warmupRuns: 1,
      logger,
    });
  });
  after(async () => {
    await engine?.close();
  });

  it('tells a backpressure stream "full" when its queue fills and "room" once a batch took its frame; a producer offering from the callback loses nothing', async () => {
    const events: string[] = [];
    const results: MaskResult[] = [];
    const drops: { streamId: string; reason: DropReason }[] = [];
    const released = new Map<string, number>();
    const total = 12;
    let next = 0;
    let b: Batcher | null = null;
    const offerNext = (): void => {
      if (next < total) (b as Batcher).offer(frameOf('bp', next++, image, released));
    };
    b = new Batcher({
      engine,
      streams: [
        {
          id: 'bp',
          queueDepth: 1,
          // The producer honours the signal: it offers its next frame the moment there is room.
          onQueueSpace: (hasRoom) => {
            events.push(hasRoom ? 'room' : 'full');
            if (hasRoom) offerNext();
          },
        },
        { id: 'nw', queueDepth: 1 }, // newest-wins beside it: never told anything
      ],
      maxBatch: 2,
      maxDelayMs: 5,
      perStreamCap: 1,
      logger,
      onBatch: (r) => results.push(...r),
      onDrop: (streamId, reason) => drops.push({ streamId, reason }),
    });
    offerNext();
    // A newest-wins stream offered faster than it is served drops as before.
    for (let s = 0; s < 3; s++) b.offer(frameOf('nw', s, image, released));
    await waitFor(() => results.filter((r) => r.streamId === 'bp').length === total, `${total} bp results`, 120_000);
    await b.drain();

    assert.deepEqual(results.filter((r) => r.streamId === 'bp').map((r) => r.seq), [...Array(total).keys()]);
    assert.deepEqual(drops.filter((d) => d.streamId === 'bp'), [], 'no frame of the backpressure stream dropped');
    assert.ok(drops.some((d) => d.streamId === 'nw' && d.reason === 'queue_full'), 'newest-wins still evicts');
    // Strict alternation, starting with "full": told only on the edges.
    assert.equal(events[0], 'full');
    for (let k = 1; k < events.length; k++) assert.notEqual(events[k], events[k - 1], `event ${k}: ${events.join(',')}`);
    assert.equal(events.filter((e) => e === 'room').length, total, 'one "room" per frame taken');
    for (const [key, n] of released) assert.equal(n, 1, `frame ${key} released ${n} times`);
  });

  it('an unpaced, non-looping file through a real source: all 100 frames inferred, seq 0..99, zero drops', async () => {
    const cfg = streamConfig('file', SAMPLE_CLIP_VAL, { loop: false, realtime: false });
    assert.equal(pacingOf(cfg), 'backpressure');
    assert.equal(pacingOf({ ...cfg, realtime: true }), 'newest_wins');
    assert.equal(pacingOf({ ...cfg, url: 'rtsp://127.0.0.1:8554/cam', realtime: false }), 'newest_wins', 'a live source cannot be slowed');

    const seqs: number[] = [];
    const drops: DropReason[] = [];
    let pauses = 0;
    let src: FfmpegSource | null = null;
    // As daemon/app.ts wires it: the batcher's edges pause and resume the source.
    const b = new Batcher({
      engine,
      streams: [
        {
          id: cfg.id,
          queueDepth: cfg.queueDepth,
          onQueueSpace: (hasRoom) => {
            if (hasRoom) src?.resume();
            else {
              pauses++;
              src?.pause();
            }
          },
        },
      ],
      maxBatch: 2,
      maxDelayMs: 15,
      perStreamCap: 1,
      logger,
      onBatch: (results) => {
        for (const r of results) seqs.push(r.seq);
      },
      onDrop: (_id, reason) => drops.push(reason),
    });
    src = new FfmpegSource(cfg, {
      ffmpegPath: FFMPEG_PATH,
      width: engine.inputWidth,
      height: engine.inputHeight,
      poolSize: cfg.queueDepth + 3,
      logger,
      observer: {
        onFrame: (frame) => b.offer(frame),
        onState: () => undefined,
        onRestart: () => undefined,
        onDrop: (_id, reason) => drops.push(reason),
      },
    });
    try {
      src.start();
      await waitFor(() => src.state === 'stopped' && seqs.length + drops.length >= 100, 'EOF and every frame accounted for', 200_000, () => `seqs=${seqs.length} drops=${drops.join(',')} state=${src?.state}`);
      await b.drain();
      assert.equal(src.stateReason, 'eof');
      assert.deepEqual(drops, []);
      assert.deepEqual(seqs, [...Array(100).keys()]);
      assert.equal(src.stats.frames, 100);
      assert.ok(pauses > 0, 'the source was paused by the batcher');
    } finally {
      await src.close();
      await b.drain();
    }
  });
});
