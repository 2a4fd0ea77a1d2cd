// Snapshots (pipeline/publish/snapshot-sink.ts) with the real worker thread and sharp: the JPEG is
// the frame with the mask blended at the configured opacity and the entering zone outlined; a
// zone's enter hands it to MQTT with the zone's name; a busy encoder drops snapshots (counted)
// while every frame returns at once; the per-camera rate limit drops (counted) on capture time; a
// request gets the next frame, and fails by name for an unknown stream or when no frame comes.
import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import sharp from 'sharp';
import { StreamAnalyzer } from '../../pipeline/analysis/frame-analysis.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import type { SnapshotDropReason } from '../../pipeline/core/reasons.js';
import type { ZoneConfig } from '../../pipeline/core/zone-config.js';
import { SnapshotSink, SnapshotUnavailable, paletteOf } from '../../pipeline/publish/snapshot-sink.js';
import { memoryLogger, waitFor } from '../helpers/source-harness.js';

const W = 64;
const H = 48;
const CLASSES = ['road', 'sky'];
const CARD = { classes: [{ name: 'road', color: [0, 0, 255] }, { name: 'sky', color: [255, 0, 0] }] };
const TOP: ZoneConfig = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], classes: ['sky'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 };
const GREY = 100;

/** Top half sky (or road when `sky` is false), bottom half road; `seq` sets the capture time (100 ms per frame). */
function frame(stream: string, seq: number, sky = true): MaskResult {
  const mask = new Uint8Array(W * H);
  if (sky) mask.fill(1, 0, (W * H) / 2);
  return { streamId: stream, seq, ptsMs: seq * 100, captureTimeMs: 1_700_000_000_000 + seq * 100, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: W, height: H, mask };
}

const harnesses: Harness[] = [];

class Harness {
  readonly published: Array<{ stream: string; zones: readonly string[]; jpeg: Buffer }> = [];
  readonly dropped = new Map<SnapshotDropReason, number>();
  readonly analyzers = new Map<string, StreamAnalyzer>();
  readonly sink: SnapshotSink;
  readonly rgb = new Uint8Array(W * H * 3).fill(GREY);
  constructor(streams: readonly string[], minIntervalMs = 0) {
    harnesses.push(this);
    for (const s of streams) this.analyzers.set(s, new StreamAnalyzer(s, W, H, CLASSES, [TOP]));
    this.sink = new SnapshotSink({
      palette: paletteOf(CARD),
      opacity: 0.5,
      quality: 100,
      minIntervalMs,
      streams: streams.map((id) => ({ id, zones: [TOP] })),
      publish: (stream, zones, jpeg) => {
        this.published.push({ stream, zones, jpeg });
        return true;
      },
      logger: memoryLogger().logger,
      hooks: { onDropped: (r) => this.dropped.set(r, (this.dropped.get(r) ?? 0) + 1) },
    });
  }
  feed(r: MaskResult): void {
    const analysis = (this.analyzers.get(r.streamId) as StreamAnalyzer).analyze(r);
    this.sink.onFrame({ result: r, rgb: this.rgb, analysis });
  }
}

async function pixels(jpeg: Buffer): Promise<{ at(x: number, y: number): [number, number, number]; width: number; height: number }> {
  const { data, info } = await sharp(jpeg).raw().toBuffer({ resolveWithObject: true });
  return { width: info.width, height: info.height, at: (x, y) => [...data.subarray((y * info.width + x) * 3, (y * info.width + x) * 3 + 3)] as [number, number, number] };
}

function near(actual: readonly number[], expected: readonly number[], tol: number, what: string): void {
  assert.ok(actual.every((v, i) => Math.abs(v - (expected[i] as number)) <= tol), `${what}: ${actual} not within ${tol} of ${expected}`);
}

describe('snapshots (worker thread + sharp)', () => {
  after(() => Promise.all(harnesses.map((h) => h.sink.close())));

  it('a zone enter publishes the frame with the mask blended at the opacity and the zone outlined', async () => {
    const h = new Harness(['a']);
    h.feed(frame('a', 1));
    await waitFor(() => h.published.length === 1, 'the snapshot');
    const [p] = h.published;
    assert.deepEqual([p?.stream, p?.zones], ['a', ['top']]);
    const img = await pixels(p?.jpeg as Buffer);
    assert.deepEqual([img.width, img.height], [W, H]);
    // Half grey, half class colour: sky (255, 0, 0) in the zone, road (0, 0, 255) below it.
    near(img.at(32, 12), [(GREY + 255) / 2, GREY / 2, GREY / 2], 8, 'sky, blended');
    near(img.at(32, 40), [GREY / 2, GREY / 2, (GREY + 255) / 2], 8, 'road, blended');
    near(img.at(32, 0), [255, 221, 0], 24, 'the zone outline (top edge)');
    near(img.at(0, 12), [255, 221, 0], 24, 'the zone outline (left edge)');
    await h.sink.close();
  });

  it('a busy encoder drops snapshots (counted); every frame is handled at once, none waits', async () => {
    const streams = ['s0', 's1', 's2', 's3', 's4', 's5'];
    const h = new Harness(streams);
    // Six enters in one tick: the worker holds two jobs, the other four are dropped.
    for (const s of streams) h.feed(frame(s, 1));
    assert.equal(h.dropped.get('encoder_busy'), 4);
    await waitFor(() => h.published.length === 2, 'the two snapshots encoded');
    // The first two taken; the worker's two encodes may finish in either order.
    assert.deepEqual(h.published.map((p) => p.stream).sort(), ['s0', 's1']);
    await h.sink.close();
  });

  it('the per-camera rate limit drops an enter within minIntervalMs of the last snapshot (capture time), counted', async () => {
    const h = new Harness(['r'], 1000);
    h.feed(frame('r', 1)); // enter
    await waitFor(() => h.published.length === 1, 'the first snapshot');
    h.feed(frame('r', 2, false)); // exit
    h.feed(frame('r', 3)); // enter 200 ms later: rate-limited
    assert.equal(h.dropped.get('rate_limited'), 1);
    h.feed(frame('r', 12, false));
    h.feed(frame('r', 13)); // enter 1200 ms after the first snapshot
    await waitFor(() => h.published.length === 2, 'the second snapshot');
    assert.equal(h.dropped.get('rate_limited'), 1);
    await h.sink.close();
  });

  it('a request gets the next frame of the stream; an unknown stream and a stream without frames fail by name', async () => {
    const h = new Harness(['q']);
    const asked = h.sink.request('q', 30_000);
    h.feed(frame('q', 1, false)); // no event: only the request makes a snapshot
    const jpeg = await asked;
    assert.deepEqual([...jpeg.subarray(0, 3)], [0xff, 0xd8, 0xff]);
    assert.equal(h.published.length, 0, 'a request publishes nothing on MQTT');
    await assert.rejects(h.sink.request('nope', 1000), (e: unknown) => e instanceof SnapshotUnavailable && e.reason === 'gone');
    await assert.rejects(h.sink.request('q', 50), (e: unknown) => e instanceof SnapshotUnavailable && e.reason === 'timeout' && /no frame of stream q/.test(e.message));
    await h.sink.close();
    await assert.rejects(h.sink.request('q', 1000), (e: unknown) => e instanceof SnapshotUnavailable && e.reason === 'closed');
  });
});
