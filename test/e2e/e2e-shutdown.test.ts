// End to end: SIGTERM/SIGINT stop the daemon process gracefully: exit 0 within the 5 s contract
// (systemd's stop budget relies on it), clients see close code 1001, no ffmpeg child survives.
import { describe, it, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { MODEL_PATH, makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient } from '../helpers/e2e-client.js';

/** The contract: stop and exit within 5 s of the signal. */
const STOP_BUDGET_MS = 5000;

function childPids(pid: number): number[] {
  try {
    return execFileSync('ps', ['-o', 'pid=', '--ppid', String(pid)], { encoding: 'utf8' })
      .split('\n')
      .map((s) => Number(s.trim()))
      .filter((n) => n > 0);
  } catch {
    return []; // ps exits 1 when there is none
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('e2e: shutdown', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir> | null = null;
  let daemon: DaemonProcess | null = null;
  const clients: E2eClient[] = [];

  afterEach(async () => {
    await Promise.all(clients.splice(0).map((c) => c.terminate()));
    await daemon?.stop('SIGKILL');
    tmp?.cleanup();
  });

  async function start(): Promise<DaemonProcess> {
    tmp = makeTempDir('segd-e2e-shutdown-');
    const cfg = testConfig([
      { id: 'val', url: SAMPLE_CLIP_VAL },
      { id: 'train', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
    return daemon;
  }

  it('SIGTERM: exit 0 within 5 s, every client closed with 1001, ffmpeg children gone', async () => {
    const d = await start();
    for (let i = 0; i < 2; i++) clients.push(await E2eClient.connect(d.wsUrl));
    await Promise.all(clients.map((c) => c.waitUntil(() => c.count('val') > 0 && c.count('train') > 0, 'masks of both streams', 60000)));
    const ffmpegs = childPids(d.child.pid as number);
    assert.equal(ffmpegs.length, 2, 'one ffmpeg per stream');

    const t0 = Date.now();
    d.child.kill('SIGTERM');
    const exit = await d.exited;
    const elapsed = Date.now() - t0;
    assert.deepEqual(exit, { code: 0, signal: null }, d.stderr());
    assert.ok(elapsed < STOP_BUDGET_MS, `exited ${elapsed} ms after SIGTERM (budget ${STOP_BUDGET_MS} ms)`);
    for (const c of clients) assert.deepEqual(await c.closed, { code: 1001, reason: 'going away' });
    for (const pid of ffmpegs) assert.equal(alive(pid), false, `ffmpeg ${pid} still running`);
    assert.ok(d.logs.some((l) => l.msg === 'daemon stopped'), 'graceful path, not the hard timer');
    assert.ok(!d.logs.some((l) => l.level === 'error' || l.level === 'fatal'), JSON.stringify(d.logs.filter((l) => l.level === 'error')));
  });

  it('SIGTERM during start-up (right after "listening", while the model loads): exit 0', async () => {
    tmp = makeTempDir('segd-e2e-shutdown-');
    const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL }], { model: { path: MODEL_PATH, providers: ['cpu'], warmupRuns: 5 } });
    daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, cfg)] });
    daemon.child.kill('SIGTERM');
    assert.deepEqual(await daemon.exited, { code: 0, signal: null }, daemon.stderr());
    assert.ok(daemon.logs.some((l) => l.msg === 'stopped during start-up' || l.msg === 'daemon stopped'));
  });

  it('SIGINT: the same graceful stop', async () => {
    const d = await start();
    const c = await E2eClient.connect(d.wsUrl);
    clients.push(c);
    d.child.kill('SIGINT');
    assert.deepEqual(await d.exited, { code: 0, signal: null }, d.stderr());
    assert.equal((await c.closed).code, 1001);
  });
});
