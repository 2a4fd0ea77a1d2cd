/**
 * TensorRT settings through the environment. onnxruntime-node 1.30 appends the TensorRT execution
 * provider with a device id only (js/node/src/session_options_helper.cc), so `model.tensorrt`
 * can reach it only through the provider's ORT_TENSORRT_* environment variables, which it reads
 * from the process environment when a session is created. They are set on the main thread before
 * the inference worker starts (inference-worker-handle.ts): a worker's `process.env` is a copy
 * taken when it starts, and native code reads the process's real environment, which only the
 * main thread's `process.env` writes through to.
 *
 * Kept free of onnxruntime-node (the main thread uses it).
 */
import type { ProviderSettings } from './provider-options.js';

export const TENSORRT_ENV_PREFIX = 'ORT_TENSORRT_';

/** The variables `model.tensorrt` decides; any other ORT_TENSORRT_* (e.g. ORT_TENSORRT_MAX_WORKSPACE_SIZE) is the operator's. */
export function tensorrtEnv(settings: ProviderSettings['tensorrt']): Record<string, string> {
  const cacheDir = settings.engineCacheDir;
  const cache = cacheDir === null ? '0' : '1';
  return {
    ORT_TENSORRT_FP16_ENABLE: settings.fp16 ? '1' : '0',
    // Built engines, and the timing cache that speeds up building them for other shapes and models.
    ORT_TENSORRT_ENGINE_CACHE_ENABLE: cache,
    ORT_TENSORRT_TIMING_CACHE_ENABLE: cache,
    ...(cacheDir === null ? {} : { ORT_TENSORRT_CACHE_PATH: cacheDir, ORT_TENSORRT_GLOBAL_CACHE_PATH: cacheDir }),
  };
}

/** Every ORT_TENSORRT_* variable of `env`, sorted by name: what the TensorRT provider will read. */
export function tensorrtEnvOf(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of Object.keys(env).sort()) {
    const value = env[name];
    if (name.startsWith(TENSORRT_ENV_PREFIX) && value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * Writes `tensorrtEnv(settings)` into `env` (the config wins over a value already there; other
 * ORT_TENSORRT_* variables are left as they are) and returns the effective ORT_TENSORRT_* set.
 */
export function applyTensorrtEnv(settings: ProviderSettings['tensorrt'], env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  Object.assign(env, tensorrtEnv(settings));
  return tensorrtEnvOf(env);
}
