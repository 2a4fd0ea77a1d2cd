// Fault: one stream's ffmpeg is SIGKILLed mid-stream, three times. Each time that stream logs
// "ffmpeg exited; will restart" with the signal, counts a restart with reason "exited" and comes
// back with later seq numbers; the other stream never restarts and never stops publishing.
// Then its ffmpeg is frozen (SIGSTOP: alive, pipes open, no frames): the no-frame watchdog
// notices, kills it (SIGKILL after the grace period) and counts a restart with reason "stalled".
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, pollUntil, scrape } from '../helpers/e2e-client.js';
import { ffmpegChildOf, keepsPublishing, restarts } from '../helpers/faults.js';

describe('faults: ffmpeg killed or frozen mid-stream', { timeout: 180000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-faults-kill-');
    const cfg = testConfig([
      { id: 'victim', url: SAMPLE_CLIP_VAL },
      { id: 'bystander', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('the killed stream restarts each time; the other keeps publishing', async () => {
    const d = daemon as DaemonProcess;
    client = await E2eClient.connect(d.wsUrl);
    const c = client;
    await keepsPublishing(c, ['victim', 'bystander'], 3);
    const daemonPid = d.child.pid as number;

    for (let cycle = 1; cycle <= 3; cycle++) {
      const pid = await pollUntil(async () => ffmpegChildOf(daemonPid, SAMPLE_CLIP_VAL), `the victim's ffmpeg (cycle ${cycle})`, 30000);
      const seqBefore = c.lastSeq.get('victim') ?? -1;
      const logsBefore = d.logs.length;
      process.kill(pid, 'SIGKILL');

      const line = await d.waitForLog(
        // Only lines logged after this kill (waitForLog scans from the first line).
        (r) => r.msg === 'ffmpeg exited; will restart' && r['stream'] === 'victim' && r['signal'] === 'SIGKILL' && d.logs.indexOf(r) >= logsBefore,
        `cycle ${cycle}: the victim's exit log line`,
      );
      assert.equal(line['reason'], 'exited');
      await pollUntil(async () => restarts(await scrape(d.httpUrl), 'victim', 'exited') >= cycle, `cycle ${cycle}: restart counted`, 30000);
      // Back, with later seq numbers; the bystander published all along.
      await keepsPublishing(c, ['victim', 'bystander'], 3);
      assert.ok((c.lastSeq.get('victim') ?? -1) > seqBefore);
    }

    const text = await scrape(d.httpUrl);
    assert.equal(restarts(text, 'victim', 'exited'), 3);
    assert.equal(restarts(text, 'victim', 'stalled'), 0);
    for (const reason of ['exited', 'stalled', 'spawn_failed'] as const) assert.equal(restarts(text, 'bystander', reason), 0, reason);
  });

  it('a frozen ffmpeg is detected by the stall watchdog and replaced', async () => {
    const d = daemon as DaemonProcess;
    const c = client as E2eClient;
    const daemonPid = d.child.pid as number;
    const pid = await pollUntil(async () => ffmpegChildOf(daemonPid, SAMPLE_CLIP_VAL), "the victim's ffmpeg", 30000);
    const logsBefore = d.logs.length;
    process.kill(pid, 'SIGSTOP');
    const line = await d.waitForLog(
      (r) => r.msg === 'stream stalled; killing ffmpeg' && r['stream'] === 'victim' && d.logs.indexOf(r) >= logsBefore,
      'the stall log line',
    );
    assert.match(String(line['detail']), /no frame for \d+ ms/);
    await pollUntil(async () => restarts(await scrape(d.httpUrl), 'victim', 'stalled') >= 1, 'a stalled restart counted', 30000);
    await keepsPublishing(c, ['victim', 'bystander'], 3);
    for (const reason of ['exited', 'stalled', 'spawn_failed'] as const) assert.equal(restarts(await scrape(d.httpUrl), 'bystander', reason), 0, reason);
  });
});
