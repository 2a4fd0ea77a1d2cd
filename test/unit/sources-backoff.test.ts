import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Backoff } from '../../pipeline/core/backoff.js';
import { createLineRedactor } from '../../pipeline/core/redact.js';
import { FfmpegStderr, PtsMatcher } from '../../pipeline/sources/index.js';
import { memoryLogger } from '../helpers/source-harness.js';

describe('Backoff', () => {
  it('without jitter doubles from min and caps at max', () => {
    const b = new Backoff({ minMs: 100, maxMs: 1000, jitter: 'none' });
    assert.deepEqual([1, 2, 3, 4, 5, 6].map(() => b.next()), [100, 200, 400, 800, 1000, 1000]);
    assert.equal(b.attempts, 6);
    b.reset();
    assert.equal(b.next(), 100);
  });

  it('full jitter stays within [min, exponential bound]', () => {
    const rnd = [0, 0.999, 0.5, 0.999, 0.25];
    const b = new Backoff({ minMs: 100, maxMs: 1000, jitter: 'full', random: () => rnd.shift() ?? 0.5 });
    assert.deepEqual([1, 2, 3, 4, 5].map(() => b.next()), [100, 200, 250, 799, 325]);
  });

  it('decorrelated jitter stays within [min, max] over many draws and grows from the previous delay', () => {
    const b = new Backoff({ minMs: 200, maxMs: 5000 });
    for (let i = 0; i < 1000; i++) {
      const d = b.next();
      assert.ok(d >= 200 && d <= 5000, `delay ${d}`);
    }
    const top = new Backoff({ minMs: 200, maxMs: 5000, random: () => 0.999999 });
    assert.deepEqual([1, 2, 3, 4].map(() => top.next()), [600, 1800, 5000, 5000]);
  });

  it('rejects inconsistent bounds', () => {
    assert.throws(() => new Backoff({ minMs: 10, maxMs: 5 }), RangeError);
    assert.throws(() => new Backoff({ factor: 0.5 }), RangeError);
  });
});

describe('PtsMatcher', () => {
  it('delivers in order whether the pts line comes before or after the frame', async () => {
    const out: [string, number | null][] = [];
    const m = new PtsMatcher<string>((item, pts) => out.push([item, pts]));
    m.onPts(0, 0);
    m.onFrame(0, 'f0'); // line first: immediate
    m.onFrame(1, 'f1'); // frame first: waits
    m.onFrame(2, 'f2');
    assert.deepEqual(out, [['f0', 0]]);
    m.onPts(1, 100);
    assert.deepEqual(out, [['f0', 0], ['f1', 100]]);
    m.onPts(2, 200);
    m.onPts(3, null); // NOPTS
    m.onFrame(3, 'f3');
    assert.deepEqual(out.slice(2), [['f2', 200], ['f3', null]]);
    // A frame whose line never comes goes out with null after two event-loop turns.
    m.onFrame(4, 'f4');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.at(-1), ['f3', null], 'still waiting after one turn');
    await new Promise((r) => setImmediate(r));
    assert.deepEqual(out.at(-1), ['f4', null]);
  });

  it('pulls a missing pts through the drain hook instead of holding the frame', () => {
    const out: [string, number | null][] = [];
    const lines: [number, number][] = [[0, 0], [1, 40], [2, 80]];
    let drains = 0;
    const m: PtsMatcher<string> = new PtsMatcher<string>((item, pts) => out.push([item, pts]), {
      drain: () => {
        drains++;
        const l = lines.shift();
        if (l !== undefined) m.onPts(l[0], l[1]);
      },
    });
    m.onFrame(0, 'a');
    m.onFrame(1, 'b');
    assert.deepEqual(out, [['a', 0], ['b', 40]], 'delivered at once, matched');
    assert.equal(drains, 2);
    m.onPts(2, 80);
    m.onFrame(2, 'c');
    assert.equal(drains, 2, 'no drain when the pts is already known');
    assert.deepEqual(out.at(-1), ['c', 80]);
  });

  it('bounds waiting frames and resets frame numbers for a new child', () => {
    const out: [number, number | null][] = [];
    const m = new PtsMatcher<number>((item, pts) => out.push([item, pts]), { maxPending: 2 });
    m.onFrame(0, 0);
    m.onFrame(1, 1);
    m.onFrame(2, 2); // over the bound: the oldest goes out unmatched
    assert.deepEqual(out, [[0, null]]);
    m.flush();
    assert.deepEqual(out, [[0, null], [1, null], [2, null]]);
    m.onPts(0, 5);
    m.reset();
    m.onFrame(0, 10);
    m.flush();
    assert.deepEqual(out.at(-1), [10, null], 'pts of the previous child forgotten');
  });
});

describe('FfmpegStderr', () => {
  it('parses showinfo lines (split across chunks) without logging them, logs the rest redacted at mapped levels', () => {
    const { logger, lines } = memoryLogger('debug');
    const pts: [number, number | null][] = [];
    const s = new FfmpegStderr({
      logger,
      redact: createLineRedactor('rtsp://admin:Secr3t@cam/x'),
      onShowinfo: (n, p) => pts.push([n, p]),
    });
    const text =
      "[info] Input #0, rtsp, from 'rtsp://admin:Secr3t@cam/x':\n" +
      '[Parsed_showinfo_2 @ 0x3f2b2100] [info] n:   0 pts:      0 pts_time:0       pos: 2051 fmt:rgb24 s:64x48 i:P iskey:1 type:I \n' +
      '[Parsed_showinfo_2 @ 0x3f2b2100] [info] color_range:tv color_space:unknown\n' +
      '[Parsed_showinfo_2 @ 0x3f2b2100] [info] n:  12 pts:  12288 pts_time:1.2     pos: 9 fmt:rgb24 \r\n' +
      '[Parsed_showinfo_2 @ 0x3f2b2100] [info] n:  13 pts:NOPTS pts_time:NOPTS pos: 9\n' +
      '[rawvideo @ 0x2d081000] [error] Application provided invalid, non monotonically increasing dts to muxer in stream 0: -2 >= -3\n' +
      '[rtsp @ 0x42a5bc40] [error] method DESCRIBE failed: 401 Unauthorized\n' +
      '[h264 @ 0x1] [warning] concealing 12 DC errors\n' +
      '[info] Connection to tcp://cam:554 failed: Connection refused\n' +
      '[error] rtsp://admin:Secr3t@cam/x: Server returned 401';
    const buf = Buffer.from(text);
    for (let i = 0; i < buf.length; i += 13) s.push(buf.subarray(i, i + 13));
    s.end();
    assert.deepEqual(pts, [[0, 0], [12, 1200], [13, null]]);
    const logged = lines.map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.ok(logged.every((l) => !l.msg.includes('Secr3t')), 'password never logged');
    assert.ok(logged.every((l) => !l.msg.includes('showinfo')), 'showinfo lines not logged');
    const byMsg = (re: RegExp): number | undefined => logged.find((l) => re.test(l.msg))?.level;
    assert.equal(byMsg(/Input #0, rtsp, from 'rtsp:\/\/\*\*\*:\*\*\*@cam\/x'/), 20, 'info → debug');
    assert.equal(byMsg(/non monotonically/), 20, 'benign muxer complaint → debug');
    assert.equal(byMsg(/DESCRIBE failed/), 50, 'error → error');
    assert.equal(byMsg(/concealing/), 40, 'warning → warn');
    assert.equal(byMsg(/Connection refused/), 40, 'error-looking info → warn');
    assert.equal(byMsg(/rtsp:\/\/\*\*\*:\*\*\*@cam\/x: Server returned 401/), 50, 'trailing partial line flushed at end');
    assert.equal(s.lastError, 'rtsp://***:***@cam/x: Server returned 401');
  });

  it('caps logged lines per second and reports how many were suppressed', () => {
    const { logger, lines } = memoryLogger('debug');
    const s = new FfmpegStderr({ logger, redact: (l) => l, maxLinesPerSec: 5 });
    s.push(Buffer.from('[h264 @ 0x1] [error] decode_slice_header error\n'.repeat(50)));
    s.end();
    const logged = lines.map((l) => JSON.parse(l) as { msg: string; suppressed?: number });
    assert.equal(logged.filter((l) => l.msg.includes('decode_slice_header')).length, 5);
    assert.equal(logged.find((l) => l.suppressed !== undefined)?.suppressed, 45);
  });
});
