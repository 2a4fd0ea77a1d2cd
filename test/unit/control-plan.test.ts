// Runtime-control logic without processes: what a config reload changes (planReload), the per-key
// serialisation of API operations (KeyedSerial: order, bound, lanes released), and that a stream
// given to the API is validated with the config file's schema and wording.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { stringify } from 'yaml';
import { parseConfigText } from '../../daemon/config/load.js';
import { parseStreamInput } from '../../daemon/config/stream-input.js';
import { ControlError } from '../../daemon/control/control-error.js';
import { KeyedSerial } from '../../daemon/control/keyed-serial.js';
import { planReload } from '../../daemon/control/reconcile.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { configProblems } from '../helpers/config-problems.js';

const config = (streams: Record<string, unknown>[], extra: Record<string, unknown> = {}): ReturnType<typeof parseConfigText> =>
  parseConfigText(stringify({ ...extra, streams }), { baseDir: REPO_ROOT, source: 'test' });

describe('planReload', () => {
  const a = { id: 'a', url: 'rtsp://h/a' };
  const b = { id: 'b', url: 'rtsp://h/b' };
  const c = { id: 'c', url: 'rtsp://h/c' };
  const current = config([a, b]);
  const running = { streams: current.streams, model: { path: current.model.path, card: current.model.card }, config: current };

  it('nothing changed: an empty plan', () => {
    assert.deepEqual(planReload(running, config([a, b])), { add: [], change: [], remove: [], model: null, needsRestart: [] });
  });

  it('only streams whose settings differ change; new ones are added, missing ones removed', () => {
    const plan = planReload(running, config([{ ...b, maxFps: 5 }, c]));
    assert.deepEqual(plan.change.map((s) => [s.id, s.maxFps]), [['b', 5]]);
    assert.deepEqual(plan.add.map((s) => s.id), ['c']);
    assert.deepEqual(plan.remove, ['a']);
    assert.deepEqual(plan.needsRestart, []);
  });

  it('a new model path is a swap; settings applied only at start-up are named', () => {
    const next = config([a, b], { model: { path: '/models/other.onnx', warmupRuns: 5 }, batching: { maxBatch: 4 }, server: { port: 9 } });
    const plan = planReload(running, next);
    assert.deepEqual(plan.model, { path: '/models/other.onnx', card: null });
    assert.deepEqual([...plan.needsRestart].sort(), ['batching.maxBatch', 'model.warmupRuns', 'server.port']);
  });
});

describe('KeyedSerial', () => {
  it('runs operations on one key in order, one at a time; other keys run alongside', async () => {
    const serial = new KeyedSerial(8);
    const log: string[] = [];
    let releaseFirst!: () => void;
    const first = serial.run('k', () => new Promise<void>((r) => (releaseFirst = () => (log.push('k1 end'), r()))));
    const second = serial.run('k', async () => void log.push('k2'));
    const other = serial.run('j', async () => void log.push('j1'));
    await other;
    assert.deepEqual(log, ['j1'], 'k2 waits for k1; j does not');
    releaseFirst();
    await Promise.all([first, second]);
    assert.deepEqual(log, ['j1', 'k1 end', 'k2']);
  });

  it('a failed operation does not stop the next one', async () => {
    const serial = new KeyedSerial(8);
    const failed = serial.run('k', () => Promise.reject(new Error('boom')));
    const next = serial.run('k', async () => 'ran');
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 'ran');
  });

  it('refuses beyond maxPending per key with `busy`, and accepts again once the lane drains', async () => {
    const serial = new KeyedSerial(2, (k) => `stream ${k}`);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const a = serial.run('k', () => gate);
    const b = serial.run('k', async () => undefined);
    await assert.rejects(serial.run('k', async () => undefined), (err: unknown) => err instanceof ControlError && err.code === 'busy' && /stream k/.test(err.message));
    release();
    await Promise.all([a, b]);
    await serial.idle();
    assert.equal(await serial.run('k', async () => 'again'), 'again');
  });
});

describe('parseStreamInput (the API body) is the config file stream schema', () => {

  it('applies the same defaults as a streams[] item of the file', () => {
    const viaApi = parseStreamInput({ id: 'cam', url: 'rtsp://h/s' }, REPO_ROOT, 'api', [REPO_ROOT]);
    assert.deepEqual(viaApi, config([{ id: 'cam', url: 'rtsp://h/s' }]).streams[0]);
  });

  it('reports every violation with the file wording, field paths relative to the stream', () => {
    const bad = { id: 'cam 1', url: 'gopher://h/x', maxFps: 0, extra: true };
    const fromApi = configProblems(() => parseStreamInput(bad, REPO_ROOT, 'api', [REPO_ROOT])).sort();
    const fromFile = configProblems(() => config([bad]))
      .map((l) => l.replace(/^streams\[0\]\./, ''))
      .sort();
    assert.equal(fromApi.length, 4, fromApi.join('\n'));
    // Same lines but for the vocabulary (an API body is JSON: "an object", not "a mapping"; none here differ).
    assert.deepEqual(fromApi, fromFile);
  });

  it('never echoes credentials of a URL in an error', () => {
    const out = configProblems(() => parseStreamInput({ id: 'c', url: 'gopher://user:s3cret@h/x' }, REPO_ROOT, 'api', [REPO_ROOT]));
    assert.ok(out.every((l) => !l.includes('s3cret')), out.join('\n'));
  });
});
