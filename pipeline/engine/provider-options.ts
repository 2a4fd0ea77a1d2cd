/**
 * Execution-provider names and the session options for each. Kept free of onnxruntime-node at
 * run time (type imports only) so the daemon's main thread can use it without loading the native
 * binding: only the inference worker loads ONNX Runtime (see inference-worker.ts).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionProviderName } from '../core/reasons.js';

/**
 * Off, unlike ONNX Runtime's default: spinning pool threads burn the cores ffmpeg and Node need
 * (bench, loaded 2-core box: CPU per mask 110 → 77 ms, bare ORT per frame 99 → 71 ms).
 */
export const DEFAULT_ALLOW_SPINNING = false;

export interface ProviderSettings {
  readonly cpu: {
    readonly intraOpThreads: number;
    readonly interOpThreads: number;
    /** Default DEFAULT_ALLOW_SPINNING. */
    readonly allowSpinning?: boolean;
  };
}

/**
 * Session options for one provider (a single-EP session: fallback is ours, explicit and logged).
 * TensorRT and CUDA get a device id and nothing more: that is all the binding passes on
 * (tensorrt-env.ts); FP16 comes from an fp16 model, not from a setting.
 */
export function sessionOptionsFor(provider: ExecutionProviderName, settings: ProviderSettings): InferenceSession.SessionOptions {
  const spin = (settings.cpu.allowSpinning ?? DEFAULT_ALLOW_SPINNING) ? '1' : '0';
  const ep: InferenceSession.ExecutionProviderConfig =
    provider === 'cpu' ? 'cpu' : provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : { name: 'tensorrt', deviceId: 0 };
  return {
    executionProviders: [ep],
    // Thread counts apply to the CPU EP and to any nodes a GPU EP leaves on the CPU.
    intraOpNumThreads: settings.cpu.intraOpThreads,
    interOpNumThreads: settings.cpu.interOpThreads,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
    // Session config entries (onnxruntime_session_options_config_keys.h); the Node binding takes
    // them as string values of `extra` (1.30 reads it, despite the typings' "WebAssembly only").
    extra: {
      'session.intra_op.allow_spinning': spin,
      'session.inter_op.allow_spinning': spin,
    },
  };
}
