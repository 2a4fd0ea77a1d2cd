// 200 add/remove cycles of one stream through the control API (issue 15) while another stream
// publishes: no ffmpeg child is left behind (running or unreaped), no metric series of the
// cycled stream remains, the set of exported series is the same as before, and the daemon's
// resident memory (its floor over 40 cycles at each end) grows by less than 5 %.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient, scrape } from '../helpers/e2e-client.js';
import { Recorder, api, ffmpegChildren, rssKb } from '../helpers/control-api.js';

const CYCLES = 200;
/** Cycles run before the baseline: the first ones fill caches, JIT and allocator arenas once. */
const WARM_UP_CYCLES = 20;
/**
 * RSS is compared by its floor over this many cycles at each end, not by one reading: frame
 * buffers wait for the garbage collector, so one reading swings with what is unreclaimed at that
 * instant (Node's external memory read 7–36 MB between scrapes over 800 cycles here, and a CI run
 * once read +17 % from a single pair). A leak lifts the floor; a late GC only lifts the peaks.
 */
const FLOOR_WINDOW = 40;

/** The label sets of every sample that names a stream, e.g. `segd_frames_decoded_total{stream="p"}`. */
function streamSeries(text: string): string[] {
  return text
    .split('\n')
    .filter((l) => !l.startsWith('#') && l.includes('stream="'))
    .map((l) => l.slice(0, l.lastIndexOf(' ')))
    .sort();
}

describe('e2e: 200 add/remove cycles of one stream', { timeout: 900_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  let client: E2eClient;

  before(async () => {
    tmp = makeTempDir('segd-e2e-cycles-');
    daemon = await startReadyDaemon(tmp.dir, testConfig([{ id: 'p', url: SAMPLE_CLIP_VAL, realtime: false }]));
    client = await E2eClient.connect(daemon.wsUrl);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('leaks no ffmpeg process, no metric series, and RSS grows < 5 %', { timeout: 850_000 }, async (t) => {
    const pid = daemon.child.pid as number;
    const rec = new Recorder(client);
    await client.waitUntil(() => client.count('p') >= 2, 'masks of p', 60_000);
    const seriesBefore = streamSeries(await scrape(daemon.httpUrl));
    assert.ok(seriesBefore.length > 0 && seriesBefore.every((s) => s.includes('stream="p"')));

    const cycle = async (i: number): Promise<void> => {
      const added = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'cyc', url: SAMPLE_CLIP_TRAIN, maxFps: 5 });
      assert.equal(added.status, 201, `cycle ${i}: add → ${JSON.stringify(added.body)}`);
      const removed = await api(daemon.httpUrl, 'DELETE', '/api/streams/cyc');
      assert.equal(removed.status, 200, `cycle ${i}: remove → ${JSON.stringify(removed.body)}`);
    };
    for (let i = 0; i < WARM_UP_CYCLES; i++) await cycle(i);
    const rss: number[] = [];
    for (let i = 0; i < CYCLES; i++) {
      await cycle(WARM_UP_CYCLES + i);
      rss.push(rssKb(pid));
    }
    // Settle: a few more masks of p (the daemon keeps working), then measure.
    const n = rec.masks('p');
    await client.waitUntil(() => rec.masks('p') >= n + 3, 'masks of p after the cycles', 60_000);
    rss.push(rssKb(pid));
    const rssBefore = Math.min(...rss.slice(0, FLOOR_WINDOW));
    const rssAfter = Math.min(...rss.slice(-FLOOR_WINDOW));
    t.diagnostic(`RSS floor ${rssBefore} kB → ${rssAfter} kB (${(((rssAfter - rssBefore) / rssBefore) * 100).toFixed(1)} %) over ${CYCLES} cycles`);

    const children = ffmpegChildren(pid);
    assert.equal(children.length, 1, `only p's ffmpeg child remains: ${JSON.stringify(children)}`);
    assert.notEqual(children[0]?.state, 'Z');
    const seriesAfter = streamSeries(await scrape(daemon.httpUrl));
    assert.equal(seriesAfter.filter((s) => s.includes('stream="cyc"')).length, 0, 'no series of the cycled stream');
    assert.deepEqual(seriesAfter, seriesBefore, 'the same series as before the cycles');
    assert.ok(rssAfter < rssBefore * 1.05, `RSS floor grew from ${rssBefore} kB to ${rssAfter} kB (limit +5 %; readings ${Math.min(...rss)}–${Math.max(...rss)} kB)`);
    assert.deepEqual(Object.fromEntries(rec.gaps), {}, 'p published without a gap throughout');
  });
});
