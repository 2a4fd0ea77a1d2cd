import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SegdError } from '../../pipeline/core/errors.js';
import { defaultCardPath, readModelCard, validateModelCard } from '../../pipeline/engine/index.js';
import { makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { REPO_ROOT } from '../helpers/paths.js';

const CARD = join(REPO_ROOT, 'models', 'sctnet-s-camvid.json');

function codeOf(fn: () => unknown): SegdError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof SegdError);
    return err;
  }
  assert.fail('expected a throw');
}

describe('model card', () => {
  let dir: ModelDir;
  before(async () => {
    dir = await makeModelDir();
  });
  after(async () => {
    await dir?.cleanup();
  });

  it('the shipped card is valid and keeps extra keys', async () => {
    const card = await readModelCard(CARD);
    assert.equal(card.input.height, 360);
    assert.equal(card.input.width, 480);
    assert.equal(card.classes.length, 11);
    assert.equal(card.ignore_index, 11);
    assert.ok('training' in card, 'extra keys are kept for clients');
  });

  it('defaultCardPath swaps .onnx for .json', () => {
    assert.equal(defaultCardPath('/m/a.b.onnx'), '/m/a.b.json');
  });

  it('lists every violation at once, each naming its field', async () => {
    const card = JSON.parse(await readFile(CARD, 'utf8')) as Record<string, unknown>;
    const broken = {
      ...card,
      format: 'segd-model-card/2',
      onnx: { file: 'x.onnx', opset: 13, sha256: 'abc' },
      input: { name: 'frames', height: 0, width: 480, layout: 'NCHW', dtype: 'uint8', color: 'RGB' },
      classes: [{ id: 1, name: '', color: [0, 0, 300] }],
      metrics: { split: 'val', miou: 42 },
    };
    delete (broken as Record<string, unknown>)['output'];
    const err = codeOf(() => validateModelCard(broken, '/x/card.json'));
    assert.equal(err.code, 'SEGD_MODEL_CARD_INVALID');
    assert.ok(err.message.includes('/x/card.json'));
    const fields = ['format', 'onnx.opset', 'onnx.sha256', 'input.height', 'input.layout', 'output', 'classes[0].id', 'classes[0].name', 'classes[0].color', 'metrics.miou'];
    for (const f of fields) assert.ok(err.details.some((d) => d.startsWith(`${f}:`)), `no violation for ${f} in:\n${err.details.join('\n')}`);
    assert.equal(err.details.length, fields.length, err.details.join('\n'));
  });

  it('a card that is not JSON, or not there, is SEGD_MODEL_CARD_INVALID naming the path', async () => {
    const bad = await dir.write('bad.json', '{ "format": ');
    await assert.rejects(readModelCard(bad), (err: unknown) => err instanceof SegdError && err.code === 'SEGD_MODEL_CARD_INVALID' && err.message.includes(bad));
    const missing = join(dir.dir, 'missing.json');
    await assert.rejects(
      readModelCard(missing),
      (err: unknown) => err instanceof SegdError && err.code === 'SEGD_MODEL_CARD_INVALID' && err.message.includes(`expected ${missing}`),
    );
  });
});
