// model.tensorrt reaches the TensorRT provider as ORT_TENSORRT_* environment variables
// (pipeline/engine/tensorrt-env.ts): what the config turns into, how it meets variables already
// set, and that a worker thread started afterwards sees them (the inference worker is one).
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { applyTensorrtEnv, tensorrtEnv, tensorrtEnvOf } from '../../pipeline/engine/tensorrt-env.js';

/** Runs `fn` with the test process's ORT_TENSORRT_* variables removed, restoring them after. */
async function withCleanTensorrtEnv(fn: () => Promise<void>): Promise<void> {
  const saved = tensorrtEnvOf(process.env);
  for (const k of Object.keys(saved)) delete process.env[k];
  try {
    await fn();
  } finally {
    for (const k of Object.keys(tensorrtEnvOf(process.env))) delete process.env[k];
    Object.assign(process.env, saved);
  }
}

describe('TensorRT options as environment variables', () => {
  it('fp16 and the engine cache directory become the provider variables', () => {
    assert.deepEqual(tensorrtEnv({ fp16: true, engineCacheDir: null }), {
      ORT_TENSORRT_FP16_ENABLE: '1',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '0',
      ORT_TENSORRT_TIMING_CACHE_ENABLE: '0',
    });
    assert.deepEqual(tensorrtEnv({ fp16: false, engineCacheDir: '/var/cache/segd/tensorrt' }), {
      ORT_TENSORRT_FP16_ENABLE: '0',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
      ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
      ORT_TENSORRT_CACHE_PATH: '/var/cache/segd/tensorrt',
      ORT_TENSORRT_GLOBAL_CACHE_PATH: '/var/cache/segd/tensorrt',
    });
  });

  it('the config wins over a value already set; the operator keeps the others; all are returned', () => {
    const env: NodeJS.ProcessEnv = { PATH: '/usr/bin', ORT_TENSORRT_FP16_ENABLE: '1', ORT_TENSORRT_MAX_WORKSPACE_SIZE: '2147483648' };
    const effective = applyTensorrtEnv({ fp16: false, engineCacheDir: '/cache' }, env);
    assert.deepEqual(effective, {
      ORT_TENSORRT_CACHE_PATH: '/cache',
      ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
      ORT_TENSORRT_FP16_ENABLE: '0',
      ORT_TENSORRT_GLOBAL_CACHE_PATH: '/cache',
      ORT_TENSORRT_MAX_WORKSPACE_SIZE: '2147483648',
      ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
    });
    assert.equal(env['PATH'], '/usr/bin');
    assert.deepEqual(tensorrtEnvOf(env), effective);
  });

  it('a worker thread started after they are set on the main thread sees them', async () => {
    await withCleanTensorrtEnv(async () => {
      const effective = applyTensorrtEnv({ fp16: true, engineCacheDir: '/tmp/segd-trt-cache' });
      const worker = new Worker(
        `const { parentPort } = require('node:worker_threads');
         parentPort.postMessage(Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('ORT_TENSORRT_'))));`,
        { eval: true },
      );
      const seen = await new Promise<Record<string, string>>((resolve, reject) => {
        worker.once('message', resolve);
        worker.once('error', reject);
      });
      await worker.terminate();
      assert.deepEqual(seen, effective);
      assert.equal(seen['ORT_TENSORRT_FP16_ENABLE'], '1');
      assert.equal(seen['ORT_TENSORRT_CACHE_PATH'], '/tmp/segd-trt-cache');
    });
  });
});
