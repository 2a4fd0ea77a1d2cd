/**
 * OnnxEngine refuses broken models and cards with a coded error naming the culprit. The broken
 * ONNX files are hand-encoded protobuf (test/helpers/bad-models.ts) loaded by real ONNX Runtime.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SegdError, type SegdErrorCode } from '../../pipeline/core/errors.js';
import { OnnxEngine, type ExecutionProviderName } from '../../pipeline/engine/index.js';
import {
  contractCard,
  dynamicAxesWrongOutputModel,
  fixedBatchModel,
  float32InputModel,
  garbageBytes,
  makeModelDir,
  wrongInputNameModel,
  type ModelDir,
} from '../helpers/bad-models.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx');
const CARD = join(REPO_ROOT, 'models', 'sctnet-s-camvid.json');
const H = 360;
const W = 480;

interface LogLine {
  level: number;
  provider?: string;
}

function create(modelPath: string, extra: { cardPath?: string; providers?: ExecutionProviderName[]; logs?: LogLine[] } = {}): Promise<OnnxEngine> {
  const logs = extra.logs ?? [];
  return OnnxEngine.create({
    modelPath,
    ...(extra.cardPath !== undefined ? { cardPath: extra.cardPath } : {}),
    providers: extra.providers ?? ['cpu'],
    cpu: { intraOpThreads: 1, interOpThreads: 1 },
    maxBatch: 2,
    warmupRuns: 1,
    logger: pino({ level: 'debug' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) }),
  });
}

/** Asserts a SegdError with `code` whose message mentions every string in `mentions`; returns it. */
async function expectError(p: Promise<unknown>, code: SegdErrorCode, mentions: string[]): Promise<SegdError> {
  let caught: unknown;
  await assert.rejects(p, (err: unknown) => {
    caught = err;
    return true;
  });
  assert.ok(caught instanceof SegdError, `expected a SegdError, got ${String(caught)}`);
  assert.equal(caught.code, code, caught.message);
  for (const m of mentions) assert.ok(caught.message.includes(m), `message should mention ${m}: ${caught.message}`);
  return caught;
}

describe('OnnxEngine with broken models and cards', { timeout: 120_000 }, () => {
  let dir: ModelDir;

  before(async () => {
    dir = await makeModelDir();
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('missing model file → SEGD_MODEL_NOT_FOUND naming the path', async () => {
    const p = join(dir.dir, 'nope.onnx');
    await expectError(create(p), 'SEGD_MODEL_NOT_FOUND', [p]);
  });

  it('garbage bytes → SEGD_MODEL_INVALID naming the file, whatever providers are listed', async () => {
    const bytes = garbageBytes();
    const p = await dir.writeModel('garbage', bytes, contractCard(bytes, H, W));
    await expectError(create(p), 'SEGD_MODEL_INVALID', [p]);
    // Without cpu in the list the GPU providers fail first; a CPU probe still blames the model.
    await expectError(create(p, { providers: ['tensorrt', 'cuda'] }), 'SEGD_MODEL_INVALID', [p]);
  });

  it('a valid ONNX with a float32 input → SEGD_MODEL_INVALID listing the dtype violations', async () => {
    const bytes = float32InputModel(H, W);
    const p = await dir.writeModel('float-input', bytes, contractCard(bytes, H, W));
    const err = await expectError(create(p), 'SEGD_MODEL_INVALID', [p, 'uint8']);
    assert.ok(err.details.some((d) => d.includes("input 'frames'") && d.includes('got float32')), err.details.join('\n'));
    assert.ok(err.details.some((d) => d.includes("output 'mask'") && d.includes('got float32')), err.details.join('\n'));
  });

  it("a valid ONNX whose input is not named 'frames' → SEGD_MODEL_INVALID naming the expected input", async () => {
    const bytes = wrongInputNameModel(H, W);
    const p = await dir.writeModel('wrong-name', bytes, contractCard(bytes, H, W));
    const err = await expectError(create(p), 'SEGD_MODEL_INVALID', [p, "'frames'", "'image'"]);
    assert.ok(err.details.length >= 1);
  });

  it('a fixed batch dimension (the contract wants N dynamic) → SEGD_MODEL_INVALID', async () => {
    const bytes = fixedBatchModel(H, W);
    const p = await dir.writeModel('fixed-batch', bytes, contractCard(bytes, H, W));
    const err = await expectError(create(p), 'SEGD_MODEL_INVALID', [p]);
    assert.ok(err.details.some((d) => d.includes('[N, 360, 480, 3]') && d.includes('got [1, 360, 480, 3]')), err.details.join('\n'));
  });

  it('symbolic shapes that are wrong in practice → SEGD_MODEL_INVALID from the warm-up output check', async () => {
    const bytes = dynamicAxesWrongOutputModel();
    const p = await dir.writeModel('dynamic-axes', bytes, contractCard(bytes, H, W));
    await expectError(create(p), 'SEGD_MODEL_INVALID', [p, "produced output 'mask' of shape [2, 480, 3]", 'expected uint8 [2, 360, 480]']);
  });

  it('missing card → SEGD_MODEL_CARD_INVALID naming the card path expected', async () => {
    const p = await dir.writeModel('no-card', float32InputModel(H, W), null);
    await expectError(create(p), 'SEGD_MODEL_CARD_INVALID', [join(dir.dir, 'no-card.json')]);
  });

  it('card whose sha256 is not the model’s → SEGD_MODEL_CARD_INVALID naming card and model', async () => {
    const bytes = float32InputModel(H, W);
    const p = await dir.writeModel('other-sha', bytes, contractCard(garbageBytes(), H, W));
    await expectError(create(p), 'SEGD_MODEL_CARD_INVALID', [join(dir.dir, 'other-sha.json'), p, 'onnx.sha256']);
  });

  it('the real model with a card giving the wrong H/W → SEGD_MODEL_INVALID naming model and shapes', async () => {
    const card = JSON.parse(await readFile(CARD, 'utf8')) as { input: { height: number; width: number } };
    card.input.height = 352;
    card.input.width = 640;
    const cardPath = await dir.write('wrong-hw.json', JSON.stringify(card));
    const err = await expectError(create(MODEL, { cardPath }), 'SEGD_MODEL_INVALID', [MODEL, '352', '640']);
    assert.ok(err.details.some((d) => d.includes('[N, 352, 640, 3]') && d.includes('[N, 360, 480, 3]')), err.details.join('\n'));
  });

  it('only unusable providers for a good model → SEGD_PROVIDER_UNAVAILABLE with one warn per provider', async () => {
    const logs: LogLine[] = [];
    const err = await expectError(create(MODEL, { providers: ['tensorrt', 'cuda'], logs }), 'SEGD_PROVIDER_UNAVAILABLE', [
      'tensorrt',
      'cuda',
      MODEL,
    ]);
    assert.equal(err.details.length, 2);
    assert.equal(logs.filter((l) => l.level === 40 && l.provider === 'tensorrt').length, 1);
    assert.equal(logs.filter((l) => l.level === 40 && l.provider === 'cuda').length, 1);
  });
});
