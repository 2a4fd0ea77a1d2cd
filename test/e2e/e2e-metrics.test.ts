// End to end: a live /metrics scrape of the daemon process passes `promtool check metrics`, and
// every pipeline stage, counter and gauge has really been observed.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, testConfig, type DaemonProcess, startReadyDaemon } from '../helpers/daemon.js';
import { E2eClient, metricSum, metricValue, scrape } from '../helpers/e2e-client.js';

const PROMTOOL = '/usr/bin/promtool';
const havePromtool = spawnSync(PROMTOOL, ['--version']).status === 0;

describe('e2e: metrics', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess | null = null;
  let client: E2eClient | null = null;

  before(async () => {
    tmp = makeTempDir('segd-e2e-metrics-');
    const cfg = testConfig([
      { id: 'val', url: SAMPLE_CLIP_VAL },
      { id: 'train', url: SAMPLE_CLIP_TRAIN },
    ]);
    daemon = await startReadyDaemon(tmp.dir, cfg);
    client = await E2eClient.connect(daemon.wsUrl);
    // deflate: the encode stage only runs for a compressed encoding.
    await client.request({ type: 'encoding', encoding: 'deflate' });
    await client.waitUntil(() => (client as E2eClient).count('val') >= 5 && (client as E2eClient).count('train') >= 5, '5 masks per stream', 60000);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp.cleanup();
  });

  it('every stage, counter and gauge reflects the traffic', async () => {
    const text = await scrape((daemon as DaemonProcess).httpUrl);
    for (const stage of ['decode_to_queue', 'queue_wait', 'batch_wait', 'inference', 'encode', 'send']) {
      assert.ok((metricValue(text, 'segd_stage_latency_seconds_count', { stage }) ?? 0) > 0, `stage ${stage} observed`);
    }
    assert.ok((metricValue(text, 'segd_capture_to_send_seconds_count') ?? 0) > 0);
    assert.ok((metricValue(text, 'segd_batch_size_count') ?? 0) > 0);
    for (const stream of ['val', 'train']) {
      for (const name of ['segd_frames_decoded_total', 'segd_frames_inferred_total', 'segd_frames_published_total']) {
        assert.ok((metricValue(text, name, { stream }) ?? 0) > 0, `${name}{stream="${stream}"}`);
      }
      assert.equal(metricValue(text, 'segd_stream_up', { stream }), 1);
      assert.equal(metricSum(text, 'segd_stream_restarts_total', { stream }), 0);
      assert.notEqual(metricValue(text, 'segd_frames_dropped_total', { stream, reason: 'queue_full' }), undefined);
    }
    assert.equal(metricValue(text, 'segd_ws_clients'), 1);
    assert.equal(metricValue(text, 'segd_model_info', { model: 'sctnet-s-camvid', provider: 'cpu' }), 1);
    assert.ok(metricValue(text, 'process_resident_memory_bytes') !== undefined, 'default process metrics');
    const health = await fetch(`${(daemon as DaemonProcess).httpUrl}/healthz`);
    assert.equal(health.status, 200);
    assert.deepEqual(await health.json(), { status: 'ok' });
  });

  it('passes promtool check metrics', { skip: havePromtool ? false : `${PROMTOOL} not installed (Debian package "prometheus")` }, async () => {
    const text = await scrape((daemon as DaemonProcess).httpUrl);
    const r = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30000 });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    assert.equal(`${r.stdout}${r.stderr}`.trim(), '', 'no lint findings');
  });
});
