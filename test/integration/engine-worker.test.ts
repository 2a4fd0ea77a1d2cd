/**
 * OnnxEngine's inference worker: ONNX Runtime stays off the daemon's main thread, and a worker
 * that dies or hangs never leaves a run pending: the run rejects with SEGD_INFERENCE_FAILED, then
 * the engine restarts the worker (backoff), or gives up loudly (onFailed) when restarts keep
 * failing or a run gets no answer. Faults are injected by a test-only wrapper around the real
 * worker (helpers/worker-faults.ts: exit or spin on the next run). The model is a hand-encoded contract-valid graph (mask = max(R, G, B)
 * for bytes < 200) small enough that restarts take milliseconds; real ONNX Runtime runs it.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SegdError } from '../../pipeline/core/errors.js';
import { OnnxEngine, type RestartPolicy } from '../../pipeline/engine/index.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { WorkerFaults } from '../helpers/worker-faults.js';

const H = 36;
const W = 48;
const FRAME_BYTES = H * W * 3;

interface LogLine {
  level: number;
  msg: string;
  attempt?: number;
}

/** A frame of bytes < 200 and the mask the model must give for it: max(R, G, B) per pixel. */
function frameAndMask(seed: number): { frame: Uint8Array; mask: Uint8Array } {
  const frame = new Uint8Array(FRAME_BYTES).map((_, i) => (i * 7 + seed * 13) % 199);
  const mask = new Uint8Array(H * W).map((_, p) => Math.max(frame[3 * p] as number, frame[3 * p + 1] as number, frame[3 * p + 2] as number));
  return { frame, mask };
}

function infer(engine: OnnxEngine, frame: Uint8Array): Promise<Uint8Array> {
  engine.acquireInput().set(frame);
  return engine.run(1);
}

function isInferenceFailed(pattern: RegExp) {
  return (err: unknown): boolean => {
    assert.ok(err instanceof SegdError, `expected a SegdError, got ${String(err)}`);
    assert.equal(err.code, 'SEGD_INFERENCE_FAILED');
    assert.match(err.message, pattern);
    return true;
  };
}

describe('OnnxEngine inference worker', { timeout: 120_000 }, () => {
  let dir: ModelDir;
  let modelPath: string;
  const engines: OnnxEngine[] = [];

  before(async () => {
    dir = await makeModelDir();
    const bytes = failsOnBrightPixelsModel(H, W);
    modelPath = await dir.writeModel('tiny', bytes, contractCard(bytes, H, W, { classes: cardClasses(200) }));
  });
  after(async () => {
    await Promise.all(engines.map((e) => e.close()));
    await dir?.cleanup();
  });

  async function create(
    opts: { path?: string; restart?: Partial<RestartPolicy>; runTimeoutMs?: number; onFailed?: (err: SegdError) => void } = {},
  ): Promise<{ engine: OnnxEngine; logs: LogLine[]; faults: WorkerFaults }> {
    const logs: LogLine[] = [];
    const faults = new WorkerFaults();
    const engine = await OnnxEngine.create({
      modelPath: opts.path ?? modelPath,
      providers: ['cpu'],
      cpu: { intraOpThreads: 1, interOpThreads: 1 },
      maxBatch: 2,
      warmupRuns: 1,
      logger: pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) }),
      ...(opts.restart ? { restart: opts.restart } : {}),
      ...(opts.runTimeoutMs !== undefined ? { runTimeoutMs: opts.runTimeoutMs } : {}),
      ...(opts.onFailed ? { onFailed: opts.onFailed } : {}),
      workerScript: faults.script,
    });
    engines.push(engine);
    return { engine, logs, faults };
  }

  it('the daemon and the engine modules do not load ONNX Runtime on the main thread; the worker does', () => {
    // In a fresh process: the native binding is mapped into memory only once something loads it.
    // After importing the daemon's entry points it must be absent; after an engine starts (its
    // worker loads it into the same process) it must be present, which shows the probe works.
    const dist = (p: string): string => pathToFileURL(join(REPO_ROOT, 'dist', p)).href;
    const script = `
      import { readFileSync } from 'node:fs';
      const mapped = () => readFileSync('/proc/self/maps', 'utf8').includes('onnxruntime_binding');
      await import(${JSON.stringify(dist('daemon/app.js'))});
      const { OnnxEngine } = await import(${JSON.stringify(dist('pipeline/engine/index.js'))});
      const afterImport = mapped();
      const { pino } = await import('pino');
      const engine = await OnnxEngine.create({
        modelPath: ${JSON.stringify(modelPath)}, providers: ['cpu'],
        cpu: { intraOpThreads: 1, interOpThreads: 1 }, maxBatch: 1, warmupRuns: 0, logger: pino({ level: 'silent' }),
      });
      const afterEngine = mapped();
      await engine.close();
      console.log(JSON.stringify({ afterImport, afterEngine }));
    `;
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', script], { cwd: REPO_ROOT, encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { afterImport: false, afterEngine: true });
  });

  it('a worker that dies during a run: the run rejects with SEGD_INFERENCE_FAILED, the worker restarts, later runs work', async () => {
    const { engine, logs, faults } = await create({ restart: { baseDelayMs: 20 } });
    const a = frameAndMask(1);
    const b = frameAndMask(2);
    assert.ok(Buffer.from(await infer(engine, a.frame)).equals(Buffer.from(a.mask)));

    faults.arm('exit');
    await assert.rejects(infer(engine, a.frame), isInferenceFailed(/inference worker exited with code 70/));
    assert.equal(logs.filter((l) => l.level === 50 && /^inference worker died/.test(l.msg)).length, 1);

    // Asked for while the worker restarts: waits for it, then runs on the new worker.
    assert.equal(engine.acquireInput().length, 2 * FRAME_BYTES, 'a fresh input buffer replaces the one lost with the worker');
    assert.ok(Buffer.from(await infer(engine, b.frame)).equals(Buffer.from(b.mask)));
    assert.ok(logs.some((l) => l.level === 30 && l.msg === 'inference worker restarted' && l.attempt === 1));
    assert.equal(engine.provider, 'cpu');

    // A second crash later is recovered from too (a successful run reset the attempt count).
    faults.arm('exit');
    await assert.rejects(infer(engine, b.frame), isInferenceFailed(/exited with code 70/));
    assert.ok(Buffer.from(await infer(engine, a.frame)).equals(Buffer.from(a.mask)));
    assert.equal(logs.filter((l) => l.msg === 'inference worker restarted' && l.attempt === 1).length, 2);
    await engine.close();
  });

  it('restarts that keep failing: the engine gives up, calls onFailed once, and every later run rejects', async () => {
    const bytes = failsOnBrightPixelsModel(H, W);
    const path = await dir.writeModel('doomed', bytes, contractCard(bytes, H, W, { classes: cardClasses(200) }));
    const failures: SegdError[] = [];
    let gaveUp!: () => void;
    const gaveUpP = new Promise<void>((resolve) => (gaveUp = resolve));
    const { engine, logs, faults } = await create({
      path,
      restart: { baseDelayMs: 10, maxDelayMs: 40, maxAttempts: 2 },
      onFailed: (err) => {
        failures.push(err);
        gaveUp();
      },
    });
    await rm(path); // every restart now fails to load the model
    faults.arm('exit');
    await assert.rejects(infer(engine, frameAndMask(1).frame), isInferenceFailed(/exited with code 70/));
    await gaveUpP;
    assert.equal(failures.length, 1);
    const err = failures[0] as SegdError;
    assert.equal(err.code, 'SEGD_INFERENCE_FAILED');
    assert.match(err.message, /gave up after 2 restarts without a successful run/);
    assert.ok(err.message.includes(path), 'names the model, with the last restart error');
    assert.equal(logs.filter((l) => l.level === 50 && l.msg === 'inference worker restart failed').length, 2);
    assert.ok(logs.some((l) => l.level === 50 && l.msg.startsWith('inference engine failed:')));
    await assert.rejects(infer(engine, frameAndMask(1).frame), isInferenceFailed(/has failed/));
    await engine.close();
    assert.equal(failures.length, 1);
  });

  it('a run that never answers: rejected after runTimeoutMs, the worker is terminated, the engine fails', async () => {
    const failures: SegdError[] = [];
    const { engine, faults } = await create({ runTimeoutMs: 1500, onFailed: (err) => failures.push(err) });
    faults.arm('hang');
    await assert.rejects(infer(engine, frameAndMask(1).frame), isInferenceFailed(/gave no answer for a batch of 1 within 1500 ms/));
    assert.equal(failures.length, 1);
    await assert.rejects(infer(engine, frameAndMask(1).frame), isInferenceFailed(/has failed/));
    await engine.close();
  });

  it('close() during a restart backoff abandons the restart; a waiting run rejects', async () => {
    const { engine, faults } = await create({ restart: { baseDelayMs: 60_000 } });
    faults.arm('exit');
    await assert.rejects(infer(engine, frameAndMask(1).frame), isInferenceFailed(/exited with code 70/));
    const waiting = infer(engine, frameAndMask(2).frame); // waits for a restart 60 s away
    await engine.close(); // the test's timeout is the hang guard
    await assert.rejects(waiting, isInferenceFailed(/is closed/));
  });
});
