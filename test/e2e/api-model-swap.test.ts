// Model hot-swap (issue 15) against the daemon process: two real exported models (the shipped
// one and a seeded untrained SCTNet-S written by the training package's exporter) while three
// unpaced streams publish. A broken model is refused, naming the file, and the old one keeps
// serving; the real swap loses no frame, changes each stream's model id exactly once, and every
// client has the new card before the first mask of the new model. A third model of another input
// size makes every source restart at that size (the batcher follows the model's H×W).
//
// Needs training/.venv (scripts/setup.sh --test), as e2e-every-model does.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { MODEL_PATH, makeTempDir, startReadyDaemon, testConfig, type DaemonProcess } from '../helpers/daemon.js';
import { E2eClient, metricValue, scrape } from '../helpers/e2e-client.js';
import { Recorder, api, ffmpegChildren } from '../helpers/control-api.js';
import { EXPORT_TIMEOUT_MS, exportUntrained } from '../helpers/export-model.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, garbageBytes } from '../helpers/bad-models.js';
import { writeFile } from 'node:fs/promises';
import type { ModelCardMessage } from '../../clients/ts/protocol-client.js';

const STREAMS = ['s1', 's2', 's3'];
const SHIPPED = (JSON.parse(readFileSync(MODEL_PATH.replace(/\.onnx$/, '.json'), 'utf8')) as { name: string }).name;

describe('e2e: model hot-swap through the API', { timeout: 2 * EXPORT_TIMEOUT_MS + 500_000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let daemon: DaemonProcess;
  let client: E2eClient;
  let rec: Recorder;
  let newModel: string;
  let smallModel: string;
  let exportError: string | null = null;

  before(
    async () => {
      tmp = makeTempDir('segd-e2e-model-swap-');
      newModel = join(tmp.dir, 'swapped-in.onnx'); // its card's name is the file's stem
      smallModel = join(tmp.dir, 'smaller-input.onnx');
      for (const [out, size] of [
        [newModel, { height: 360, width: 480 }],
        [smallModel, { height: 256, width: 320 }],
      ] as const) {
        const exp = await exportUntrained('sctnet-s', out, 1, size);
        if (!exp.ok) exportError = `${out}: ${exp.output}`;
      }
      // Unpaced files: the pipeline paces them and drops none of their frames, so a gap is a lost mask.
      const cfg = testConfig([
        { id: 's1', url: SAMPLE_CLIP_VAL, realtime: false },
        { id: 's2', url: SAMPLE_CLIP_TRAIN, realtime: false },
        { id: 's3', url: SAMPLE_CLIP_VAL, realtime: false },
      ]);
      daemon = await startReadyDaemon(tmp.dir, cfg);
      client = await E2eClient.connect(daemon.wsUrl);
      rec = new Recorder(client);
      await client.waitUntil(() => STREAMS.every((s) => client.count(s) >= 2), 'masks of every stream', 120_000);
    },
    { timeout: 2 * EXPORT_TIMEOUT_MS + 120_000 },
  );
  after(async () => {
    await client?.terminate();
    await daemon?.stop();
    tmp?.cleanup();
  });

  it('a model that fails to load or warm up is refused naming the file; the old one keeps serving', { timeout: 180_000 }, async () => {
    const garbage = join(tmp.dir, 'garbage.onnx');
    const bytes = garbageBytes();
    await writeFile(garbage, bytes);
    await writeFile(join(tmp.dir, 'garbage.json'), contractCard(bytes, 360, 480));
    // A real graph whose warm-up mask holds class id 128, with a card of 2 classes.
    const beyond = join(tmp.dir, 'beyond-card.onnx');
    const model = failsOnBrightPixelsModel(360, 480);
    await writeFile(beyond, model);
    await writeFile(join(tmp.dir, 'beyond-card.json'), contractCard(model, 360, 480, { classes: cardClasses(2) }));
    const missing = join(tmp.dir, 'missing.onnx');

    for (const [path, why] of [
      [garbage, /SEGD_MODEL_INVALID|not a valid|protobuf|load/i],
      [beyond, /128|class/i],
      [missing, /not found/],
    ] as const) {
      const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path });
      assert.equal(r.status, 422, JSON.stringify(r.body));
      assert.equal(r.body['error'], 'model_rejected');
      assert.equal(r.body['field'], 'path');
      const message = String(r.body['message']);
      assert.ok(message.includes(path), `the error names the file: ${message}`);
      assert.match(message, why);
    }
    const served = await api(daemon.httpUrl, 'GET', '/api/model');
    assert.equal((served.body['model'] as { name: string }).name, SHIPPED);
    const n = rec.masks('s1');
    await client.waitUntil(() => rec.masks('s1') >= n + 3, 'masks after the refusals', 60_000);
    for (const s of STREAMS) assert.deepEqual(rec.modelIds.get(s), [SHIPPED], `${s}: only the old model served`);
    assert.deepEqual(Object.fromEntries(rec.gaps), {}, 'no gap');
  });

  it('swaps to another real model: no gap, the model id changes once, the new card arrives first', { timeout: 240_000 }, async () => {
    assert.equal(exportError, null, `export of the second model failed:\n${exportError ?? ''}`);
    const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path: newModel });
    assert.equal(r.status, 200, JSON.stringify(r.body));
    const name = (r.body['model'] as { name: string }).name;
    assert.equal(name, 'swapped-in');
    assert.notEqual(name, SHIPPED);

    await client.waitUntil(() => STREAMS.every((s) => (rec.modelIds.get(s) ?? []).includes(name)), 'masks of the new model on every stream', 120_000);
    const counts = STREAMS.map((s) => rec.masks(s));
    await client.waitUntil(() => STREAMS.every((s, i) => rec.masks(s) >= (counts[i] as number) + 3), 'more masks of the new model', 120_000);

    assert.deepEqual(Object.fromEntries(rec.gaps), {}, 'no seq gap on any stream: no mask lost');
    for (const s of STREAMS) assert.deepEqual(rec.modelIds.get(s), [SHIPPED, name], `${s}: the model id changed exactly once`);
    const cardAt = rec.arrivals.findIndex((a) => a.kind === 'text' && a.msg.type === 'model_card' && (a.msg as ModelCardMessage).card.name === name);
    const firstNewMask = rec.arrivals.findIndex((a) => a.kind === 'mask' && a.modelId === name);
    assert.ok(cardAt >= 0, 'the client was sent the new card');
    assert.ok(cardAt < firstNewMask, `the card (message ${cardAt}) arrives before the first mask of the new model (message ${firstNewMask})`);
    const card = (rec.arrivals[cardAt] as { msg: ModelCardMessage }).msg.card;
    assert.equal(card['architecture'], 'sctnet-s');

    const served = await api(daemon.httpUrl, 'GET', '/api/model');
    assert.equal((served.body['model'] as { name: string; path: string }).path, newModel);
    assert.equal(metricValue(await scrape(daemon.httpUrl), 'segd_model_info', { model: name }), 1);
    const late = await E2eClient.connect(daemon.wsUrl);
    assert.equal(late.hello.model, name, 'a new client is greeted with the new model');
    await late.terminate();
  });

  it('a model of another input size: every source restarts at that size, nothing is left behind', { timeout: 240_000 }, async () => {
    assert.equal(exportError, null, `export failed:\n${exportError ?? ''}`);
    const c = await E2eClient.connect(daemon.wsUrl);
    try {
      const sizes = new Map<string, string>();
      c.keep = (m) => {
        if (m.modelId === 'smaller-input') sizes.set(m.streamId, `${m.width}x${m.height}`);
        return false;
      };
      const r = await api(daemon.httpUrl, 'PUT', '/api/model', { path: smallModel });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual((r.body['model'] as { input: unknown }).input, { height: 256, width: 320 });
      await c.waitUntil(() => STREAMS.every((s) => sizes.has(s)), 'masks of the smaller model on every stream', 180_000);
      for (const s of STREAMS) assert.equal(sizes.get(s), '320x256', `${s}: masks at the new input size`);
      const streams = (await api(daemon.httpUrl, 'GET', '/api/streams')).body['streams'] as { id: string; state: string }[];
      assert.deepEqual(streams.map((s) => s.id), STREAMS);
      const text = await scrape(daemon.httpUrl);
      for (const s of STREAMS) assert.equal(metricValue(text, 'segd_frames_dropped_total', { stream: s, reason: 'inference_error' }), 0, `${s}: no failed batch`);
      assert.equal(ffmpegChildren(daemon.child.pid as number).length, STREAMS.length, 'one ffmpeg child per stream: the old ones are gone');
    } finally {
      await c.terminate();
    }
  });
});
