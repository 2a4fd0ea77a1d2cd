// End to end: an RTSP stream from the real GStreamer server (with credentials). Kill the server:
// the stream goes down; restart it on the same port: the stream comes back, masks flow again
// with later seq numbers, and segd_stream_restarts_total has increased.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';

const USER = 'cam';
const PASSWORD = 'Rtsp-Pw-9034';

describe('e2e: RTSP stream survives a server restart', { timeout: 150000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let server: RtspServer | null = null;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-rtsp-');
    server = await startRtspServer({ user: USER, password: PASSWORD });
    const cfg = testConfig([{ id: 'cam', url: server.urlWithCredentials(USER, PASSWORD), rtspTransport: 'tcp' }]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('comes back after the server is killed and restarted on the same port', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;
    await c.waitUntil(() => c.count('cam') >= 3, '3 masks from the RTSP stream', 60000);
    const restartsBefore = metricSum(await scrape(d.httpUrl), 'segd_stream_restarts_total', { stream: 'cam' });
    assert.equal(restartsBefore, 0);

    const port = (server as RtspServer).port;
    await (server as RtspServer).stop();
    server = null;
    // Down: the source noticed (stream_up 0).
    await pollUntil(async () => metricValue(await scrape(d.httpUrl), 'segd_stream_up', { stream: 'cam' }) === 0, 'stream_up 0', 60000);
    const seqBeforeRestart = c.lastSeq.get('cam') ?? -1;
    const countBeforeRestart = c.count('cam');

    server = await startRtspServer({ port, user: USER, password: PASSWORD });
    await c.waitUntil(() => c.count('cam') >= countBeforeRestart + 3, '3 masks after the restart', 90000);
    assert.ok((c.lastSeq.get('cam') ?? -1) > seqBeforeRestart, 'seq keeps increasing across the reconnect');

    const text = await scrape(d.httpUrl);
    assert.ok((metricSum(text, 'segd_stream_restarts_total', { stream: 'cam' }) ?? 0) >= 1);
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'cam' }), 1);
    assert.deepEqual(
      d.logs.filter((l) => JSON.stringify(l).includes(PASSWORD)),
      [],
      'the RTSP password never reaches the log',
    );
  });
});
