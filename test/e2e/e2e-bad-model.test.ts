// End to end: a bad model file stops `segd run` with exit code 3 and one clear message naming the
// file (log line and stderr), not a crash trace, and leaves no process behind.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { SAMPLE_CLIP_VAL } from '../helpers/paths.js';
import { makeTempDir, runCli, testConfig, writeConfig, type CliResult } from '../helpers/daemon.js';
import { contractCard, float32InputModel, garbageBytes, makeModelDir, type ModelDir } from '../helpers/bad-models.js';

describe('e2e: bad model file', { timeout: 120000 }, () => {
  let tmp: ReturnType<typeof makeTempDir>;
  let models: ModelDir;

  before(async () => {
    tmp = makeTempDir('segd-e2e-badmodel-');
    models = await makeModelDir();
  });
  after(async () => {
    tmp.cleanup();
    await models.cleanup();
  });

  async function runWithModel(name: string, modelPath: string): Promise<CliResult> {
    const cfg = testConfig([{ id: 'val', url: SAMPLE_CLIP_VAL }], {});
    (cfg['model'] as Record<string, unknown>)['path'] = modelPath;
    return runCli(['run', '--config', writeConfig(tmp.dir, cfg, `${name}.yaml`)], { timeoutMs: 60000 });
  }

  function assertCleanFailure(r: CliResult, code: string, file: string): void {
    assert.equal(r.code, 3, `exit code; stderr: ${r.stderr}`);
    const line = r.stderr.trim();
    assert.equal(line.split('\n').length, 1, `one stderr line, got:\n${r.stderr}`);
    assert.ok(line.startsWith(`segd: start-up failed: ${code}: `), line);
    assert.ok(line.includes(file), `stderr names ${file}: ${line}`);
    assert.ok(!/\n\s+at /.test(r.stdout + r.stderr), 'no stack trace');
    const fatal = r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: string; code?: string; msg: string })
      .find((l) => l.level === 'fatal');
    assert.ok(fatal, `a fatal log line in:\n${r.stdout}`);
    assert.equal(fatal.code, code);
    assert.ok(fatal.msg.includes(file), fatal.msg);
  }

  it('missing model file → SEGD_MODEL_NOT_FOUND naming it', async () => {
    const missing = join(models.dir, 'absent.onnx');
    assertCleanFailure(await runWithModel('missing', missing), 'SEGD_MODEL_NOT_FOUND', missing);
  });

  it('garbage bytes (with a card that matches them) → SEGD_MODEL_INVALID naming the file', async () => {
    const garbage = garbageBytes();
    const path = await models.writeModel('garbage', garbage, contractCard(garbage, 360, 480));
    assertCleanFailure(await runWithModel('garbage', path), 'SEGD_MODEL_INVALID', path);
  });

  it('a valid ONNX that breaks the contract (float32 input) → SEGD_MODEL_INVALID naming the file', async () => {
    const model = float32InputModel(360, 480);
    const path = await models.writeModel('float-input', model, contractCard(model, 360, 480));
    assertCleanFailure(await runWithModel('float', path), 'SEGD_MODEL_INVALID', path);
  });

  it('a model without its card → SEGD_MODEL_CARD_INVALID naming the expected card path', async () => {
    const model = float32InputModel(360, 480);
    const path = await models.writeModel('no-card', model, null);
    assertCleanFailure(await runWithModel('nocard', path), 'SEGD_MODEL_CARD_INVALID', join(models.dir, 'no-card.json'));
  });
});
