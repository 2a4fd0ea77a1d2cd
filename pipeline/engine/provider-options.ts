/**
 * Execution-provider names and the session options for each. Kept free of onnxruntime-node at
 * run time (type imports only) so the daemon's main thread can use it without loading the native
 * binding: only the inference worker loads ONNX Runtime (see inference-worker.ts).
 */
import type { InferenceSession } from 'onnxruntime-node';
import type { ExecutionProviderName } from '../core/reasons.js';

export interface ProviderSettings {
  readonly tensorrt: { readonly fp16: boolean; readonly engineCacheDir: string | null };
  readonly cpu: { readonly intraOpThreads: number; readonly interOpThreads: number };
}

/** Session options for one provider (a single-EP session: fallback is ours, explicit and logged). */
export function sessionOptionsFor(provider: ExecutionProviderName, settings: ProviderSettings): InferenceSession.SessionOptions {
  const ep: InferenceSession.ExecutionProviderConfig =
    provider === 'cpu' ? 'cpu' : provider === 'cuda' ? { name: 'cuda', deviceId: 0 } : { name: 'tensorrt', deviceId: 0 };
  return {
    executionProviders: [ep],
    // Thread counts apply to the CPU EP and to any nodes a GPU EP leaves on the CPU.
    intraOpNumThreads: settings.cpu.intraOpThreads,
    interOpNumThreads: settings.cpu.interOpThreads,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  };
}
