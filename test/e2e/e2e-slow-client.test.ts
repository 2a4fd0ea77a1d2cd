// End to end: a client that stops reading (a real WebSocket handshake on a raw TCP socket that is
// then paused) is skipped with `slow_client` drops counted, while a second client keeps receiving.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';

/** Completes the WebSocket opening handshake, then never reads again. */
function stalledWebSocket(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1');
    s.on('error', reject);
    s.on('connect', () => {
      s.write(
        'GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
      );
    });
    let head = '';
    const onData = (d: Buffer): void => {
      head += d.toString('latin1');
      if (!head.includes('\r\n\r\n')) return;
      s.off('data', onData);
      if (!head.startsWith('HTTP/1.1 101')) return reject(new Error(`upgrade refused: ${head.split('\r\n')[0]}`));
      s.pause(); // from here on the kernel buffers fill up and the server's bufferedAmount grows
      resolve(s);
    };
    s.on('data', onData);
  });
}

describe('e2e: a slow client does not slow a fast one', { timeout: 150000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let slow: Socket | null = null;
  let fast: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-slow-');
    const cfg = testConfig(
      [
        { id: 'val', url: SAMPLE_CLIP_VAL },
        { id: 'train', url: SAMPLE_CLIP_TRAIN },
      ],
      { publish: { maxBufferedBytes: 262144 } },
    );
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    slow?.destroy();
    await fast?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('the stalled client skips frames (slow_client counted); the other keeps receiving', async () => {
    const d = daemon as DaemonProcess;
    slow = await stalledWebSocket(d.port);
    fast = await E2eClient.connect(d.wsUrl);
    const f = fast;

    const snapshot = async (): Promise<{ published: Record<string, number>; fast: Record<string, number>; drops: number }> => {
      const text = await scrape(d.httpUrl);
      const fastNow = { val: f.count('val'), train: f.count('train') };
      const pub = (stream: string): number => metricValue(text, 'segd_frames_published_total', { stream }) ?? 0;
      const drop = (stream: string): number => metricValue(text, 'segd_frames_dropped_total', { stream, reason: 'slow_client' }) ?? 0;
      return { published: { val: pub('val'), train: pub('train') }, fast: fastNow, drops: drop('val') + drop('train') };
    };
    // Raw masks (~170 KB each) fill the kernel's socket buffers within seconds.
    await pollUntil(async () => ((await snapshot()).drops > 0 ? true : undefined), 'slow_client drops', 90000);

    // Over a window of >= 20 frames per stream: the fast client gets every published mask, the
    // slow one skips every one (a skip is counted per client, so a skipped fast client would show
    // up as twice the drops). Snapshots race with in-flight frames by a frame or two: tolerance 3.
    const a = await snapshot();
    await f.waitUntil(() => f.count('val') >= (a.fast['val'] ?? 0) + 20 && f.count('train') >= (a.fast['train'] ?? 0) + 20, '20 more masks of each stream', 90000);
    const b = await snapshot();
    let publishedDelta = 0;
    for (const stream of ['val', 'train']) {
      const dp = (b.published[stream] ?? 0) - (a.published[stream] ?? 0);
      const df = (b.fast[stream] ?? 0) - (a.fast[stream] ?? 0);
      publishedDelta += dp;
      assert.ok(Math.abs(df - dp) <= 3, `${stream}: fast client got ${df} of ${dp} published masks`);
    }
    const dropsDelta = b.drops - a.drops;
    assert.ok(Math.abs(dropsDelta - publishedDelta) <= 3, `slow_client drops +${dropsDelta} for ${publishedDelta} published masks`);

    const text = await scrape(d.httpUrl);
    assert.equal(metricValue(text, 'segd_ws_clients'), 2, 'the slow client is skipped, not disconnected');
  });

  it('SIGTERM with the stalled client still connected: exit 0 within 5 s, the fast client sees 1001', async () => {
    const d = daemon as DaemonProcess;
    const f = fast as E2eClient;
    // The stalled client cannot receive a close frame; the daemon cuts it after its close timeout.
    const t0 = Date.now();
    d.child.kill('SIGTERM');
    assert.deepEqual(await d.exited, { code: 0, signal: null }, d.stderr());
    const elapsed = Date.now() - t0;
    assert.ok(elapsed < 5000, `exited ${elapsed} ms after SIGTERM`);
    assert.equal((await f.closed).code, 1001);
    assert.ok(d.logs.some((l) => l.msg === 'daemon stopped'), 'graceful path, not the hard timer');
  });
});
