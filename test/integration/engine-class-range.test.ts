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
import { SegdError } from '../../pipeline/core/errors.js';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import { cardClasses, contractCard, failsOnBrightPixelsModel, makeModelDir, type ModelDir } from '../helpers/bad-models.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';

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

  it('the same model with a 129-class card loads and serves its ids as they are', async () => {
    const path = await dir.writeModel('k129', model, contractCard(model, H, W, { classes: cardClasses(129) }));
    const engine = await create(path);
    try {
      assert.equal(engine.card.classes.length, 129);
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
