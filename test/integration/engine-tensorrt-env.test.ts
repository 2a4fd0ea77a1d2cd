// OnnxEngine with TensorRT among its providers sets model.tensorrt as ORT_TENSORRT_* variables on
// the main thread before the inference worker starts, and the worker (where the TensorRT provider
// reads them) logs the values it sees. On this machine TensorRT is not in the build, so the
// engine then runs on the CPU provider.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import { tensorrtEnvOf } from '../../pipeline/engine/tensorrt-env.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx');

interface LogLine {
  msg: string;
  env?: Record<string, string>;
}

describe('OnnxEngine: TensorRT options reach the inference worker', { timeout: 120_000 }, () => {
  let saved: Record<string, string>;
  before(() => {
    saved = tensorrtEnvOf(process.env);
    for (const k of Object.keys(saved)) delete process.env[k];
  });
  after(() => {
    for (const k of Object.keys(tensorrtEnvOf(process.env))) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('fp16 and the cache directory are set before the worker starts, and the worker sees them', async () => {
    const logs: LogLine[] = [];
    process.env['ORT_TENSORRT_MAX_WORKSPACE_SIZE'] = '1073741824'; // the operator's own: kept
    const engine = await OnnxEngine.create(
      cpuEngineOptions(MODEL, {
        providers: ['tensorrt', 'cpu'],
        tensorrt: { fp16: true, engineCacheDir: '/var/cache/segd/tensorrt' },
        logger: pino({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) }),
      }),
    );
    try {
      const want = {
        ORT_TENSORRT_CACHE_PATH: '/var/cache/segd/tensorrt',
        ORT_TENSORRT_ENGINE_CACHE_ENABLE: '1',
        ORT_TENSORRT_FP16_ENABLE: '1',
        ORT_TENSORRT_GLOBAL_CACHE_PATH: '/var/cache/segd/tensorrt',
        ORT_TENSORRT_MAX_WORKSPACE_SIZE: '1073741824',
        ORT_TENSORRT_TIMING_CACHE_ENABLE: '1',
      };
      assert.deepEqual(tensorrtEnvOf(process.env), want, 'set in the process environment');
      const seen = logs.filter((l) => l.msg.startsWith('tensorrt options'));
      assert.equal(seen.length, 1, 'logged once, by the worker');
      assert.deepEqual(seen[0]?.env, want, 'the inference worker sees every value');
      assert.equal(engine.provider, 'cpu', 'TensorRT is not in this onnxruntime-node build');
    } finally {
      await engine.close();
    }
  });

  it('an engine without TensorRT among its providers leaves the environment alone', async () => {
    for (const k of Object.keys(tensorrtEnvOf(process.env))) delete process.env[k];
    const logs: LogLine[] = [];
    const engine = await OnnxEngine.create(
      cpuEngineOptions(MODEL, { logger: pino({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) }) }),
    );
    await engine.close();
    assert.deepEqual(tensorrtEnvOf(process.env), {});
    assert.equal(logs.filter((l) => l.msg.startsWith('tensorrt options')).length, 0);
  });
});
