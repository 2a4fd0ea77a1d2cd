/** OnnxEngine options for tests: CPU only, one thread each, batch 2, one warm-up run, a silent logger. */
import { pino } from 'pino';
import type { OnnxEngineOptions } from '../../pipeline/engine/onnx-engine.js';

export function cpuEngineOptions(modelPath: string, overrides: Partial<OnnxEngineOptions> = {}): OnnxEngineOptions {
  return {
    modelPath,
    providers: ['cpu'],
    cpu: { intraOpThreads: 1, interOpThreads: 1 },
    maxBatch: 2,
    warmupRuns: 1,
    logger: pino({ level: 'silent' }),
    ...overrides,
  };
}
