// The daemon with model.engine triton against a real Triton (PyTriton's tritonserver, the shipped
// int8 contract model on onnxruntime CPU inside it): masks byte-equal to onnxruntime's own run of
// the same model on the same frames; streams added and removed at run time; Triton killed while
// streams run → sources keep decoding, /healthz answers, frames drop as inference_unavailable,
// /readyz says not ready and why; Triton back → ready again and masks flow again. Over HTTP (the
// transport the docs recommend); test/integration/engine-triton.test.ts runs the engine over both.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { REPO_ROOT, SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { decodeClipFrames, expectMasksEqualDirectRun, readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient, metricValue, scrape } from '../helpers/e2e-client.js';
import { api } from '../helpers/control-api.js';
import { startTriton, type TritonServer } from '../helpers/triton.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');

/** Polls `cond` (no deadline of its own: the test's timeout bounds it). */
async function until(cond: () => Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 200));
}

describe('e2e: the daemon on a Triton engine', { timeout: 600_000 }, () => {
  const card = readCardBeside(MODEL);
  const { width, height } = card.input;
  let tmp: ReturnType<typeof makeTempDir>;
  let triton: TritonServer;
  let daemon: DaemonProcess;
  let client: E2eClient | null = null;
  const metric = async (name: string, labels: Record<string, string>): Promise<number> => metricValue(await scrape(daemon.httpUrl), name, labels) ?? 0;
  const readyz = async (): Promise<{ status: number; body: Record<string, unknown> }> => {
    const res = await fetch(`${daemon.httpUrl}/readyz`);
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };

  before(async () => {
    tmp = makeTempDir('segd-e2e-triton-');
    triton = await startTriton({ model: MODEL, name: 'seg', card: join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.json') });
    // One stream at first: every batch holds one frame, exactly what the direct run does.
    const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL, loop: false, realtime: true }], {
      model: { engine: 'triton', path: MODEL, triton: { url: triton.httpUrl, model: 'seg', timeoutMs: 10_000, reconnect: { minMs: 100, maxMs: 1000 } } },
    });
    daemon = await startReadyDaemon(tmp.dir, cfg);
  });
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    await triton?.kill();
    tmp?.cleanup();
  });

  it('serves masks byte-equal to onnxruntime run directly on the same frames, with the card Triton holds', async () => {
    client = await E2eClient.connect(daemon.wsUrl);
    assert.equal(client.hello.model, card.name);
    client.keep = (m) => m.streamId === 'val';
    await client.waitUntil(() => (client as E2eClient).kept.length >= 3, '3 masks of stream val', 120_000);
    await expectMasksEqualDirectRun(MODEL, card, client.kept.slice(0, 3), decodeClipFrames(SAMPLE_CLIP_VAL, width, height));
    const model = await api(daemon.httpUrl, 'GET', '/api/model');
    assert.equal((model.body['model'] as Record<string, unknown>)['provider'], 'triton');
    assert.equal(await metric('segd_model_info', { model: card.name, provider: 'triton' }), 1);
  });

  it('adds and removes streams at run time; Triton killed: sources run on, drops counted, not ready and why; back: ready and masks again', async () => {
    for (const id of ['loop1', 'loop2']) {
      const added = await api(daemon.httpUrl, 'POST', '/api/streams', { id, url: SAMPLE_CLIP_TRAIN, loop: true, realtime: true });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    }
    await until(async () => (await metric('segd_frames_inferred_total', { stream: 'loop1' })) > 0 && (await metric('segd_frames_inferred_total', { stream: 'loop2' })) > 0);
    const removed = await api(daemon.httpUrl, 'DELETE', '/api/streams/loop2');
    assert.equal(removed.status, 200, JSON.stringify(removed.body));
    assert.equal((await readyz()).status, 200);

    await triton.kill();
    await until(async () => (await readyz()).status === 503);
    const down = await readyz();
    assert.equal(down.body['status'], 'not_ready');
    const inference = down.body['inference'] as { available: boolean; reason: string };
    assert.equal(inference.available, false);
    assert.match(inference.reason, /127\.0\.0\.1/);
    await until(async () => (await metric('segd_frames_dropped_total', { stream: 'loop1', reason: 'inference_unavailable' })) >= 5);
    // The source keeps decoding and the HTTP side keeps answering while inference is away.
    const decoded = await metric('segd_frames_decoded_total', { stream: 'loop1' });
    await until(async () => (await metric('segd_frames_decoded_total', { stream: 'loop1' })) > decoded + 5);
    assert.equal((await fetch(`${daemon.httpUrl}/healthz`)).status, 200);
    assert.equal(await metric('segd_frames_dropped_total', { stream: 'loop1', reason: 'inference_error' }), 0, 'an outage is not an inference error');
    assert.ok((await metric('segd_triton_rpc_errors_total', { method: 'ModelInfer', code: 'UNAVAILABLE' })) + (await metric('segd_triton_rpc_errors_total', { method: 'ModelInfer', code: 'INTERNAL' })) >= 1);

    triton = await triton.restart();
    await until(async () => (await readyz()).status === 200);
    const inferred = await metric('segd_frames_inferred_total', { stream: 'loop1' });
    await until(async () => (await metric('segd_frames_inferred_total', { stream: 'loop1' })) > inferred + 3);
    // A stream added after the outage gets masks too.
    const again = await api(daemon.httpUrl, 'POST', '/api/streams', { id: 'loop3', url: SAMPLE_CLIP_VAL, loop: true, realtime: true });
    assert.equal(again.status, 201, JSON.stringify(again.body));
    await until(async () => (await metric('segd_frames_inferred_total', { stream: 'loop3' })) > 0);
    assert.equal(daemon.child.exitCode, null, 'the daemon never stopped');
  });

  it('PUT /api/model re-opens the Triton model (here with a local card) and swaps it in; another path is refused', async () => {
    const localCard = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.json');
    const swapped = await api(daemon.httpUrl, 'PUT', '/api/model', { path: MODEL, card: localCard });
    assert.equal(swapped.status, 200, JSON.stringify(swapped.body));
    const model = swapped.body['model'] as Record<string, unknown>;
    assert.equal(model['provider'], 'triton');
    assert.equal(model['card'], localCard);
    const inferred = await metric('segd_frames_inferred_total', { stream: 'loop1' });
    await until(async () => (await metric('segd_frames_inferred_total', { stream: 'loop1' })) > inferred + 3);

    const other = await api(daemon.httpUrl, 'PUT', '/api/model', { path: join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx'), card: null });
    assert.equal(other.status, 422, JSON.stringify(other.body));
    assert.match(JSON.stringify(other.body), /model\.engine is triton/);
  });
});
