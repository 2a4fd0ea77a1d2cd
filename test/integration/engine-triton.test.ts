// The triton engine against a real Triton (PyTriton's tritonserver, the contract ONNX on
// onnxruntime CPU inside it): masks equal to the in-process engine's on the same frames; a wrong
// model name, a broken contract, a missing card or an unreachable server refused at start with the
// culprit named; Triton killed mid-stream → batches fail as unavailable without an RPC, the engine
// says why; Triton back → the first good probe reply restores it and the masks are equal again;
// two batches in flight through the Batcher keep each stream's order, masks and pixels. All of it
// over both transports (HTTP with binary tensors, gRPC); HTTP also through a TLS proxy asking for a token.
import assert from 'node:assert/strict';
import { readFileSync, mkdtempSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { SegdError } from '../../pipeline/core/errors.js';
import { OnnxEngine, TritonEngine, type TritonEngineOptions } from '../../pipeline/engine/index.js';
import { firstClipFrames } from '../helpers/clip-frames.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { checkInFlightBatches } from '../helpers/in-flight-batches.js';
import { freePort, makeTestCa } from '../helpers/mosquitto.js';
import { REPO_ROOT } from '../helpers/paths.js';
import { startTriton, tritonUrl, type TritonServer } from '../helpers/triton.js';
import { TRITON_PROTOCOLS } from '../../pipeline/engine/triton-transport.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');
const CARD = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.json');

function options(url: string, overrides: Partial<TritonEngineOptions> = {}): TritonEngineOptions {
  return {
    url,
    model: 'seg',
    version: '',
    timeoutMs: 30_000,
    tls: { ca: null, cert: null, key: null },
    headers: {},
    cardPath: null,
    maxBatch: 2,
    maxInFlight: 1,
    reconnect: { minMs: 50, maxMs: 500 },
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
}

async function rejection(p: Promise<unknown>): Promise<SegdError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof SegdError, `expected a SegdError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a rejection');
}

async function masksOf(engine: { acquireInput(): Uint8Array; run(n: number): Promise<Uint8Array> }, frames: readonly Uint8Array[]): Promise<Uint8Array> {
  const input = engine.acquireInput();
  frames.forEach((f, i) => input.set(f, i * f.length));
  return new Uint8Array(await engine.run(frames.length));
}

/** Polls `cond` (no deadline of its own: the test's timeout bounds it). */
async function until(cond: () => boolean | Promise<boolean>): Promise<void> {
  while (!(await cond())) await new Promise((r) => setTimeout(r, 100));
}

for (const protocol of TRITON_PROTOCOLS) describe(`TritonEngine against a real Triton, over ${protocol}`, { timeout: 600_000 }, () => {
  let triton: TritonServer;
  let frames: Uint8Array[];
  before(async () => {
    frames = firstClipFrames(4);
    triton = await startTriton({ model: MODEL, name: 'seg', card: CARD });
  });
  after(async () => {
    await triton?.kill();
  });

  it('gives the masks the in-process engine gives on the same frames (card from the model config parameter)', async () => {
    const local = await OnnxEngine.create(cpuEngineOptions(MODEL));
    const remote = await TritonEngine.create(options(tritonUrl(triton, protocol)));
    try {
      assert.equal(remote.provider, 'triton');
      assert.equal(remote.card.name, local.card.name);
      assert.match(remote.cardPath, /segd_card/);
      assert.equal(remote.unavailableReason, null);
      for (const pair of [frames.slice(0, 2), frames.slice(2, 4), frames.slice(1, 2)]) {
        const want = await masksOf(local, pair);
        const got = await masksOf(remote, pair);
        assert.equal(got.length, want.length);
        assert.ok(Buffer.from(got).equals(Buffer.from(want)), 'identical masks');
      }
    } finally {
      await Promise.all([local.close(), remote.close()]);
    }
  });

  it('refuses at start, naming the culprit: unknown model, unreachable server, a card that does not fit', async () => {
    const unknown = await rejection(TritonEngine.create(options(tritonUrl(triton, protocol), { model: 'nope' })));
    assert.equal(unknown.code, 'SEGD_MODEL_NOT_FOUND');
    assert.match(unknown.message, new RegExp(`triton model 'nope' is not served by ${protocol}://127\\.0\\.0\\.1:\\d+.*NOT_FOUND`));

    const away = await rejection(TritonEngine.create(options(`${protocol}://127.0.0.1:${await freePort()}`, { timeoutMs: 2000 })));
    assert.equal(away.code, 'SEGD_INFERENCE_UNAVAILABLE');
    assert.match(away.message, new RegExp(`triton at ${protocol}://127\\.0\\.0\\.1:\\d+ is unreachable.*UNAVAILABLE`));

    // A local card for another input size: the metadata check names the tensor and both shapes.
    const { writeFileSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'segd-triton-'));
    const card = JSON.parse(readFileSync(CARD, 'utf8')) as { input: { height: number } };
    card.input.height = 352;
    writeFileSync(join(dir, 'card.json'), JSON.stringify(card));
    const mismatch = await rejection(TritonEngine.create(options(tritonUrl(triton, protocol), { cardPath: join(dir, 'card.json') })));
    assert.equal(mismatch.code, 'SEGD_MODEL_INVALID');
    assert.match(mismatch.message, /input 'frames': expected shape \[-1, 352, 480, 3\].*got \[-1, 360, 480, 3\]/);
  });

  it('refuses a model whose tensors break the contract, and one without a card', async () => {
    const wrong = await startTriton({ model: MODEL, name: 'seg', card: CARD, inputName: 'image' });
    try {
      const err = await rejection(TritonEngine.create(options(tritonUrl(wrong, protocol))));
      assert.equal(err.code, 'SEGD_MODEL_INVALID');
      assert.match(err.message, /inputs: expected exactly one, named 'frames', got \['image'\]/);
    } finally {
      await wrong.kill();
    }
    const bare = await startTriton({ model: MODEL, name: 'seg' });
    try {
      const err = await rejection(TritonEngine.create(options(tritonUrl(bare, protocol))));
      assert.equal(err.code, 'SEGD_MODEL_CARD_INVALID');
      assert.match(err.message, /missing \(expected the card's JSON in the model config parameter 'segd_card', or set model\.card/);
      // The same model with a local card is fine.
      const engine = await TritonEngine.create(options(tritonUrl(bare, protocol), { cardPath: CARD }));
      assert.equal(engine.cardPath, CARD);
      await engine.close();
    } finally {
      await bare.kill();
    }
  });

  it('maxInFlight 2 through the Batcher: two batches in flight, every stream\'s masks in order, each its own frame\'s mask and pixels', async () => {
    const local = await OnnxEngine.create(cpuEngineOptions(MODEL));
    let most = 0;
    const engine = await TritonEngine.create(options(tritonUrl(triton, protocol), { maxInFlight: 2, hooks: { onInFlight: (n) => (most = Math.max(most, n)) } }));
    try {
      const want: Uint8Array[] = [];
      for (const f of frames) want.push(await masksOf(local, [f])); // the local engine runs one at a time
      await checkInFlightBatches(engine, frames, want);
      assert.equal(most, 2, 'two inference requests were in flight at once');
    } finally {
      await Promise.all([local.close(), engine.close()]);
    }
  });

  if (protocol === 'http') {
    it('https:// through a TLS proxy that wants a bearer token: masks with the CA and the header; refused, naming why, without', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'segd-triton-tls-'));
      const pki = makeTestCa(dir);
      // A TLS-terminating reverse proxy (what fronts Triton's plaintext HTTP in a fleet), checking auth.
      const proxy = createHttpsServer({ cert: readFileSync(pki.cert), key: readFileSync(pki.key) }, (req, res) => {
        if (req.headers.authorization !== 'Bearer s3cret') {
          res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'missing or wrong token' }));
          return;
        }
        const up = httpRequest({ host: '127.0.0.1', port: triton.httpPort, method: req.method, path: req.url, headers: req.headers }, (r) => {
          res.writeHead(r.statusCode ?? 502, r.headers);
          r.pipe(res);
        });
        up.on('error', () => res.writeHead(502).end());
        req.pipe(up);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
      const url = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
      const local = await OnnxEngine.create(cpuEngineOptions(MODEL));
      try {
        const tls = { ca: pki.ca, cert: null, key: null };
        const engine = await TritonEngine.create(options(url, { tls, headers: { authorization: 'Bearer s3cret' } }));
        try {
          const want = await masksOf(local, frames.slice(0, 2));
          assert.ok(Buffer.from(await masksOf(engine, frames.slice(0, 2))).equals(Buffer.from(want)), 'masks through TLS equal');
        } finally {
          await engine.close();
        }
        const noToken = await rejection(TritonEngine.create(options(url, { tls })));
        assert.equal(noToken.code, 'SEGD_INFERENCE_UNAVAILABLE');
        assert.match(noToken.message, /ServerLive: UNAUTHENTICATED: missing or wrong token/);
        const untrusted = await rejection(TritonEngine.create(options(url, { headers: { authorization: 'Bearer s3cret' }, timeoutMs: 5000 })));
        assert.match(untrusted.message, /is unreachable.*UNAVAILABLE: .*certificate/);
      } finally {
        await local.close();
        proxy.closeAllConnections();
        await new Promise((r) => proxy.close(r));
      }
    });
  }

  it('killed mid-stream: batches fail as unavailable (no RPC while away) with the reason; back: masks again', async () => {
    const local = await OnnxEngine.create(cpuEngineOptions(MODEL));
    const engine = await TritonEngine.create(options(tritonUrl(triton, protocol), { timeoutMs: 5000 }));
    try {
      const want = await masksOf(local, frames.slice(0, 2));
      assert.ok(Buffer.from(await masksOf(engine, frames.slice(0, 2))).equals(Buffer.from(want)));
      await triton.kill();
      const first = await rejection(masksOf(engine, frames.slice(0, 2)));
      assert.equal(first.code, 'SEGD_INFERENCE_UNAVAILABLE');
      assert.notEqual(engine.unavailableReason, null);
      const second = await rejection(masksOf(engine, frames.slice(0, 2)));
      assert.equal(second.code, 'SEGD_INFERENCE_UNAVAILABLE', 'still away: refused at once');
      triton = await triton.restart();
      await until(() => engine.unavailableReason === null);
      assert.ok(Buffer.from(await masksOf(engine, frames.slice(0, 2))).equals(Buffer.from(want)), 'masks again, equal');
    } finally {
      await Promise.all([local.close(), engine.close()]);
    }
  });
});
