// ORT_TENSORRT_* variables cannot reach the TensorRT provider through onnxruntime-node (it gets V2
// options: pipeline/engine/tensorrt-env.ts). An engine with TensorRT among its providers reports the
// ones it finds as ignored, with the reason, and never logs a TensorRT option as applied. On this
// machine TensorRT is not in the build, so the engine then runs on the CPU provider.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { OnnxEngine } from '../../pipeline/engine/index.js';
import { ignoredTensorrtEnv } from '../../pipeline/engine/tensorrt-env.js';
import { cpuEngineOptions } from '../helpers/engine-options.js';
import { REPO_ROOT } from '../helpers/paths.js';

const MODEL = join(REPO_ROOT, 'models', 'sctnet-s-camvid-int8.onnx');

interface LogLine {
  level: number;
  msg: string;
  ignored?: string[];
  reason?: string;
}

async function engineLogs(providers: OnnxEngine['provider'][]): Promise<{ logs: LogLine[]; provider: string }> {
  const logs: LogLine[] = [];
  const logger = pino({ level: 'info' }, { write: (s: string) => logs.push(JSON.parse(s) as LogLine) });
  const engine = await OnnxEngine.create(cpuEngineOptions(MODEL, { providers, logger }));
  await engine.close();
  return { logs, provider: engine.provider };
}

describe('OnnxEngine: ORT_TENSORRT_* variables are reported as ignored, never as applied', { timeout: 120_000 }, () => {
  const saved: Record<string, string | undefined> = {};
  before(() => {
    for (const k of ignoredTensorrtEnv(process.env)) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
  });
  after(() => {
    for (const k of ignoredTensorrtEnv(process.env)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('with tensorrt among the providers: one warning naming each variable and why, nothing logged as applied', async () => {
    process.env['ORT_TENSORRT_FP16_ENABLE'] = '1';
    process.env['ORT_TENSORRT_CACHE_PATH'] = '/var/cache/segd/tensorrt';
    const { logs, provider } = await engineLogs(['tensorrt', 'cpu']);
    const warned = logs.filter((l) => l.ignored !== undefined);
    assert.equal(warned.length, 1, 'one warning per engine start');
    assert.equal(warned[0]?.level, 40);
    assert.deepEqual(warned[0]?.ignored, ['ORT_TENSORRT_CACHE_PATH', 'ORT_TENSORRT_FP16_ENABLE']);
    assert.match(warned[0]?.reason ?? '', /V2 options.*never reads ORT_TENSORRT_\*/);
    assert.equal(logs.filter((l) => /applied|options \(ORT_TENSORRT/.test(l.msg)).length, 0);
    assert.equal(provider, 'cpu', 'TensorRT is not in this onnxruntime-node build');
  });

  it('without tensorrt among the providers, or with no such variable: no warning', async () => {
    process.env['ORT_TENSORRT_FP16_ENABLE'] = '1';
    const cpuOnly = await engineLogs(['cpu']);
    assert.equal(cpuOnly.logs.filter((l) => l.ignored !== undefined).length, 0);
    for (const k of ignoredTensorrtEnv(process.env)) delete process.env[k];
    const clean = await engineLogs(['tensorrt', 'cpu']);
    assert.equal(clean.logs.filter((l) => l.ignored !== undefined).length, 0);
  });
});
