/**
 * Messages between OnnxEngine (main thread) and its inference worker (inference-worker.ts).
 *
 * Buffers travel by transfer, never by copy and never as SharedArrayBuffer (the binding rejects
 * a Uint8Array over a SharedArrayBuffer with "Invalid argument"): the engine's input ArrayBuffer
 * goes to the worker with a `run` and comes back with its `result` / `run-failed`, together with
 * the mask's own ArrayBuffer (fresh ORT output memory for every run).
 */
import { SegdError, type SegdErrorCode } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import type { ModelCard } from './model-card.js';
import type { ProviderSettings } from './provider-options.js';

/** workerData: everything the worker needs to open, check and warm up the session. */
export interface WorkerInit {
  readonly modelPath: string;
  /** The validated card (its H×W is the contract the session is checked against). */
  readonly card: ModelCard;
  /** Tried in order (a restart passes only the provider chosen the first time). */
  readonly providers: readonly ExecutionProviderName[];
  readonly settings: ProviderSettings;
  readonly maxBatch: number;
  readonly warmupRuns: number;
}

/** workerData of every inference worker: the init, and what a test's wrapper script may need (`extra`). */
export interface WorkerData {
  readonly init: WorkerInit;
  readonly extra?: unknown;
}

/** An Error as structured clone carries it: SegdErrors keep code, message and details. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly code: SegdErrorCode | null;
  readonly details: readonly string[];
}

export type LogLevel = 'info' | 'warn' | 'error';

export type ToWorker =
  | { readonly type: 'run'; readonly id: number; readonly n: number; readonly input: ArrayBuffer }
  | { readonly type: 'close' };

export type FromWorker =
  | { readonly type: 'log'; readonly level: LogLevel; readonly obj: object; readonly msg: string }
  | { readonly type: 'ready'; readonly provider: ExecutionProviderName; readonly warmupMs: number; readonly slowestWarmupMs: number }
  | { readonly type: 'failed'; readonly error: WireError }
  | { readonly type: 'result'; readonly id: number; readonly mask: Uint8Array; readonly input: ArrayBuffer }
  | { readonly type: 'run-failed'; readonly id: number; readonly error: WireError; readonly input: ArrayBuffer };

export function toWire(err: unknown): WireError {
  if (err instanceof SegdError) return { name: err.name, message: err.message, code: err.code, details: err.details };
  if (err instanceof Error) return { name: err.name, message: err.message, code: null, details: [] };
  return { name: 'Error', message: String(err), code: null, details: [] };
}

/** Rebuilds the error on the main thread: same class for SegdError/RangeError, same code, message, details. */
export function fromWire(w: WireError): Error {
  if (w.code !== null) return new SegdError(w.code, w.message, w.details);
  const err = w.name === 'RangeError' ? new RangeError(w.message) : w.name === 'TypeError' ? new TypeError(w.message) : new Error(w.message);
  if (err.name !== w.name) err.name = w.name;
  return err;
}
