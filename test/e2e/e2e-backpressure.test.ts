// End to end: the daemon process with two plays of the 100-frame clip, neither looping: one
// unpaced (realtime: false, so backpressure: paced by the pipeline) and one at its native rate
// (realtime: true, newest-wins as for a live camera). The unpaced stream must have every frame
// decoded, inferred and published, and none dropped; the paced one accounts for every frame as
// published or dropped as queue_full, as before.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricValue, pollUntil, scrape } from '../helpers/e2e-client.js';

const REASONS = ['queue_full', 'pool_exhausted', 'shutdown', 'inference_error', 'slow_client'] as const;

interface Counts {
  decoded: number;
  inferred: number;
  published: number;
  drops: Record<(typeof REASONS)[number], number>;
}

function countsOf(text: string, stream: string): Counts {
  const v = (name: string, labels: Record<string, string> = {}): number => {
    const x = metricValue(text, name, { stream, ...labels });
    assert.ok(x !== undefined, `${name}{stream="${stream}"} missing`);
    return x;
  };
  const drops = {} as Counts['drops'];
  for (const reason of REASONS) drops[reason] = v('segd_frames_dropped_total', { reason });
  return { decoded: v('segd_frames_decoded_total'), inferred: v('segd_frames_inferred_total'), published: v('segd_frames_published_total'), drops };
}

/** Every frame the source produced has left the pipeline (published or dropped). */
function settled(c: Counts, frames: number): boolean {
  return c.decoded + c.drops.pool_exhausted === frames && c.published + c.drops.queue_full + c.drops.inference_error + c.drops.shutdown === c.decoded;
}

describe('e2e: an unpaced file is paced by the pipeline (backpressure)', { timeout: 240000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;
  const unpacedSeqs: number[] = [];

  before(async () => {
    tmp = makeTempDir('segd-e2e-backpressure-');
    const cfg = testConfig([
      { id: 'unpaced', url: SAMPLE_CLIP_VAL, loop: false, realtime: false },
      { id: 'paced', url: SAMPLE_CLIP_VAL, loop: false, realtime: true },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
    client = await E2eClient.connect(daemon.wsUrl);
    client.keep = (m) => {
      if (m.streamId === 'unpaced') unpacedSeqs.push(m.seq);
      return false; // counts only: a raw mask is ~170 KB
    };
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('unpaced: 100 decoded, inferred and published, zero drops; paced: every frame published or dropped queue_full', async () => {
    const d = daemon as DaemonProcess;
    const counts = await pollUntil(
      async () => {
        const text = await scrape(d.httpUrl);
        const c = { unpaced: countsOf(text, 'unpaced'), paced: countsOf(text, 'paced') };
        return settled(c.unpaced, 100) && settled(c.paced, 100) ? c : undefined;
      },
      'both plays of the clip to pass through the pipeline',
      200000,
      500,
    );
    const zero = Object.fromEntries(REASONS.map((r) => [r, 0]));
    assert.deepEqual(counts.unpaced, { decoded: 100, inferred: 100, published: 100, drops: zero });

    const p = counts.paced;
    assert.equal(p.decoded, 100);
    assert.equal(p.inferred, p.published);
    assert.equal(p.published + p.drops.queue_full, 100);
    assert.deepEqual([p.drops.pool_exhausted, p.drops.inference_error, p.drops.shutdown, p.drops.slow_client], [0, 0, 0, 0]);

    // The client joined after start-up: whatever it got of the unpaced stream has no gap and ends at 99.
    await (client as E2eClient).waitUntil(() => unpacedSeqs.at(-1) === 99, 'the last unpaced mask', 30000);
    for (let k = 1; k < unpacedSeqs.length; k++) assert.equal(unpacedSeqs[k], (unpacedSeqs[k - 1] as number) + 1, `no gap after seq ${unpacedSeqs[k - 1]}`);
  });
});
