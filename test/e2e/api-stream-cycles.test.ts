// 200 add/remove cycles of one stream through the control API (issues 15, 25) while another
// stream publishes, measured where leaks live rather than in RSS (the allocator's and the
// collector's business as much as ours, and it swings with a busy neighbour):
// - JS heap + external memory after forced collections in the daemon (a probe loaded into it,
//   test/helpers/leak-probe.ts, with V8's expose-gc), sampled every 10 cycles; the Theil–Sen slope over
//   the 20 samples must stay under LEAK_LIMIT_BYTES_PER_CYCLE;
// - live handles by type (their floor over a few readings) exactly as many as before the cycles;
// - exactly one ffmpeg child (the other stream's), none unreaped, at every sample;
// - exactly the metric series there were before, none of the cycled stream.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';
import { Recorder, ffmpegChildren } from '../helpers/control-api.js';
import { LEAK_PROBE_NODE_ARGS, leakProbe, resourceFloor, theilSenSlope, type ProbeReply } from '../helpers/leak-stats.js';

const CYCLES = 200;
/** Cycles run before the baseline: the first ones fill caches, JIT and pools once. */
const WARM_UP_CYCLES = 20;
const SAMPLE_EVERY = 10;
/** Readings whose per-type floor counts the live handles (a handle in flight is gone in one of them; a leaked one is in all). */
const HANDLE_READINGS = 5;
/**
 * What the slope of heap + external may reach. Without a leak it read 1.2–2.0 KB per cycle (four
 * runs, one beside two busy-looping processes); 16 KiB kept per removed stream read 16.0 KB, a
 * removed stream's whole record (its source's frame pool) 2 MB.
 */
const LEAK_LIMIT_BYTES_PER_CYCLE = 8 * 1024;

/** The label sets of every sample that names a stream, e.g. `segd_frames_decoded_total{stream="p"}`. */
function streamSeries(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.includes('stream="'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')))
    .sort();
}

/** One API call on its own connection, closed when it is done: no keep-alive socket outlives the call and counts as a handle. */
function call(httpUrl: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: string }> {
  const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
  return new Promise((resolve, reject) => {
    const req = request(`${httpUrl}${path}`, { method, agent: false, headers: { connection: 'close', ...(data ? { 'content-type': 'application/json', 'content-length': data.length } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      // resolved once the socket is closed, not merely the body read
      res.socket.once('close', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

/** GET /metrics on its own connection (see call()). */
async function scrape(httpUrl: string): Promise<string> {
  const r = await call(httpUrl, 'GET', '/metrics');
  assert.equal(r.status, 200);
  return r.body;
}

const mib = (b: number): string => (b / 1048576).toFixed(2);

describe('e2e: 200 add/remove cycles of one stream', { timeout: 900_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  let client: E2eClient;

  before(async () => {
    tmp = makeTempDir('segd-e2e-cycles-');
    daemon = await startReadyDaemon(tmp.dir, testConfig([{ id: 'p', url: SAMPLE_CLIP_VAL, realtime: false }]), { nodeArgs: LEAK_PROBE_NODE_ARGS, ipc: true });
    client = await E2eClient.connect(daemon.wsUrl);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('leaks no ffmpeg process, handle, metric series or memory (heap + external slope after forced GC)', { timeout: 850_000 }, async (t) => {
    const pid = daemon.child.pid as number;
    const rec = new Recorder(client);
    await client.waitUntil(() => client.count('p') >= 2, 'masks of p', 60_000);
    const seriesBefore = streamSeries(await scrape(daemon.httpUrl));
    assert.ok(seriesBefore.length > 0 && seriesBefore.every((s) => s.includes('stream="p"')));

    const cycle = async (i: number): Promise<void> => {
      const added = await call(daemon.httpUrl, 'POST', '/api/streams', { id: 'cyc', url: SAMPLE_CLIP_TRAIN, maxFps: 5 });
      assert.equal(added.status, 201, `cycle ${i}: add → ${added.body}`);
      const removed = await call(daemon.httpUrl, 'DELETE', '/api/streams/cyc');
      assert.equal(removed.status, 200, `cycle ${i}: remove → ${removed.body}`);
    };
    const readings = async (): Promise<ProbeReply[]> => {
      const out: ProbeReply[] = [];
      for (let k = 0; k < HANDLE_READINGS; k++) out.push(await leakProbe(daemon.child));
      return out;
    };
    const onlyP = (when: string): void => {
      const children = ffmpegChildren(pid);
      assert.equal(children.length, 1, `${when}: only p's ffmpeg child: ${JSON.stringify(children)}`);
      assert.notEqual(children[0]?.state, 'Z', `${when}: p's ffmpeg child is not a zombie`);
    };

    for (let i = 0; i < WARM_UP_CYCLES; i++) await cycle(i);
    onlyP('after the warm-up');
    const handlesBefore = resourceFloor(await readings());
    const xs: number[] = [];
    const ys: number[] = [];
    for (let i = 1; i <= CYCLES; i++) {
      await cycle(WARM_UP_CYCLES + i);
      if (i % SAMPLE_EVERY !== 0) continue;
      onlyP(`after cycle ${i}`);
      const r = await leakProbe(daemon.child);
      xs.push(i);
      ys.push(r.heapUsed + r.external);
    }
    // Settle: a few more masks of p (the daemon keeps working), then count.
    const n = rec.masks('p');
    await client.waitUntil(() => rec.masks('p') >= n + 3, 'masks of p after the cycles', 60_000);
    const handlesAfter = resourceFloor(await readings());
    const slope = theilSenSlope(xs, ys);
    t.diagnostic(
      `heap + external after GC: ${mib(ys[0] as number)} → ${mib(ys.at(-1) as number)} MiB (min ${mib(Math.min(...ys))}, max ${mib(Math.max(...ys))}); ` +
        `Theil–Sen slope ${slope.toFixed(0)} B/cycle over ${CYCLES} cycles (limit ${LEAK_LIMIT_BYTES_PER_CYCLE}); handles ${JSON.stringify(handlesBefore)} → ${JSON.stringify(handlesAfter)}`,
    );

    onlyP('at the end');
    const grown = Object.entries(handlesAfter).filter(([type, count]) => count > (handlesBefore[type] ?? 0));
    assert.deepEqual(grown, [], `live handles by type, before the cycles ${JSON.stringify(handlesBefore)}, after ${JSON.stringify(handlesAfter)}`);
    const seriesAfter = streamSeries(await scrape(daemon.httpUrl));
    assert.equal(seriesAfter.filter((s) => s.includes('stream="cyc"')).length, 0, 'no series of the cycled stream');
    assert.deepEqual(seriesAfter, seriesBefore, 'the same series as before the cycles');
    assert.ok(
      slope < LEAK_LIMIT_BYTES_PER_CYCLE,
      `heap + external grows ${slope.toFixed(0)} B per cycle (limit ${LEAK_LIMIT_BYTES_PER_CYCLE}); samples every ${SAMPLE_EVERY} cycles: ${ys.map(mib).join(', ')} MiB`,
    );
    assert.deepEqual(Object.fromEntries(rec.gaps), {}, 'p published without a gap throughout');
  });
});
