// The daemon with model.sessions: 2 (two ONNX Runtime sessions running batches side by side, as
// config/default.yaml ships): masks byte-equal to onnxruntime run directly on the same frames for
// two streams, both sessions logged once, and a model swap (PUT /api/model) brings up two new
// sessions and masks flow again.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT, SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { decodeClipFrames, expectMasksEqualDirectRun, readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient, metricValue, scrape } from '../helpers/e2e-client.js';
import { api } from '../helpers/control-api.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-lite0-camvid-int8.onnx');

async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 200));
}

describe('e2e: the daemon with two inference sessions', { timeout: 600_000 }, () => {
  const card = readCardBeside(MODEL);
  const { width, height } = card.input;
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-sessions-');
    const cfg = testConfig(
      [
        { id: 'val', url: SAMPLE_CLIP_VAL, loop: false, realtime: true },
        { id: 'train', url: SAMPLE_CLIP_TRAIN, loop: false, realtime: true },
      ],
      { model: { path: MODEL, providers: ['cpu'], warmupRuns: 1, sessions: 2, cpu: { intraOpThreads: 1, interOpThreads: 1 } } },
    );
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('serves masks byte-equal to onnxruntime run directly, on both streams; two sessions were loaded', async () => {
    const loaded = daemon.logs.filter((l) => l.msg === 'model loaded and warmed up');
    assert.deepEqual(loaded.map((l) => l['session']).sort(), [0, 1]);
    assert.equal(daemon.logs.filter((l) => l.msg === 'inference sessions run batches side by side' && l['sessions'] === 2).length, 1);
    client = await E2eClient.connect(daemon.wsUrl);
    client.keep = () => true;
    await client.waitUntil(() => ['val', 'train'].every((id) => (client as E2eClient).kept.filter((m) => m.streamId === id).length >= 4), '4 masks of each stream', 180_000);
    for (const [id, clip] of [['val', SAMPLE_CLIP_VAL], ['train', SAMPLE_CLIP_TRAIN]] as const) {
      const mine = client.kept.filter((m) => m.streamId === id).slice(0, 4);
      await expectMasksEqualDirectRun(MODEL, card, mine, decodeClipFrames(clip, width, height));
    }
  });

  it('PUT /api/model swaps in two new sessions, and masks flow again', async () => {
    const added = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'loop', url: SAMPLE_CLIP_VAL, loop: true, realtime: true });
    assert.equal(added.status, 201, JSON.stringify(added.body));
    const before = daemon.logs.filter((l) => l.msg === 'model loaded and warmed up').length;
    const swapped = await api(daemon.httpUrl, 'PUT', '/api/model', { path: MODEL, card: null });
    assert.equal(swapped.status, 200, JSON.stringify(swapped.body));
    assert.equal(daemon.logs.filter((l) => l.msg === 'model loaded and warmed up').length, before + 2);
    const inferred = async (): Promise<number> => metricValue(await scrape(daemon.httpUrl), 'segd_frames_inferred_total', { stream: 'loop' }) ?? 0;
    const n = await inferred();
    await until(async () => (await inferred()) > n + 3);
    assert.equal(daemon.child.exitCode, null);
  });
});
