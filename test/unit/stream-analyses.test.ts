// Every stream's analysis (pipeline/analysis/stream-analyses.ts) and the frame router
// (pipeline/publish/frame-router.ts): the analyzer prepared to validate a change is the one that
// runs; an unchanged zone keeps its occupancy across a change and a model swap; a zone removed,
// renamed or redefined, or its stream removed, ends an occupancy with `exit`; the router hands
// every frame to every sink in order, skips a removed stream's frames, and one sink's throw
// reaches neither the others nor the caller.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { StreamAnalyses } from '../../pipeline/analysis/stream-analyses.js';
import type { BatchFrames, BatchTiming, MaskResult } from '../../pipeline/core/mask-result.js';
import type { ZoneConfig } from '../../pipeline/core/zone-config.js';
import { FrameRouter } from '../../pipeline/publish/frame-router.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from '../../pipeline/publish/sink.js';
import { memoryLogger } from '../helpers/source-harness.js';

const W = 4;
const H = 2;
const MODEL = { width: W, height: H, classNames: ['road', 'sky'] };
const TOP: ZoneConfig = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], classes: ['sky'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0 } as unknown as ZoneConfig;
const BOTTOM: ZoneConfig = { ...TOP, name: 'bottom', polygon: [[0, 0.5], [1, 0.5], [1, 1], [0, 1]], classes: ['road'] } as unknown as ZoneConfig;

/** Top row sky, bottom row road: both zones full. */
function frame(streamId: string, seq: number): MaskResult {
  const mask = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
  return { streamId, seq, ptsMs: seq, captureTimeMs: 1000 + seq, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: W, height: H, mask };
}

describe('StreamAnalyses', () => {
  it('the analyzer prepare() validated is the one set() runs; a bad zone throws naming it and changes nothing', () => {
    const analyses = new StreamAnalyses(MODEL);
    const prepared = analyses.prepare({ id: 'cam', zones: [TOP] });
    assert.equal(analyses.has('cam'), false, 'prepare changes nothing');
    assert.equal(analyses.set({ id: 'cam', zones: [TOP] }).analyzer, prepared);
    assert.throws(() => analyses.prepare({ id: 'cam', zones: [{ ...TOP, classes: ['bus'] } as ZoneConfig] }), /zone "top" \(zones\[0\]\) classes\[0\]: unknown class "bus"/);
    assert.throws(() => analyses.set({ id: 'cam', zones: [{ ...TOP, classes: ['bus'] } as ZoneConfig] }), /unknown class "bus"/);
    assert.equal(analyses.get('cam'), prepared, 'the failed change left the analysis as it was');
  });

  it('an unchanged zone keeps its occupancy; a renamed one exits; the stream removed exits the rest', () => {
    const analyses = new StreamAnalyses(MODEL);
    analyses.set({ id: 'cam', zones: [TOP, BOTTOM] });
    const entered = analyses.analyze(frame('cam', 1))?.events ?? [];
    assert.deepEqual(entered.map((e) => `${e.type} ${e.zone}`), ['enter top', 'enter bottom']);

    // a model swap (same classes, same size): nothing ends, both stay occupied
    analyses.setModel({ ...MODEL });
    const swapped = analyses.set({ id: 'cam', zones: [TOP, BOTTOM] });
    assert.deepEqual([swapped.ended, swapped.removedZones], [[], []]);
    assert.deepEqual(analyses.get('cam')?.states().map((s) => s.state), ['occupied', 'occupied']);
    assert.deepEqual(analyses.analyze(frame('cam', 2))?.events, [], 'no second enter');

    // `top` renamed: it exits with the id of its enter, at its last reading
    const renamed = analyses.set({ id: 'cam', zones: [{ ...TOP, name: 'upper' } as ZoneConfig, BOTTOM] });
    assert.deepEqual(renamed.removedZones, ['top']);
    assert.deepEqual(renamed.ended.map((e) => [e.type, e.zone, e.id, e.endMs, e.after.seq]), [['exit', 'top', entered[0]?.id, 1002, 2]]);
    assert.deepEqual(analyses.get('cam')?.states().map((s) => `${s.zone} ${s.state}`), ['upper clear', 'bottom occupied']);

    const removed = analyses.remove('cam');
    assert.deepEqual([removed.analyzer, removed.removedZones], [null, ['upper', 'bottom']]);
    assert.deepEqual(removed.ended.map((e) => `${e.type} ${e.zone}`), ['exit bottom'], 'upper never entered: nothing to end');
    assert.equal(analyses.has('cam'), false);
    assert.equal(analyses.analyze(frame('cam', 3)), null);
  });
});

class RecordingSink implements Sink {
  readonly frames: string[] = [];
  readonly changes: SinkStreamChange[] = [];
  readonly models: string[] = [];
  constructor(
    readonly name: string,
    private readonly log: string[],
    private readonly throws = false,
  ) {}
  onFrame(f: SinkFrame): void {
    this.log.push(`${this.name} ${f.result.streamId}#${f.result.seq}`);
    this.frames.push(`${f.result.streamId}#${f.result.seq} ${f.analysis !== null} ${f.rgb?.[0] ?? 'no rgb'}`);
    if (this.throws) throw new Error(`${this.name} is broken`);
  }
  onModelChanged(m: SinkModel): void {
    this.models.push(m.id);
    if (this.throws) throw new Error(`${this.name} is broken`);
  }
  onStreamChanged(c: SinkStreamChange): void {
    this.changes.push(c);
    if (this.throws) throw new Error(`${this.name} is broken`);
  }
  async close(): Promise<void> {}
}

describe('FrameRouter', () => {
  const timing = { size: 2, inferStartNs: 0n, inferEndNs: 1n } as unknown as BatchTiming;
  const frames = (n: number): BatchFrames => ({ rgb: (i: number) => (i < n ? Uint8Array.of(10 + i) : null) }) as unknown as BatchFrames;

  it('every frame to every sink in order, with its analysis and pixels; a removed stream skipped; a throwing sink logged and passed by', () => {
    const { logger, lines } = memoryLogger('debug');
    const order: string[] = [];
    const a = new RecordingSink('a', order);
    const broken = new RecordingSink('broken', order, true);
    const c = new RecordingSink('c', order);
    const analyses = new StreamAnalyses(MODEL);
    const batches: BatchTiming[] = [];
    const router = new FrameRouter({ analyses, sinks: [a, broken, c], logger, onBatch: (t) => batches.push(t) });
    router.streamChanged('added', 'cam', { id: 'cam', zones: [TOP] });
    router.streamChanged('added', 'gone', { id: 'gone', zones: [] });
    router.streamChanged('removed', 'gone', null);
    assert.deepEqual(a.changes.map((x) => `${x.reason} ${x.streamId} ${x.analyzer !== null}`), ['added cam true', 'added gone true', 'removed gone false']);
    assert.deepEqual(c.changes.length, 3, 'the sink after the broken one heard every change');

    assert.doesNotThrow(() => router.route([frame('cam', 1), frame('gone', 1), frame('cam', 2)], timing, frames(3)));
    assert.deepEqual(batches, [timing]);
    assert.deepEqual(order, ['a cam#1', 'broken cam#1', 'c cam#1', 'a cam#2', 'broken cam#2', 'c cam#2']);
    assert.deepEqual(c.frames, ['cam#1 true 10', 'cam#2 true 12']);
    assert.equal(lines.filter((l) => l.includes('broken publish failed; segmentation continues')).length, 2);
  });

  it('a model swap reaches every sink before the streams\' analyses follow it; a zone the new model lacks turns analysis off, logged', () => {
    const { logger, lines } = memoryLogger('debug');
    const s = new RecordingSink('s', []);
    const analyses = new StreamAnalyses(MODEL);
    const router = new FrameRouter({ analyses, sinks: [s], logger });
    router.streamChanged('added', 'cam', { id: 'cam', zones: [TOP] });
    router.route([frame('cam', 1)], timing, frames(1)); // top entered
    const next = { id: 'm2', card: {}, classNames: ['road', 'grass'], architecture: 'x', provider: 'cpu', width: W, height: H };
    router.modelChanged(next, [{ id: 'cam', zones: [TOP] }]);
    assert.deepEqual(s.models, ['m2']);
    const change = s.changes.at(-1) as SinkStreamChange;
    assert.deepEqual([change.reason, change.analyzer, change.removedZones, change.ended.map((e) => e.type)], ['model', null, ['top'], ['exit']]);
    assert.ok(lines.some((l) => l.includes('class areas and zones off for this stream') && l.includes('unknown class')), lines.join('\n'));
    router.route([frame('cam', 2)], timing, frames(1));
    assert.deepEqual(s.frames.at(-1), 'cam#2 false 10', 'the stream runs on, without analysis');
  });
});
