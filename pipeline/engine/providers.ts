/**
 * Execution-provider selection: try the configured providers in order, skip the unusable ones
 * with one warn line each (provider + reason), log the chosen one at info.
 *
 * TensorRT gets a device id only (tensorrt-env.ts): ORT_TENSORRT_* variables found in the
 * environment are reported once as ignored, never as applied.
 *
 * Loads onnxruntime-node: import this only from the inference worker.
 */
import { InferenceSession, listSupportedBackends } from 'onnxruntime-node';
import { SegdError } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import { sessionOptionsFor, type ProviderSettings } from './provider-options.js';
import { ignoredTensorrtEnv, TENSORRT_ENV_IGNORED_REASON } from './tensorrt-env.js';

/** Where provider choices are reported: a pino Logger, or the worker's relay to one. */
export interface EngineLog {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface SkippedProvider {
  readonly provider: ExecutionProviderName;
  readonly reason: string;
}

export interface OpenedSession {
  readonly session: InferenceSession;
  readonly provider: ExecutionProviderName;
  readonly skipped: readonly SkippedProvider[];
}

function errorText(err: unknown): string {
  const msg = err instanceof Error ? err.message : String(err);
  return msg.replace(/\s+/g, ' ').trim();
}

/**
 * Opens `modelPath` with the first usable provider of `providers`.
 * Throws SEGD_MODEL_INVALID when the file itself does not load (the CPU EP, always present,
 * rejects it), SEGD_PROVIDER_UNAVAILABLE when the model is fine but no configured provider works.
 */
export async function openSession(
  modelPath: string,
  providers: readonly ExecutionProviderName[],
  settings: ProviderSettings,
  logger: EngineLog,
): Promise<OpenedSession> {
  const supported = new Set(listSupportedBackends().map((b) => b.name));
  const skipped: SkippedProvider[] = [];
  const ignored = providers.includes('tensorrt') ? ignoredTensorrtEnv(process.env) : [];
  if (ignored.length > 0) {
    logger.warn({ ignored, reason: TENSORRT_ENV_IGNORED_REASON }, `tensorrt: ${ignored.join(', ')} ignored: ${TENSORRT_ENV_IGNORED_REASON}`);
  }

  const modelInvalid = (err: unknown): SegdError =>
    new SegdError(
      'SEGD_MODEL_INVALID',
      `model ${modelPath} could not be loaded by ONNX Runtime (expected a valid ONNX file): ${errorText(err)}`,
      [errorText(err)],
      { cause: err },
    );

  for (const provider of providers) {
    if (!supported.has(provider)) {
      const reason = 'not in this onnxruntime-node build (listSupportedBackends)';
      skipped.push({ provider, reason });
      logger.warn({ provider, reason }, `execution provider ${provider} skipped: ${reason}`);
      continue;
    }
    try {
      const session = await InferenceSession.create(modelPath, sessionOptionsFor(provider, settings));
      logger.info(
        { provider, skipped: skipped.map((s) => s.provider), intraOpThreads: settings.cpu.intraOpThreads },
        `execution provider ${provider} selected`,
      );
      return { session, provider, skipped };
    } catch (err) {
      // The CPU EP is always available, so its failure is the model's fault, not the provider's.
      if (provider === 'cpu') throw modelInvalid(err);
      const reason = errorText(err);
      skipped.push({ provider, reason });
      logger.warn({ provider, reason }, `execution provider ${provider} skipped: ${reason}`);
    }
  }

  // Every configured provider failed and the list had no CPU: tell a broken model apart from
  // missing GPU providers with one CPU-only probe.
  let probe: InferenceSession;
  try {
    probe = await InferenceSession.create(modelPath, sessionOptionsFor('cpu', settings));
  } catch (err) {
    throw modelInvalid(err);
  }
  await probe.release();
  const details = skipped.map((s) => `${s.provider}: ${s.reason}`);
  throw new SegdError(
    'SEGD_PROVIDER_UNAVAILABLE',
    `none of the configured execution providers [${providers.join(', ')}] could be used for ${modelPath}: ${details.join('; ')}`,
    details,
  );
}
