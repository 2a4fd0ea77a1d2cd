// End to end: a stream whose URL never answers (a TCP listener that accepts and stays silent)
// sits among live ones: the live streams keep publishing, the dead one cycles through
// stalled/backoff with its reconnects counted, and its credentials never appear anywhere.
import { describe, it, before, after } from 'node:test';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';

const PASSWORD = 'Zebra-Pw-4471';

describe('e2e: a dead stream among live ones', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let silent: SilentServer | null = null;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-dead-');
    silent = await startSilentServer();
    const port = silent.port;
    const cfg = testConfig([
      { id: 'val', url: SAMPLE_CLIP_VAL },
      { id: 'dead', url: `rtsp://admin:${PASSWORD}@127.0.0.1:${port}/never` },
      { id: 'train', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await silent?.close();
    tmp.cleanup();
  });

  it('live streams keep publishing while the dead one stalls and retries', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;
    // The dead stream is retried at least once (stall or I/O timeout → backoff → respawn) ...
    const reconnects = await pollUntil(async () => {
      const v = metricSum(await scrape(d.httpUrl), 'segd_stream_restarts_total', { stream: 'dead' }) ?? 0;
      return v >= 1 ? v : undefined;
    }, 'a reconnect of the dead stream', 60000);
    assert.ok(reconnects >= 1);
    // ... and the live ones keep going after that.
    const val0 = c.count('val');
    const train0 = c.count('train');
    await c.waitUntil(() => c.count('val') >= val0 + 5 && c.count('train') >= train0 + 5, '5 more masks of each live stream', 60000);
    assert.equal(c.count('dead'), 0);

    const text = await scrape(d.httpUrl);
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'dead' }), 0);
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'val' }), 1);
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'train' }), 1);

    // Readiness is about the daemon, not the cameras: still 200, with the dead stream's state.
    const res = await fetch(`${d.httpUrl}/readyz`);
    assert.equal(res.status, 200);
    const body = (await res.json()) as { streams: { id: string; state: string }[] };
    const states = new Map(body.streams.map((s) => [s.id, s.state]));
    assert.equal(states.get('val'), 'streaming');
    assert.ok(['connecting', 'stalled', 'backoff'].includes(states.get('dead') ?? ''), `dead is ${states.get('dead')}`);
  });

  it('the dead stream URL is redacted in list_streams and in every log line', async () => {
    const c = client as E2eClient;
    const reply = await c.request({ type: 'list_streams' });
    assert.equal(reply.type, 'streams');
    const dead = reply.type === 'streams' ? reply.streams.find((s) => s.id === 'dead') : undefined;
    assert.ok(dead);
    assert.ok(!dead.url.includes(PASSWORD) && dead.url.includes('127.0.0.1'), dead.url);
    const d = daemon as DaemonProcess;
    const leaks = d.logs.filter((l) => JSON.stringify(l).includes(PASSWORD));
    assert.deepEqual(leaks, [], 'password in the log');
    assert.ok(!d.stderr().includes(PASSWORD));
    // Not vacuous: the dead stream did log (its state changes, ffmpeg's complaints).
    assert.ok(d.logs.filter((l) => l['stream'] === 'dead').length >= 3);
  });
});
