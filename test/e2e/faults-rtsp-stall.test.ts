// Fault: an RTSP stream that stalls without closing. The GStreamer server is frozen with SIGSTOP:
// its TCP connection stays open but no packet comes. The daemon notices (its no-frame watchdog or
// ffmpeg's own I/O timeout, whichever fires first), logs it, counts a restart and keeps retrying;
// a file stream beside it keeps publishing. After SIGCONT the RTSP stream comes back.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_TRAIN } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { keepsPublishing, restarts } from '../helpers/faults.js';
import { startRtspServer, type RtspServer } from '../helpers/rtsp-server.js';

describe('faults: RTSP stream stalls without closing', { timeout: 240000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let server: RtspServer | null = null;
  let frozen = false;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-faults-stall-');
    server = await startRtspServer();
    const cfg = testConfig([
      { id: 'cam', url: server.url, rtspTransport: 'tcp' },
      { id: 'file', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    if (frozen && server) process.kill(server.pid, 'SIGCONT');
    await client?.terminate();
    await daemon?.stop();
    await server?.stop();
    tmp.cleanup();
  });

  it('the stalled stream is detected and restarted; the other keeps publishing; it recovers', async () => {
    const d = daemon as DaemonProcess;
    const srv = server as RtspServer;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;
    await keepsPublishing(c, ['cam', 'file'], 3, 90000);
    const logsBefore = d.logs.length;

    process.kill(srv.pid, 'SIGSTOP');
    frozen = true;
    // Detected: a stall (watchdog) or an I/O-timeout exit of ffmpeg, logged and counted as a restart.
    const failures = await pollUntil(
      async () => {
        const text = await scrape(d.httpUrl);
        const n = restarts(text, 'cam', 'stalled') + restarts(text, 'cam', 'exited');
        return n >= 1 ? n : undefined;
      },
      'a restart of the stalled stream',
      60000,
    );
    assert.ok(failures >= 1);
    const noticed = d.logs
      .slice(logsBefore)
      .filter((r) => r['stream'] === 'cam' && (r.msg === 'stream stalled; killing ffmpeg' || r.msg === 'ffmpeg exited; will restart'));
    assert.ok(noticed.length >= 1, 'the stall is logged');
    assert.equal(metricValue(await scrape(d.httpUrl), 'segd_stream_up', { stream: 'cam' }), 0);
    // The frozen camera holds up nothing else.
    await keepsPublishing(c, ['file'], 5);

    const seqBefore = c.lastSeq.get('cam') ?? -1;
    process.kill(srv.pid, 'SIGCONT');
    frozen = false;
    await keepsPublishing(c, ['cam', 'file'], 3, 120000);
    assert.ok((c.lastSeq.get('cam') ?? -1) > seqBefore, 'seq keeps increasing');
    assert.equal(metricValue(await scrape(d.httpUrl), 'segd_stream_up', { stream: 'cam' }), 1);
    assert.equal(metricSum(await scrape(d.httpUrl), 'segd_stream_restarts_total', { stream: 'file' }), 0);
  });
});
