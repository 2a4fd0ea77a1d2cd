// Fault: the RTSP server serving two cameras is killed and restarted on the same port, three
// times. Each time both RTSP streams go down (stream_up 0, a restart counted) and come back with
// later seq numbers; a file stream beside them keeps publishing through every outage.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_TRAIN } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { keepsPublishing } from '../helpers/faults.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';

const CAMS = ['cam1', 'cam2'] as const;

describe('faults: RTSP server killed and restarted repeatedly', { timeout: 420000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let server: RtspServer | null = null;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-faults-rtsp-');
    server = await startRtspServer();
    const cfg = testConfig([
      ...CAMS.map((id) => ({ id, url: server?.url ?? '', rtspTransport: 'tcp' })),
      { id: 'file', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('every RTSP stream recovers after each of 3 restarts; the file stream never stops', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;
    await keepsPublishing(c, [...CAMS, 'file'], 3, 90000);
    const port = (server as RtspServer).port;

    for (let cycle = 1; cycle <= 3; cycle++) {
      await (server as RtspServer).stop();
      server = null;
      await pollUntil(
        async () => {
          const text = await scrape(d.httpUrl);
          return CAMS.every((id) => metricValue(text, 'segd_stream_up', { stream: id }) === 0);
        },
        `cycle ${cycle}: both RTSP streams down`,
        60000,
      );
      // The outage does not reach the file stream.
      await keepsPublishing(c, ['file'], 3);
      const seqBefore = new Map(CAMS.map((id) => [id, c.lastSeq.get(id) ?? -1]));

      server = await startRtspServer({ port });
      await keepsPublishing(c, [...CAMS, 'file'], 3, 120000);
      for (const id of CAMS) assert.ok((c.lastSeq.get(id) ?? -1) > (seqBefore.get(id) ?? -1), `${id} seq grows after cycle ${cycle}`);
      const text = await scrape(d.httpUrl);
      for (const id of CAMS) {
        assert.ok((metricSum(text, 'segd_stream_restarts_total', { stream: id }) ?? 0) >= cycle, `${id}: ≥ ${cycle} restarts`);
        assert.equal(metricValue(text, 'segd_stream_up', { stream: id }), 1);
      }
    }

    const text = await scrape(d.httpUrl);
    assert.equal(metricSum(text, 'segd_stream_restarts_total', { stream: 'file' }), 0);
    for (const id of CAMS) {
      assert.ok(d.logs.some((r) => r.msg === 'ffmpeg exited; will restart' && r['stream'] === id), `${id}: exit logged`);
    }
  });
});
