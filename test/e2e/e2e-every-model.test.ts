// End to end through EVERY student architecture the training package registers (its `students`,
// asked of Python, so a new model is picked up without editing this file): each is exported
// seeded and untrained at the shipped 360×480 by the real exporter
// (`python -m segd_train export --untrained`, which writes its card beside it), the built daemon
// serves it by config alone (model.path; the card is found beside it), and masks received over
// the WebSocket equal onnxruntime-node's own run of that file on the same decoded frame.
//
// Needs training/.venv (CI builds it: scripts/setup.sh --test). Without it this test FAILS; the
// only way to skip it is SEGD_SKIP_EVERY_MODEL=<why>, which the report shows as the skip reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from '../helpers/daemon.js';
import { EXPORT_TIMEOUT_MS, TRAINING_DIR, VENV_PYTHON, exportUntrained, type Export } from '../helpers/export-model.js';
import { decodeClipFrames, expectMasksEqualDirectRun, readCardBeside } from '../helpers/direct-masks.js';
import { E2eClient } from '../helpers/e2e-client.js';

/** Hang guard for one model's daemon part (start, warm-up, a few masks, direct runs). */
const SERVE_TIMEOUT_MS = 240_000;
const MASKS_PER_MODEL = 2;

const skipReason = process.env['SEGD_SKIP_EVERY_MODEL'];
const skip = skipReason ? `SEGD_SKIP_EVERY_MODEL is set: ${skipReason}` : false;

/** The student architectures, from the registry itself; an Error saying why when Python cannot tell. */
function studentArchitectures(): string[] | Error {
  if (!existsSync(VENV_PYTHON)) {
    return new Error(`${VENV_PYTHON} not found: build the training venv (bash training/setup_env.sh, or scripts/setup.sh --test)`);
  }
  // `python -m segd_train models` lists the registry split into students and teachers.
  // cwd training/: this checkout's segd_train, whatever the venv may have installed.
  const r = spawnSync(VENV_PYTHON, ['-m', 'segd_train', 'models'], { cwd: TRAINING_DIR, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) return new Error(`listing the model registry failed (exit ${r.status}): ${r.stderr.slice(-2000)}`);
  const listing = JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { students?: unknown };
  const names = listing.students;
  if (!Array.isArray(names) || names.length === 0 || !names.every((n) => typeof n === 'string')) {
    return new Error(`unexpected registry listing: ${r.stdout}`);
  }
  return names;
}

const archs = skip ? [] : studentArchitectures();

describe('e2e: the daemon serves every student architecture by config alone', { skip }, () => {
  if (archs instanceof Error) {
    it('lists the student architectures of the training registry', () => {
      throw archs;
    });
    return;
  }

  let tmp: ReturnType<typeof makeTempDir>;
  const exports = new Map<string, Export>();
  let frames: Buffer | null = null;
  const modelPath = (arch: string): string => join(tmp.dir, `${arch}.onnx`);

  before(
    async () => {
      tmp = makeTempDir('segd-e2e-every-model-');
      // In sequence: each export takes both cores for tens of seconds.
      for (const arch of archs) exports.set(arch, await exportUntrained(arch, modelPath(arch)));
    },
    { timeout: archs.length * EXPORT_TIMEOUT_MS + 60_000 },
  );
  after(() => tmp?.cleanup());

  it('the registry lists SCTNet-S and SCTNet-B among the students', () => {
    assert.ok(archs.includes('sctnet-s') && archs.includes('sctnet-b'), `students: ${archs.join(', ')}`);
  });

  for (const arch of archs) {
    it(`${arch}: exported, served, and every received mask equals onnxruntime-node on that frame`, { timeout: SERVE_TIMEOUT_MS }, async (t) => {
      const exp = exports.get(arch);
      assert.ok(exp, `${arch} was not exported (the before hook failed)`);
      t.diagnostic(`${arch}: export ${exp.seconds.toFixed(1)} s`);
      assert.ok(exp.ok, `export of ${arch} failed:\n${exp.output}`);

      const path = modelPath(arch);
      const card = readCardBeside(path);
      assert.equal(card.architecture, arch);
      assert.deepEqual([card.input.height, card.input.width], [360, 480]);
      frames ??= decodeClipFrames(SAMPLE_CLIP_VAL, card.input.width, card.input.height);

      // Config alone: only model.path changes (card: null = the .json beside it). One stream, so
      // every batch holds one frame, as the direct run does; one thread, as the direct run uses.
      const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL, loop: false, realtime: true }], {
        model: { path, card: null, providers: ['cpu'], warmupRuns: 1, cpu: { intraOpThreads: 1, interOpThreads: 1 } },
      });
      let daemon: DaemonProcess | null = null;
      let client: E2eClient | null = null;
      try {
        daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, cfg, `${arch}.yaml`)] });
        await daemon.waitForReady(120_000);
        client = await E2eClient.connect(daemon.wsUrl);
        assert.equal(client.hello.model, card.name);
        assert.deepEqual(client.hello.streams, ['val']);
        const reply = await client.request({ type: 'model_card' });
        assert.ok(reply.type === 'model_card', `expected the model card, got ${JSON.stringify(reply)}`);
        assert.equal(reply.card['architecture'], arch, 'the daemon sends this model card');
        assert.equal(reply.card.classes.length, card.classes.length);
        client.keep = (m) => m.streamId === 'val';
        const c = client;
        await c.waitUntil(() => c.kept.length >= MASKS_PER_MODEL, `${MASKS_PER_MODEL} masks of stream val`, SERVE_TIMEOUT_MS - 30_000);
        const masks = c.kept.slice(0, MASKS_PER_MODEL);
        await expectMasksEqualDirectRun(path, card, masks, frames);
        // Not vacuous: the masks hold more than one class and differ between frames, so a stale,
        // shifted or constant frame would not match.
        const [a, b] = masks;
        assert.ok(a && b, 'two masks');
        assert.ok(new Set(a.payload).size > 1, `${arch}: the mask of seq ${a.seq} holds a single class`);
        assert.ok(!Buffer.from(a.payload).equals(Buffer.from(b.payload)), `${arch}: frames ${a.seq} and ${b.seq} gave the same mask`);
      } finally {
        await client?.terminate();
        await daemon?.stop();
      }
    });
  }
});
