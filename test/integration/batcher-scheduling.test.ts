/**
 * Batcher with the real OnnxEngine on the shipped model (and, for inference errors, a hand-encoded
 * model that fails at run time): fairness, newest-wins drops, the maxDelay flush, drain, and that
 * every frame is released exactly once. No timing assertions.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { Batcher } from '../../pipeline/batching/batcher.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import type { Frame } from '../../pipeline/core/frame.js';
import type { DropReason } from '../../pipeline/core/reasons.js';
import type { BatchTiming, MaskResult } from '../../pipeline/core/mask-result.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { REPO_ROOT, SAMPLE_CLIP_HEIGHT, SAMPLE_CLIP_WIDTH } from '../helpers/paths.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { firstClipFrames } from '../helpers/clip-frames.js';
import { WorkerFaults } from '../helpers/worker-faults.js';
import { Prng } from '../helpers/prng.js';
import { testFrame } from '../helpers/test-frame.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx');
const H = SAMPLE_CLIP_HEIGHT;
const W = SAMPLE_CLIP_WIDTH;
const FRAME_BYTES = H * W * 3;

/** Builds Frames the way a source does (own buffer, release() once) and audits the releases. */
class FrameFactory {
  private readonly releases = new Map<string, number>();
  offered = 0;

  make(streamId: string, seq: number, image: Uint8Array): Frame {
    const key = `${streamId}#${seq}`;
    this.releases.set(key, 0);
    this.offered++;
    const data = Uint8Array.from(image); // a pool slot of its own
    return testFrame({
      streamId,
      seq,
      ptsMs: seq * 100,
      width: W,
      height: H,
      data,
      onRelease: () => {
        this.releases.set(key, (this.releases.get(key) ?? 0) + 1);
        data.fill(0); // a released slot gets reused: a batcher reading it late would see zeros
      },
    });
  }

  assertAllReleasedOnce(): void {
    for (const [key, n] of this.releases) assert.equal(n, 1, `frame ${key} released ${n} times`);
  }
}

/** Records what a Batcher reports. */
class Sink {
  readonly batches: { results: MaskResult[]; timing: BatchTiming }[] = [];
  readonly drops: { streamId: string; reason: DropReason }[] = [];
  private waiters: { count: number; resolve: () => void }[] = [];
  onBatchHook: ((results: MaskResult[]) => void) | null = null;

  readonly onBatch = (results: MaskResult[], timing: BatchTiming): void => {
    this.batches.push({ results, timing });
    this.onBatchHook?.(results);
    this.waiters = this.waiters.filter((w) => (this.batches.length >= w.count ? (w.resolve(), false) : true));
  };
  readonly onDrop = (streamId: string, reason: DropReason): void => {
    this.drops.push({ streamId, reason });
  };
  /** Resolves once `count` batches have been delivered. */
  batchesDelivered(count: number): Promise<void> {
    if (this.batches.length >= count) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ count, resolve }));
  }
  dropsOf(reason: DropReason): string[] {
    return this.drops.filter((d) => d.reason === reason).map((d) => d.streamId);
  }
  delivered(): string[] {
    return this.batches.flatMap((b) => b.results.map((r) => `${r.streamId}#${r.seq}`));
  }
}

describe('Batcher with the real engine', { timeout: 180_000 }, () => {
  const logs: { level: number; msg: string }[] = [];
  const logger = pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s) as { level: number; msg: string }) });
  let engine: OnnxEngine;
  let images: Uint8Array[];
  let dir: ModelDir;

  before(async () => {
    const all = firstClipFrames(21);
    images = [all[0], all[10], all[20]] as Uint8Array[];
    engine = await OnnxEngine.create({
      modelPath: MODEL,
      providers: ['cpu'],
      cpu: { intraOpThreads: 2, interOpThreads: 1 },
      maxBatch: 2,
      warmupRuns: 1,
      logger,
    });
    dir = await makeModelDir();
  });
  after(async () => {
    await engine?.close();
    await dir?.cleanup();
  });

  function batcher(sink: Sink, streams: string[], opts: { maxDelayMs?: number; perStreamCap?: number; queueDepth?: number; use?: OnnxEngine } = {}): Batcher {
    return new Batcher({
      engine: opts.use ?? engine,
      streams: streams.map((id) => ({ id, queueDepth: opts.queueDepth ?? 1 })),
      maxBatch: 2,
      maxDelayMs: opts.maxDelayMs ?? 10_000,
      perStreamCap: opts.perStreamCap ?? 1,
      logger,
      onBatch: sink.onBatch,
      onDrop: sink.onDrop,
    });
  }

  it('3 streams, cap 1, batch 2: round-robin serves every stream and masks match the engine run on the same batch', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const streams = ['s0', 's1', 's2'];
    const b = batcher(sink, streams); // maxDelay 10 s: every batch here forms because it is full
    const seqs = [0, 0, 0];
    const offerAll = (): void =>
      streams.forEach((id, k) => {
        seqs[k] = (seqs[k] as number) + 1;
        b.offer(frames.make(id, seqs[k] as number, images[k] as Uint8Array));
      });
    // Each stream produces a new frame whenever a batch comes back (all three always have one waiting).
    const target = 6;
    sink.onBatchHook = () => {
      if (sink.batches.length < target) offerAll();
    };
    offerAll();
    await sink.batchesDelivered(target);
    await b.drain();

    assert.ok(sink.batches.every((x) => x.timing.size === 2 && x.timing.trigger === 'full'));
    const perStream = streams.map((id) => sink.batches.filter((x) => x.results.some((r) => r.streamId === id)).length);
    for (const [k, n] of perStream.entries()) assert.ok(n >= 3, `stream s${k} served in only ${n} of ${sink.batches.length} batches: ${perStream.join(',')}`);
    assert.ok(sink.batches.every((x) => x.results[0]?.streamId !== x.results[1]?.streamId), 'cap 1: never two frames of one stream in a batch');
    // Newest wins: unserved streams lost their older frame; every offered frame is accounted for.
    assert.equal(sink.delivered().length + sink.drops.length, frames.offered);
    assert.ok(sink.dropsOf('queue_full').length > 0);
    frames.assertAllReleasedOnce();

    // Each result carries its own frame's mask: re-run two batches' compositions on the engine.
    for (const { results } of sink.batches.slice(0, 2)) {
      const input = new Uint8Array(2 * FRAME_BYTES);
      results.forEach((r, i) => input.set(images[streams.indexOf(r.streamId)] as Uint8Array, i * FRAME_BYTES));
      engine.acquireInput().set(input);
      const want = await engine.run(2);
      results.forEach((r, i) => {
        assert.equal(r.width, W);
        assert.equal(r.height, H);
        assert.ok(Buffer.from(r.mask).equals(Buffer.from(want.subarray(i * H * W, (i + 1) * H * W))), `mask of ${r.streamId}#${r.seq}`);
        assert.ok(r.queuedAtNs <= r.dequeuedAtNs && r.dequeuedAtNs <= r.inferStartNs && r.inferStartNs <= r.inferEndNs);
      });
    }
  });

  it('overload, 4 streams, batch 2, cap 1: a stream with a frame waiting is never passed over by two batches in a row', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const streams = ['s0', 's1', 's2', 's3'];
    const b = batcher(sink, streams, { maxDelayMs: 0 });
    const prng = new Prng(17);
    const seqs = [0, 0, 0, 0];
    /** Streams with a frame queued now, and as the batch just delivered was dispatched. */
    const waiting = new Set<string>();
    let atDispatch = new Set<string>();
    const offer = (k: number): void => {
      const id = streams[k] as string;
      seqs[k] = (seqs[k] as number) + 1;
      waiting.add(id);
      b.offer(frames.make(id, seqs[k] as number, images[k % images.length] as Uint8Array));
    };
    const passedOver = new Map<string, number>(streams.map((id) => [id, 0]));
    let worst = 0;
    const target = 16;
    // Seeded irregular arrivals (newest-wins evicts a frame not yet taken): each stream offers with
    // probability 0.6 per batch, so streams go empty and come back, the case a plain "next after
    // the last one served" rotation could get wrong.
    sink.onBatchHook = (results) => {
      const served = new Set(results.map((r) => r.streamId));
      for (const id of atDispatch) {
        const n = served.has(id) ? 0 : (passedOver.get(id) as number) + 1;
        passedOver.set(id, n);
        worst = Math.max(worst, n);
      }
      for (const id of served) waiting.delete(id);
      if (sink.batches.length < target) for (let k = 0; k < streams.length; k++) if (prng.next() < 0.6) offer(k);
      if (sink.batches.length < target && waiting.size === 0) offer(prng.int(streams.length)); // keep it going
      // The next batch is dispatched as this callback returns (maxDelay 0), from exactly these.
      atDispatch = new Set(waiting);
    };
    // maxDelay 0 and an idle engine: s0 goes alone at once; the others wait for the next batch.
    offer(0);
    atDispatch = new Set(waiting);
    for (let k = 1; k < streams.length; k++) offer(k);
    await sink.batchesDelivered(target);
    await b.drain();
    assert.ok(worst <= 1, `a stream with a frame waiting was passed over by ${worst} batches in a row`);
    assert.ok(sink.batches.every((x) => x.results.length < 2 || x.results[0]?.streamId !== x.results[1]?.streamId));
    for (const id of streams) assert.ok(sink.delivered().some((d) => d.startsWith(`${id}#`)), `${id} never served`);
    assert.equal(sink.delivered().length + sink.drops.length, frames.offered);
    frames.assertAllReleasedOnce();
  });

  it('maxDelayMs 0: a lone frame goes at once when the engine is idle, and frames that came during a run go together', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const b = batcher(sink, ['a', 'b', 'c'], { maxDelayMs: 0 });
    b.offer(frames.make('a', 1, images[0] as Uint8Array)); // engine idle: in flight now, alone
    b.offer(frames.make('b', 1, images[1] as Uint8Array)); // these two wait for the run in flight
    b.offer(frames.make('c', 1, images[2] as Uint8Array));
    await sink.batchesDelivered(2);
    await b.drain();
    assert.deepEqual(
      sink.batches.map((x) => x.results.map((r) => r.streamId)),
      [['a'], ['b', 'c']],
    );
    assert.equal(sink.batches[0]?.timing.trigger, 'deadline');
    assert.equal(sink.batches[1]?.timing.trigger, 'full');
    frames.assertAllReleasedOnce();
  });

  it('newest wins: a full queue evicts its oldest frame, counted queue_full, and the newest is inferred', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const b = batcher(sink, ['a'], { queueDepth: 2 });
    const img = images[0] as Uint8Array;
    b.offer(frames.make('a', 1, img)); // one stream, cap 1: a batch of 1 is full → in flight at once
    for (let seq = 2; seq <= 5; seq++) b.offer(frames.make('a', seq, img)); // queue of 2: 2 and 3 get evicted
    assert.equal(b.queuedFor('a'), 2);
    await sink.batchesDelivered(3);
    await b.drain();
    assert.deepEqual(sink.delivered(), ['a#1', 'a#4', 'a#5']);
    assert.deepEqual(sink.drops, [
      { streamId: 'a', reason: 'queue_full' },
      { streamId: 'a', reason: 'queue_full' },
    ]);
    frames.assertAllReleasedOnce();
  });

  it('a partial batch is flushed maxDelayMs after its first frame', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const b = batcher(sink, ['a', 'b'], { maxDelayMs: 30 });
    b.offer(frames.make('b', 1, images[1] as Uint8Array)); // batch of 2 wanted; only one frame comes
    assert.equal(sink.batches.length, 0);
    await sink.batchesDelivered(1);
    const first = sink.batches[0];
    assert.equal(first?.timing.size, 1);
    assert.equal(first?.timing.trigger, 'deadline');
    assert.equal(first?.results[0]?.streamId, 'b');
    // Both streams offering → full batch without waiting for the deadline.
    b.offer(frames.make('a', 1, images[0] as Uint8Array));
    b.offer(frames.make('b', 2, images[1] as Uint8Array));
    await sink.batchesDelivered(2);
    assert.equal(sink.batches[1]?.timing.trigger, 'full');
    await b.drain();
    frames.assertAllReleasedOnce();
  });

  it('drain: finishes the batch in flight, drops queued and later frames as shutdown, idempotent', async () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const b = batcher(sink, ['a', 'b']);
    b.offer(frames.make('a', 1, images[0] as Uint8Array));
    b.offer(frames.make('b', 1, images[1] as Uint8Array)); // full → in flight
    b.offer(frames.make('a', 2, images[0] as Uint8Array)); // queued
    b.offer(frames.make('b', 2, images[1] as Uint8Array)); // queued
    const d1 = b.drain();
    const d2 = b.drain();
    assert.equal(d1, d2);
    assert.deepEqual(sink.dropsOf('shutdown').sort(), ['a', 'b']); // queued frames dropped at once
    assert.equal(sink.batches.length, 0, 'the batch in flight has not finished yet');
    await d1;
    assert.deepEqual(sink.delivered(), ['a#1', 'b#1']); // ...but is delivered before drain resolves
    b.offer(frames.make('a', 3, images[0] as Uint8Array));
    assert.deepEqual(sink.dropsOf('shutdown').sort(), ['a', 'a', 'b']);
    assert.equal(b.queued, 0);
    frames.assertAllReleasedOnce();
  });

  it('rejects frames of an unknown stream or the wrong size (releasing them)', () => {
    const sink = new Sink();
    const frames = new FrameFactory();
    const b = batcher(sink, ['a']);
    assert.throws(() => b.offer(frames.make('zzz', 1, images[0] as Uint8Array)), /unknown stream 'zzz'/);
    const small = frames.make('a', 1, new Uint8Array(10));
    assert.throws(() => b.offer(small), /has 10 bytes, expected 518400/);
    frames.assertAllReleasedOnce();
    return b.drain();
  });

  it('an inference error drops that batch as inference_error, is logged, and batching continues', async () => {
    const bytes = failsOnBrightPixelsModel(H, W);
    const modelPath = await dir.writeModel('fails', bytes, contractCard(bytes, H, W, { classes: cardClasses(200) }));
    const failing = await OnnxEngine.create(cpuEngineOptions(modelPath, { logger }));
    try {
      const sink = new Sink();
      const frames = new FrameFactory();
      const b = batcher(sink, ['a', 'b'], { use: failing });
      const dark = new Uint8Array(FRAME_BYTES).map((_, i) => (i * 7) % 199); // all bytes < 200: runs
      const bright = Uint8Array.from(dark);
      bright[12345] = 250; // one byte >= 200: the model's Gather rejects the batch
      const errorsBefore = logs.filter((l) => l.level === 50 && l.msg === 'inference failed; batch dropped').length;
      b.offer(frames.make('a', 1, bright));
      b.offer(frames.make('b', 1, dark)); // batch 1: fails
      b.offer(frames.make('a', 2, dark));
      b.offer(frames.make('b', 2, dark)); // batch 2: runs
      await sink.batchesDelivered(1);
      await b.drain();
      assert.deepEqual(sink.dropsOf('inference_error').sort(), ['a', 'b']);
      assert.equal(logs.filter((l) => l.level === 50 && l.msg === 'inference failed; batch dropped').length, errorsBefore + 1);
      assert.deepEqual(sink.delivered(), ['a#2', 'b#2']);
      // This model's mask is max(R, G, B) per pixel: check the delivered bytes exactly.
      const want = new Uint8Array(H * W).map((_, p) => Math.max(dark[3 * p] as number, dark[3 * p + 1] as number, dark[3 * p + 2] as number));
      for (const r of sink.batches[0]?.results ?? []) assert.ok(Buffer.from(r.mask).equals(Buffer.from(want)));
      frames.assertAllReleasedOnce();
    } finally {
      await failing.close();
    }
  });

  it('a worker that dies mid-batch: that batch is dropped as inference_error, batching resumes on the restarted worker', async () => {
    const bytes = failsOnBrightPixelsModel(H, W);
    const modelPath = await dir.writeModel('crashes', bytes, contractCard(bytes, H, W, { classes: cardClasses(200) }));
    const faults = new WorkerFaults();
    const crashing = await OnnxEngine.create(cpuEngineOptions(modelPath, { logger, restart: { baseDelayMs: 20 }, workerScript: faults.script }));
    try {
      const sink = new Sink();
      const frames = new FrameFactory();
      const b = batcher(sink, ['a', 'b'], { use: crashing });
      const dark = new Uint8Array(FRAME_BYTES).map((_, i) => (i * 5) % 197);
      faults.arm('exit'); // the worker exits when the next batch arrives
      b.offer(frames.make('a', 1, dark));
      b.offer(frames.make('b', 1, dark)); // batch 1: in flight when the worker dies
      b.offer(frames.make('a', 2, dark));
      b.offer(frames.make('b', 2, dark)); // batch 2: waits for the restarted worker
      await sink.batchesDelivered(1);
      await b.drain();
      assert.deepEqual(sink.dropsOf('inference_error').sort(), ['a', 'b']);
      assert.deepEqual(sink.delivered(), ['a#2', 'b#2']);
      const want = new Uint8Array(H * W).map((_, p) => Math.max(dark[3 * p] as number, dark[3 * p + 1] as number, dark[3 * p + 2] as number));
      for (const r of sink.batches[0]?.results ?? []) assert.ok(Buffer.from(r.mask).equals(Buffer.from(want)));
      frames.assertAllReleasedOnce();
    } finally {
      await crashing.close();
    }
  });

  it('refuses a batch larger than the engine takes', () => {
    assert.throws(
      () =>
        new Batcher({
          engine,
          streams: [{ id: 'a', queueDepth: 1 }],
          maxBatch: 3,
          maxDelayMs: 10,
          perStreamCap: 1,
          logger,
          onBatch: () => undefined,
          onDrop: () => undefined,
        }),
      /maxBatch 3 exceeds the engine's maxBatch 2/,
    );
  });
});
