// Faults from bad inputs, all in one daemon beside a healthy stream:
//  - a truncated MP4 (header intact, media data cut): the frames it has are published, then the
//    stream stops at end of file ('stopped', 'eof'), logged;
//  - a corrupt file (random bytes): ffmpeg refuses it, the stream retries with backoff, each
//    failure logged with ffmpeg's error and counted as a restart with reason "exited";
//  - a URL that never answers (a TCP listener that accepts and stays silent): restarted after the
//    connect timeout (reason "stalled", or "exited" when ffmpeg's own I/O timeout fires first).
// The healthy stream keeps publishing throughout. (A garbage model file at start is
// test/e2e/e2e-bad-model.test.ts: exit code 3 and one fatal line naming the file.)
import { describe, it, before, after } from 'node:test';
import { startSilentServer, type SilentServer } from '../helpers/silent-server.js';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';
import { keepsPublishing, restarts } from '../helpers/faults.js';

/** Deterministic bytes (xorshift32), so a failure reproduces. */
function pseudoRandomBytes(n: number, seed: number): Buffer {
  const out = Buffer.alloc(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
  }
  return out;
}

describe('faults: truncated file, corrupt file, silent URL', { timeout: 240000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let silent: SilentServer | null = null;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-faults-input-');
    const truncated = join(tmp.dir, 'truncated.mp4');
    // The clip's moov atom is at the start: 150 kB keeps the header and the first ~9 frames.
    writeFileSync(truncated, readFileSync(SAMPLE_CLIP_VAL).subarray(0, 150_000));
    const corrupt = join(tmp.dir, 'corrupt.mp4');
    writeFileSync(corrupt, pseudoRandomBytes(64 * 1024, 0x5e6d));
    silent = await startSilentServer();
    const port = silent.port;
    const cfg = testConfig([
      { id: 'good', url: SAMPLE_CLIP_VAL },
      { id: 'truncated', url: truncated, loop: false },
      { id: 'corrupt', url: corrupt },
      { id: 'silent', url: `rtsp://127.0.0.1:${port}/never` },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await silent?.close();
    tmp.cleanup();
  });

  it('each bad input fails on its own, visibly, and the good stream keeps publishing', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;

    // Corrupt file: retried, each exit logged with ffmpeg's complaint and counted.
    await pollUntil(async () => restarts(await scrape(d.httpUrl), 'corrupt', 'exited') >= 2, 'two restarts of the corrupt file', 60000);
    const exitLine = d.logs.find((r) => r.msg === 'ffmpeg exited; will restart' && r['stream'] === 'corrupt');
    assert.ok(exitLine, 'exit logged');
    assert.equal(exitLine['reason'], 'exited');
    assert.match(String(exitLine['lastError']), /Invalid data/i);

    // Silent URL: restarted too.
    await pollUntil(
      async () => {
        const text = await scrape(d.httpUrl);
        return restarts(text, 'silent', 'stalled') + restarts(text, 'silent', 'exited') >= 1;
      },
      'a restart of the silent URL',
      60000,
    );

    // Truncated file: ends at its end of file, after publishing what it had.
    await d.waitForLog((r) => r.msg === 'file source reached end of file' && r['stream'] === 'truncated', 'truncated file EOF', 60000);
    const reply = await c.request({ type: 'list_streams' });
    assert.equal(reply.type, 'streams');
    const states = new Map(reply.type === 'streams' ? reply.streams.map((s) => [s.id, s.state]) : []);
    assert.equal(states.get('truncated'), 'stopped');
    assert.notEqual(states.get('corrupt'), 'streaming');

    // Meanwhile the good stream keeps going.
    await keepsPublishing(c, ['good'], 10);
    const text = await scrape(d.httpUrl);
    assert.ok((metricValue(text, 'segd_frames_decoded_total', { stream: 'truncated' }) ?? 0) >= 1, 'the truncated file yielded frames');
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'corrupt' }), 0);
    assert.equal(metricValue(text, 'segd_stream_up', { stream: 'good' }), 1);
    assert.equal(metricSum(text, 'segd_stream_restarts_total', { stream: 'good' }), 0);
    assert.equal(metricSum(text, 'segd_stream_restarts_total', { stream: 'truncated' }), 0);
  });
});
