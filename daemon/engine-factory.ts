/**
 * Which engine the daemon runs (model.engine): ONNX Runtime in process (`local`) or a Triton
 * server (`triton`, docs/triton.md). Both are SegEngines, so the rest of the daemon (batcher,
 * model swap, API, /readyz) does not care which.
 */
import type { Logger } from 'pino';
import { SegdError } from '../pipeline/core/errors.js';
import { createOnnxEngines, TritonEngine, type SegEngine } from '../pipeline/engine/index.js';
import type { SegdConfig } from './config/schema.js';
import type { ModelChoice } from './control/model-swap.js';
import type { SegdMetrics } from './metrics.js';
import { tritonMetrics } from './triton-metrics.js';

export type EngineLoader = (choice: ModelChoice) => Promise<SegEngine>;

/**
 * The loader for the start and for every model swap. Local: `choice` is the .onnx and its card.
 * Triton: the model is the one model.triton names on the server; a swap re-opens it (a new
 * version or card on the server, or `choice.card` as a local card) and must keep `choice.path`
 * as configured, since the path of a local file means nothing to Triton.
 */
export function engineLoader(config: SegdConfig, logger: Logger, metrics: SegdMetrics, onFailed: (err: SegdError) => void): EngineLoader {
  const m = config.model;
  const maxBatch = config.batching.maxBatch;
  const triton = m.triton;
  if (m.engine === 'triton' && triton !== null) {
    const hooks = tritonMetrics(metrics.registry);
    return async (choice) => {
      if (choice.path !== m.path) {
        throw new SegdError(
          'SEGD_MODEL_NOT_FOUND',
          `model.engine is triton: the model is ${triton.model} on ${triton.url}, chosen there; a swap re-opens it (new version or card) and takes path ${m.path}, got ${choice.path}`,
          [choice.path],
        );
      }
      return TritonEngine.create({ ...triton, cardPath: choice.card, maxBatch, logger, hooks });
    };
  }
  return (choice) =>
    createOnnxEngines({
      modelPath: choice.path,
      sessions: m.sessions,
      ...(choice.card !== null ? { cardPath: choice.card } : {}),
      providers: m.providers,
      cpu: m.cpu,
      maxBatch,
      warmupRuns: m.warmupRuns,
      logger,
      // The engine restarts a dead inference worker itself; this fires only once it has given up.
      onFailed,
    });
}
