/**
 * What onnxruntime-node 1.30 lets segd tell the TensorRT execution provider: its device id, and
 * nothing else. The binding appends TensorRT with V2 provider options from
 * CreateTensorRTProviderOptions, setting only `device_id` (js/node/src/session_options_helper.cc,
 * ParseExecutionProviders); the V2 factory marks them `has_trt_options = true`
 * (onnxruntime/core/providers/tensorrt/tensorrt_provider_factory.cc), and the provider reads its
 * ORT_TENSORRT_* environment variables only when that flag is false
 * (tensorrt_execution_provider.cc, the constructor's "Get environment variables" block). So FP16,
 * the engine cache and every other ORT_TENSORRT_* variable are never read through this binding.
 * docs/running.md ("TensorRT") has the trace and what does work (an fp16 model).
 *
 * Kept free of onnxruntime-node (the main thread uses it).
 */

export const TENSORRT_ENV_PREFIX = 'ORT_TENSORRT_';

/** Why an ORT_TENSORRT_* variable has no effect (logged with the names found, never as applied). */
export const TENSORRT_ENV_IGNORED_REASON =
  'onnxruntime-node appends the TensorRT provider with V2 options (has_trt_options = true), so the provider never reads ORT_TENSORRT_* variables';

/** The ORT_TENSORRT_* variable names set in `env`, sorted: each one is ignored by the provider. */
export function ignoredTensorrtEnv(env: NodeJS.ProcessEnv): string[] {
  return Object.keys(env)
    .filter((name) => name.startsWith(TENSORRT_ENV_PREFIX) && env[name] !== undefined)
    .sort();
}
