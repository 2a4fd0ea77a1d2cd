// Class areas (one pass over the mask, frame and zones), zone hysteresis and minimum duration,
// the per-stream analyzer's errors, and zone config errors that name the stream, the zone and the field.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConfigText } from '../../daemon/config/load.js';
import { ClassAreaCounter, fractionsOf } from '../../pipeline/analysis/class-areas.js';
import { SegdError } from '../../pipeline/core/errors.js';
import { StreamAnalyzer } from '../../pipeline/analysis/frame-analysis.js';
import type { MaskResult } from '../../pipeline/core/mask-result.js';
import type { ZoneConfig } from '../../pipeline/core/zone-config.js';
import { ZoneTracker, type ZoneReading } from '../../pipeline/analysis/zone-tracker.js';
import { Prng } from '../helpers/prng.js';

/** The slow, obvious histogram the counter must equal. */
function naiveCounts(mask: Uint8Array, w: number, h: number, k: number, keep: (x: number, y: number) => boolean = () => true): number[] {
  const out = new Array<number>(k).fill(0);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) if (keep(x, y)) out[mask[y * w + x] as number]!++;
  return out;
}

function result(mask: Uint8Array, w: number, h: number, seq: number, captureTimeMs: number): MaskResult {
  return { streamId: 'cam1', seq, ptsMs: null, captureTimeMs, decodedAtNs: 0n, queuedAtNs: 0n, dequeuedAtNs: 0n, inferStartNs: 0n, inferEndNs: 0n, width: w, height: h, mask };
}

function zone(over: Partial<ZoneConfig> = {}): ZoneConfig {
  return { name: 'z', polygon: [[0, 0], [1, 0], [1, 1], [0, 1]], classes: ['a'], threshold: 0.5, hysteresis: 0.1, minDurationMs: 0, ...over };
}

describe('class areas', () => {
  it('counts every class of a random mask exactly, without zones', () => {
    const w = 37;
    const h = 23;
    const k = 11;
    const rnd = new Prng(7);
    const mask = Uint8Array.from({ length: w * h }, () => rnd.int(k));
    const areas = new ClassAreaCounter(w, h, k).count(mask);
    assert.equal(areas.pixels, w * h);
    assert.deepEqual(Array.from(areas.counts), naiveCounts(mask, w, h, k));
    assert.deepEqual(areas.zones, []);
    const f = fractionsOf(areas.counts, areas.pixels);
    assert.equal(f.length, k);
    assert.ok(Math.abs(f.reduce((s, x) => s + x, 0) - 1) < 1e-12);
  });

  it('counts zones (overlapping ones too) in the same pass, by pixel centre', () => {
    const w = 40;
    const h = 30;
    const k = 4;
    const rnd = new Prng(11);
    const mask = Uint8Array.from({ length: w * h }, () => rnd.int(k));
    const left: [number, number][] = [[0, 0], [0.5, 0], [0.5, 1], [0, 1]];
    const top: [number, number][] = [[0, 0], [1, 0], [1, 0.5], [0, 0.5]];
    const tri: [number, number][] = [[0, 0], [1, 0], [0, 1]];
    const areas = new ClassAreaCounter(w, h, k, [left, top, tri]).count(mask);
    const cx = (x: number): number => (x + 0.5) / w;
    const cy = (y: number): number => (y + 0.5) / h;
    const inLeft = (x: number): boolean => cx(x) < 0.5;
    const inTop = (_x: number, y: number): boolean => cy(y) < 0.5;
    const inTri = (x: number, y: number): boolean => cx(x) + cy(y) < 1;
    assert.deepEqual(Array.from(areas.zones[0]!.counts), naiveCounts(mask, w, h, k, (x) => inLeft(x)));
    assert.deepEqual(Array.from(areas.zones[1]!.counts), naiveCounts(mask, w, h, k, inTop));
    assert.deepEqual(Array.from(areas.zones[2]!.counts), naiveCounts(mask, w, h, k, inTri));
    assert.equal(areas.zones[0]!.pixels, (w / 2) * h);
    assert.deepEqual(Array.from(areas.counts), naiveCounts(mask, w, h, k));
  });

  it('any size (pixels left over after whole groups of four) and any number of calls give exact counts', () => {
    const k = 5;
    const rnd = new Prng(3);
    const tri: [number, number][] = [[0, 0], [1, 0], [0, 1]];
    for (const [w, h] of [[2, 1], [3, 1], [7, 5], [13, 3]] as const) {
      const inTri = (x: number, y: number): boolean => (x + 0.5) / w + (y + 0.5) / h < 1;
      const plain = new ClassAreaCounter(w, h, k);
      const zoned = new ClassAreaCounter(w, h, k, [tri]);
      for (let call = 0; call < 3; call++) {
        const mask = Uint8Array.from({ length: w * h }, () => rnd.int(k));
        assert.deepEqual(Array.from(plain.count(mask).counts), naiveCounts(mask, w, h, k), `${w}x${h} call ${call}`);
        const z = zoned.count(mask);
        assert.deepEqual(Array.from(z.counts), naiveCounts(mask, w, h, k), `${w}x${h} zoned, call ${call}`);
        assert.deepEqual(Array.from(z.zones[0]!.counts), naiveCounts(mask, w, h, k, inTri), `${w}x${h} zone, call ${call}`);
      }
    }
  });

  it('refuses a polygon that covers no pixel centre, naming it', () => {
    assert.throws(() => new ClassAreaCounter(10, 10, 2, [[[0, 0], [0.01, 0], [0.01, 0.01]]]), /zone 0: the polygon covers no pixel centre of a 10x10 mask/);
  });
});

describe('zone tracker', () => {
  const r = (ratio: number, seq: number, timeMs: number): ZoneReading => ({ ratio, classes: { a: ratio }, seq, timeMs });

  it('enters at the threshold, clears only below threshold - hysteresis', () => {
    const t = new ZoneTracker('cam1', zone());
    assert.equal(t.observe(r(0.45, 1, 0)), null);
    const enter = t.observe(r(0.5, 2, 100));
    assert.equal(enter?.type, 'enter');
    assert.equal(enter?.before.ratio, 0.45);
    assert.equal(enter?.after.ratio, 0.5);
    assert.equal(t.state.state, 'occupied');
    assert.equal(t.observe(r(0.41, 3, 200)), null, 'inside the hysteresis band: still occupied');
    const exit = t.observe(r(0.39, 4, 300));
    assert.equal(exit?.type, 'exit');
    assert.equal(exit?.id, enter?.id);
    assert.equal(exit?.endMs, 300);
    assert.equal(t.state.state, 'clear');
    assert.equal(t.state.eventId, null);
  });

  it('reports a change only once it held for minDurationMs (capture time)', () => {
    const t = new ZoneTracker('cam1', zone({ minDurationMs: 1000 }));
    assert.equal(t.observe(r(0.9, 1, 0)), null);
    assert.equal(t.observe(r(0.9, 2, 500)), null);
    assert.equal(t.observe(r(0.1, 3, 700)), null, 'a dip resets the pending change');
    assert.equal(t.observe(r(0.9, 4, 800)), null);
    assert.equal(t.observe(r(0.9, 5, 1700)), null);
    assert.equal(t.observe(r(0.9, 6, 1800))?.type, 'enter');
  });

  it('sends an update when an occupied ratio moves beyond the band, at most once per minDurationMs', () => {
    const t = new ZoneTracker('cam1', zone({ minDurationMs: 0, hysteresis: 0.1 }));
    assert.equal(t.observe(r(0.6, 1, 0))?.type, 'enter');
    assert.equal(t.observe(r(0.65, 2, 100)), null);
    const u = t.observe(r(0.8, 3, 200));
    assert.equal(u?.type, 'update');
    assert.equal(u?.before.ratio, 0.6);
    assert.equal(u?.after.ratio, 0.8);
  });
});

describe('stream analyzer', () => {
  it('computes areas and zone readings from one count, and events from them', () => {
    const w = 4;
    const h = 2;
    // top row class 1, bottom row class 0; the zone is the top half
    const mask = Uint8Array.from([1, 1, 1, 1, 0, 0, 0, 0]);
    const a = new StreamAnalyzer('cam1', w, h, ['road', 'sky'], [zone({ name: 'top', polygon: [[0, 0], [1, 0], [1, 0.5], [0, 0.5]], classes: ['sky'] })]);
    const fa = a.analyze(result(mask, w, h, 1, 1000));
    assert.deepEqual(Array.from(fa.areas.counts), [4, 4]);
    assert.equal(fa.readings[0]?.ratio, 1);
    assert.deepEqual(fa.readings[0]?.classes, { sky: 1 });
    assert.equal(fa.events[0]?.type, 'enter');
    assert.deepEqual(fa.occupied, [true]);
    assert.equal(a.states()[0]?.state, 'occupied');
  });

  it('names the stream, the zone and the field of an unknown class', () => {
    assert.throws(
      () => new StreamAnalyzer('cam1', 4, 4, ['road', 'sky'], [zone({ name: 'door', classes: ['sky', 'bus'] })]),
      (err: unknown) => err instanceof SegdError && err.code === 'SEGD_ZONE_INVALID' && /"cam1" zone "door" \(zones\[0\]\) classes\[1\]: unknown class "bus"/.test(err.message),
    );
  });
});

describe('zone config', () => {
  const parse = (zonesYaml: string): SegdConfig => parseConfigText(`streams:\n  - id: cam1\n    url: rtsp://h/x\n    zones:\n${zonesYaml}`, { baseDir: '/', source: 'inline' });
  type SegdConfig = ReturnType<typeof parseConfigText>;
  const problems = (zonesYaml: string): string[] => {
    try {
      parse(zonesYaml);
    } catch (err) {
      assert.ok(err instanceof SegdError);
      return [...err.details];
    }
    assert.fail('expected the config to be rejected');
  };

  it('applies zone defaults', () => {
    const cfg = parse('      - { name: door, polygon: [[0, 0], [1, 0], [1, 1]], classes: [car] }\n');
    assert.deepEqual(cfg.streams[0]?.zones, [{ name: 'door', polygon: [[0, 0], [1, 0], [1, 1]], classes: ['car'], threshold: 0.1, hysteresis: 0.05, minDurationMs: 1000 }]);
  });

  it('names the stream, the zone and the field of every problem', () => {
    const lines = problems(
      [
        '      - { name: door, polygon: [[0, 0], [1.5, 0], [1, 1]], classes: [car], threshold: 0.2 }',
        '      - { name: door, polygon: [[0, 0], [0.5, 0.5], [1, 1]], classes: [car], threshold: 0.1, hysteresis: 0.2 }',
        '      - { name: gate, polygon: [[0, 0], [1, 0]], classes: [] }',
        '',
      ].join('\n'),
    );
    const has = (re: RegExp): void => assert.ok(lines.some((l) => re.test(l)), `no line matches ${re}:\n${lines.join('\n')}`);
    has(/^streams\[0\]\.zones\[0\]\.polygon\[1\]\[0\] \(stream "cam1", zone "door"\): expected a number <= 1, got 1.5/);
    has(/^streams\[0\]\.zones\[1\]\.name \(stream "cam1", zone "door"\): expected a name unique within the stream/);
    has(/^streams\[0\]\.zones\[1\]\.hysteresis \(stream "cam1", zone "door"\): expected less than threshold \(0.1\), got 0.2/);
    has(/^streams\[0\]\.zones\[1\]\.polygon \(stream "cam1", zone "door"\): expected a polygon with an area/);
    has(/^streams\[0\]\.zones\[2\]\.polygon \(stream "cam1", zone "gate"\): expected at least 3 item\(s\), got 2/);
    has(/^streams\[0\]\.zones\[2\]\.classes \(stream "cam1", zone "gate"\): expected at least 1 item\(s\), got 0/);
  });
});
