/**
 * The main thread's side of one inference worker's life: start it and wait for `ready`, send one
 * run at a time, notice when it dies. No restart policy here (that is OnnxEngine's); a handle
 * whose worker exited is finished.
 *
 * Every promise handed out settles: a worker that exits (crash, process.exit in the worker,
 * terminate) settles its pending start or run with the exit as the error.
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { SegdError } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import { fromWire, type FromWorker, type ToWorker, type WorkerData, type WorkerInit } from './worker-protocol.js';

/**
 * The script a worker thread runs, and what it gets as `workerData` besides the WorkerInit.
 * Production runs inference-worker.js with nothing extra; a test may run a wrapper around it
 * (test/helpers/faulty-inference-worker.ts), so no fault hook lives in the production worker.
 */
export interface WorkerScript {
  readonly url: URL;
  /** workerData.extra: structured-cloned (a SharedArrayBuffer stays shared). Unread by the production worker. */
  readonly extra?: unknown;
}

/** Compiled beside this file in dist/; resolved from the module URL so it works wherever dist/ is installed. */
export const INFERENCE_WORKER: WorkerScript = { url: new URL('./inference-worker.js', import.meta.url) };

/** How long a graceful close (release the session, exit) may take before the worker is terminated. */
const CLOSE_GRACE_MS = 5000;

export interface WorkerReady {
  readonly provider: ExecutionProviderName;
  readonly warmupMs: number;
  readonly slowestWarmupMs: number;
}

/** A run's outcome. `input` is the transferred buffer handed back, or null when the worker died with it. */
export type RunOutcome =
  | { readonly ok: true; readonly mask: Uint8Array; readonly input: ArrayBuffer }
  | { readonly ok: false; readonly error: Error; readonly input: ArrayBuffer | null };

interface PendingRun {
  readonly id: number;
  readonly resolve: (o: RunOutcome) => void;
}

export class InferenceWorkerHandle {
  /** Settles when the worker has exited, with why (always resolves). */
  readonly exited: Promise<SegdError>;
  private readonly worker: Worker;
  private readonly logger: Logger;
  private pending: PendingRun | null = null;
  private nextId = 1;
  private lastError: Error | null = null;
  private gone: SegdError | null = null;
  /** The worker's own start-up error (`failed`), reported once it has exited. */
  private startError: Error | null = null;
  private onReady: ((r: WorkerReady) => void) | null = null;
  private onStartFailed: ((err: Error) => void) | null = null;

  /**
   * Starts a worker, which opens, checks and warms up the session. `ready` resolves once it can
   * run, or rejects, after the thread has exited, with the worker's error (same code, message and
   * details) or with the exit itself.
   */
  readonly ready: Promise<WorkerReady>;

  constructor(init: WorkerInit, logger: Logger, script: WorkerScript = INFERENCE_WORKER) {
    this.logger = logger;
    this.ready = new Promise<WorkerReady>((resolve, reject) => {
      this.onReady = resolve;
      this.onStartFailed = reject;
    });
    this.ready.then(
      () => this.clearStartHooks(),
      () => this.clearStartHooks(),
    );
    const workerData: WorkerData = { init, extra: script.extra };
    this.worker = new Worker(script.url, {
      workerData,
      // Inherit node's flags, except --input-type (a process started with `node --input-type=module
      // -e …`), which a worker loaded from a file refuses to start with.
      execArgv: process.execArgv.filter((a) => !a.startsWith('--input-type')),
    });
    this.worker.on('message', (m: FromWorker) => this.onMessage(m));
    // An uncaught exception in the worker: 'error' comes first, then 'exit'.
    this.worker.on('error', (err) => (this.lastError = err));
    this.worker.on('messageerror', (err) => this.logger.error({ err }, 'inference worker: undeliverable message'));
    this.exited = new Promise((resolve) => {
      this.worker.once('exit', (code) => {
        const why = this.lastError ? `: ${this.lastError.name}: ${this.lastError.message}` : '';
        this.gone = new SegdError('SEGD_INFERENCE_FAILED', `inference worker exited with code ${code}${why}`, [], { cause: this.lastError ?? undefined });
        this.onStartFailed?.(this.startError ?? this.gone);
        this.pending?.resolve({ ok: false, error: this.gone, input: null });
        this.pending = null;
        resolve(this.gone);
      });
    });
  }

  /** Sends `input` (transferred: detached here until the outcome hands it back) for n frames. One run at a time. */
  run(input: ArrayBuffer, n: number): Promise<RunOutcome> {
    if (this.gone) return Promise.resolve({ ok: false, error: this.gone, input });
    if (this.pending) throw new Error('InferenceWorkerHandle.run: a run is already in flight');
    const id = this.nextId++;
    return new Promise<RunOutcome>((resolve) => {
      this.pending = { id, resolve };
      this.send({ type: 'run', id, n, input }, [input]);
    });
  }

  /** Graceful: the worker releases its session and exits; terminated if that takes too long. Idempotent. */
  async close(): Promise<void> {
    if (this.gone) return;
    this.send({ type: 'close' });
    const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
    await this.exited;
    clearTimeout(timer);
  }

  /** Hard stop (a run that never answers). Resolves once the thread is gone. */
  async terminate(): Promise<void> {
    if (this.gone) return;
    await this.worker.terminate();
    await this.exited;
  }

  private clearStartHooks(): void {
    this.onReady = null;
    this.onStartFailed = null;
  }

  private send(msg: ToWorker, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(msg, transfer);
  }

  private onMessage(m: FromWorker): void {
    switch (m.type) {
      case 'log':
        this.logger[m.level](m.obj, m.msg);
        return;
      case 'ready':
        this.onReady?.({ provider: m.provider, warmupMs: m.warmupMs, slowestWarmupMs: m.slowestWarmupMs });
        return;
      case 'failed': {
        // The worker exits on its own after `failed`; `ready` rejects once it has (never two
        // threads with ORT loaded at once across a restart).
        this.startError = fromWire(m.error);
        const timer = setTimeout(() => void this.worker.terminate(), CLOSE_GRACE_MS);
        void this.exited.then(() => clearTimeout(timer));
        return;
      }
      case 'result':
      case 'run-failed': {
        const p = this.pending;
        if (!p || p.id !== m.id) {
          this.logger.error({ id: m.id }, 'inference worker answered a run that is not pending');
          return;
        }
        this.pending = null;
        p.resolve(m.type === 'result' ? { ok: true, mask: m.mask, input: m.input } : { ok: false, error: fromWire(m.error), input: m.input });
        return;
      }
    }
  }
}
