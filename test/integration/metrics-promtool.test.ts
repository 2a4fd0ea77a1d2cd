import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { describe, it } from 'node:test';
import { createMetrics } from '../../daemon/metrics.js';
import { TestClient, loadCamvidMasks, maskResult, startPublishServer } from '../helpers/publish-harness.js';

const PROMTOOL = '/usr/bin/promtool';

/** The value of one exact series line in a scrape, or NaN if absent. */
function sample(text: string, series: string): number {
  for (const line of text.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return Number.NaN;
}

describe('metrics', { timeout: 60_000 }, () => {
  it('a live /metrics scrape after real observations passes `promtool check metrics` and shows them', async (t) => {
    const { masks, width, height } = loadCamvidMasks(1);
    const metrics = createMetrics({ streams: ['cam1', 'cam2'], maxBatch: 4 });
    const srv = await startPublishServer({ metrics });
    t.after(() => srv.close());

    const cam1 = metrics.stream('cam1');
    for (let i = 0; i < 3; i++) cam1.frameDecoded();
    cam1.frameInferred();
    cam1.frameInferred();
    cam1.dropped('queue_full');
    cam1.dropped('queue_full');
    cam1.setUp(true);
    metrics.stream('cam2').restarted('exited');
    metrics.setModelInfo({ model: 'old', architecture: 'sctnet-s', provider: 'cuda' });
    metrics.setModelInfo({ model: 'sctnet-s-camvid', architecture: 'sctnet-s', provider: 'cpu' });

    const c = await TestClient.connect(srv.wsUrl);
    t.after(() => c.close());
    for (let seq = 0; seq < 3; seq++) {
      const r = maskResult('cam1', seq, masks[0] as Uint8Array, width, height);
      metrics.observeResultStages(r);
      metrics.observeBatch({ size: 2, trigger: 'full', inferStartNs: r.inferStartNs, inferEndNs: r.inferEndNs });
      srv.publisher.publish(r);
      await c.nextMask();
    }

    // Send completion is reported from the socket's write callback: poll the scrape (bounded).
    let text = '';
    for (let i = 0; i < 100; i++) {
      const res = await fetch(`${srv.httpUrl}/metrics`);
      text = await res.text();
      if (sample(text, 'segd_capture_to_send_seconds_count') === 3) break;
      await new Promise((r) => setTimeout(r, 20));
    }

    assert.equal(sample(text, 'segd_frames_decoded_total{stream="cam1"}'), 3);
    assert.equal(sample(text, 'segd_frames_inferred_total{stream="cam1"}'), 2);
    assert.equal(sample(text, 'segd_frames_published_total{stream="cam1"}'), 3);
    assert.equal(sample(text, 'segd_frames_published_total{stream="cam2"}'), 0, 'series exist from registration');
    assert.equal(sample(text, 'segd_frames_dropped_total{stream="cam1",reason="queue_full"}'), 2);
    assert.equal(sample(text, 'segd_frames_dropped_total{stream="cam2",reason="slow_client"}'), 0);
    assert.equal(sample(text, 'segd_stream_up{stream="cam1"}'), 1);
    assert.equal(sample(text, 'segd_stream_up{stream="cam2"}'), 0);
    assert.equal(sample(text, 'segd_stream_restarts_total{stream="cam2",reason="exited"}'), 1);
    assert.equal(sample(text, 'segd_stream_restarts_total{stream="cam2",reason="stalled"}'), 0, 'every reason exported from registration');
    assert.equal(sample(text, 'segd_ws_clients'), 1);
    assert.equal(sample(text, 'segd_model_info{model="sctnet-s-camvid",architecture="sctnet-s",provider="cpu"}'), 1);
    assert.doesNotMatch(text, /provider="cuda"/, 'the previous model info series is gone');
    assert.equal(sample(text, 'segd_capture_to_send_seconds_count'), 3);
    for (const stage of ['decode_to_queue', 'queue_wait', 'batch_wait', 'inference', 'send']) {
      assert.equal(sample(text, `segd_stage_latency_seconds_count{stage="${stage}"}`), 3, stage);
    }
    assert.equal(sample(text, 'segd_stage_latency_seconds_count{stage="encode"}'), 3, 'raw encoded once per frame');
    // The harness frames have 1 ms between stamps: they land in the (0.001] bucket.
    assert.equal(sample(text, 'segd_stage_latency_seconds_bucket{le="0.001",stage="queue_wait"}'), 3);
    assert.equal(sample(text, 'segd_batch_size_bucket{le="1"}'), 0);
    assert.equal(sample(text, 'segd_batch_size_bucket{le="2"}'), 3);
    assert.equal(sample(text, 'segd_batch_size_bucket{le="4"}'), 3);
    assert.ok(Number.isFinite(sample(text, 'process_cpu_seconds_total')), 'default process metrics');

    if (!existsSync(PROMTOOL)) {
      t.skip(`${PROMTOOL} not installed: promtool check skipped (apt install prometheus)`);
      return;
    }
    const check = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8', timeout: 30_000 });
    assert.equal(check.error, undefined);
    assert.equal(check.status, 0, `promtool check metrics failed:\n${check.stdout}${check.stderr}`);
    assert.equal(`${check.stdout}${check.stderr}`.trim(), '', 'no lint findings');
  });

  it('a stream handle is only given for registered streams, naming the id', () => {
    const metrics = createMetrics({ streams: ['a'], defaultMetrics: false });
    assert.equal(metrics.stream('a'), metrics.registerStream('a'), 'registration is idempotent');
    assert.throws(() => metrics.stream('zz'), /stream "zz" was never registered/);
    assert.throws(() => createMetrics({ maxBatch: 0, defaultMetrics: false }), /maxBatch: 0/);
  });
});
