/**
 * The engine takes a model's class count from its card alone (any K, not CamVid's 11), and
 * refuses at load a model whose warm-up mask holds an id >= K: a card that does not describe
 * the model (e.g. another dataset's), which clients and the viewer could not name.
 *
 * The model is hand-encoded (test/helpers/bad-models.ts): mask = max(R, G, B) per pixel, so on
 * the engine's grey (128) warm-up frame it emits id 128, and a card needs >= 129 classes.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { SegdError } from '../../pipeline/core/errors.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { REPO_ROOT } from '../helpers/paths.js';

const SHIPPED_MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');
const SHIPPED_CARD = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.json');
const H = 36;
const W = 48;

function create(modelPath: string): Promise<OnnxEngine> {
  return OnnxEngine.create(cpuEngineOptions(modelPath));
}

describe('OnnxEngine: class ids against the card', { timeout: 60_000 }, () => {
  let dir: ModelDir;
  const model = failsOnBrightPixelsModel(H, W);

  before(async () => {
    dir = await makeModelDir();
  });
  after(async () => {
    await dir?.cleanup();
  });

  for (const k of [2, 11, 128]) {
    it(`a card with ${k} classes for a model that emits id 128 → SEGD_MODEL_INVALID naming the id, K and the file`, async () => {
      const path = await dir.writeModel(`k${k}`, model, contractCard(model, H, W, { classes: cardClasses(k) }));
      const err = await create(path).then(
        async (engine) => {
          await engine.close(); // a wrongly accepted model must not keep its worker alive
          return null;
        },
        (e: unknown) => e,
      );
      assert.ok(err instanceof SegdError, `expected a SegdError, got ${String(err)}`);
      assert.equal(err.code, 'SEGD_MODEL_INVALID');
      for (const m of [path, 'class id 128', `lists ${k} classes`, `0..${k - 1}`]) {
        assert.ok(err.message.includes(m), `message should mention ${m}: ${err.message}`);
      }
    });
  }

  it('a card that lists fewer classes than the model emits on a varied frame (but more than on grey) → SEGD_MODEL_INVALID', async () => {
    // 129 classes cover the grey warm-up frame's id 128, not the brighter pixels of the varied one.
    const path = await dir.writeModel('k129', model, contractCard(model, H, W, { classes: cardClasses(129) }));
    const err = await create(path).then(
      async (engine) => {
        await engine.close();
        return null;
      },
      (e: unknown) => e,
    );
    assert.ok(err instanceof SegdError && err.code === 'SEGD_MODEL_INVALID', String(err));
    assert.match(err.message, /lists 129 classes \(ids 0\.\.128\)/);
  });

  it('the shipped model with its card cut to 3 classes (right sha256) → SEGD_MODEL_INVALID (issue 28 F3)', async () => {
    const card = JSON.parse(readFileSync(SHIPPED_CARD, 'utf8')) as { classes: unknown[] };
    const cut = join(dir.dir, 'three-classes.json');
    writeFileSync(cut, JSON.stringify({ ...card, classes: card.classes.slice(0, 3) }));
    const err = await OnnxEngine.create(cpuEngineOptions(SHIPPED_MODEL, { cardPath: cut })).then(
      async (engine) => {
        await engine.close();
        return null;
      },
      (e: unknown) => e,
    );
    assert.ok(err instanceof SegdError && err.code === 'SEGD_MODEL_INVALID', String(err));
    assert.match(err.message, /lists 3 classes \(ids 0\.\.2\)/);
  });

  it('the same model with a 200-class card loads and serves its ids as they are', async () => {
    // 200, not 129: warm-up also runs a varied frame (pixels up to 190), not only the grey one.
    const path = await dir.writeModel('k200', model, contractCard(model, H, W, { classes: cardClasses(200) }));
    const engine = await create(path);
    try {
      assert.equal(engine.card.classes.length, 200);
      const input = engine.acquireInput();
      for (let i = 0; i < H * W * 3; i++) input[i] = (i * 13) % 150;
      const mask = await engine.run(1);
      const want = new Uint8Array(H * W).map((_, p) => Math.max((3 * p * 13) % 150, ((3 * p + 1) * 13) % 150, ((3 * p + 2) * 13) % 150));
      assert.ok(Buffer.from(mask).equals(Buffer.from(want)), 'mask = max(R, G, B) per pixel');
    } finally {
      await engine.close();
    }
  });
});
