// The main thread's view of the engine: nothing exported here loads onnxruntime-node at run time
// (providers.ts and session-runner.ts do, and only the inference worker imports them).
export { OnnxEngine, DEFAULT_RESTART_POLICY, type OnnxEngineOptions, type RestartPolicy } from './onnx-engine.js';
export { createOnnxEngines, OnnxEnginePool, type OnnxEnginePoolOptions } from './onnx-engine-pool.js';
export { defaultCardPath, readModelCard, validateModelCard, MODEL_CARD_FORMAT, type ModelCard, type ModelClass } from './model-card.js';
export { sessionOptionsFor, type ProviderSettings } from './provider-options.js';
export type { ExecutionProviderName } from '../core/reasons.js';
export { checkSessionIo, checkOutput, INPUT_NAME, OUTPUT_NAME } from './io-contract.js';
export type { SegEngine } from './engine.js';
export { TritonEngine, type TritonEngineOptions, type TritonHooks } from './triton-engine.js';
