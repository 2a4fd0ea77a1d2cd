/**
 * The inference engine: one ONNX Runtime session for every stream, loaded, checked against the
 * model contract (docs/model-contract.md) and warmed up before `create()` resolves.
 *
 * The session lives in ONE worker thread (inference-worker.ts): onnxruntime-node runs a session
 * synchronously on the calling thread, which on the main thread would stall ffmpeg reads,
 * WebSocket sends and /metrics for a whole batch. The daemon's main thread never loads ONNX
 * Runtime (this file imports it for types only).
 *
 * The engine owns the batch input buffer (maxBatch*H*W*3 bytes): a caller fills
 * `acquireInput()` in place, then `run(n)` transfers that buffer to the worker (no copy) and it
 * comes back with the mask. One run at a time.
 *
 * Failure policy: if the worker dies (uncaught error, exit), the run in flight rejects with
 * SEGD_INFERENCE_FAILED, the death is logged, and the engine starts a new worker with the provider
 * it chose, after an exponential backoff. Runs asked for meanwhile wait for it. After
 * `restart.maxAttempts` restarts without a successful run in between, or when a run gets no answer
 * within the run timeout (a thread stuck in native code cannot be reclaimed in-process), the
 * engine gives up: it logs, calls `onFailed` once, and every run rejects from then on. The daemon
 * turns `onFailed` into a non-zero exit so systemd restarts the whole process. No hang is silent.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SegdError } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import { InferenceWorkerHandle, type WorkerReady } from './inference-worker-handle.js';
import { defaultCardPath, readModelCard, type ModelCard } from './model-card.js';
import type { ProviderSettings } from './provider-options.js';
import type { WorkerInit } from './worker-protocol.js';

export interface RestartPolicy {
  /** Delay before the first restart; doubles per further attempt up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Restarts allowed without a successful run in between; one more failure and the engine gives up. */
  readonly maxAttempts: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { baseDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 5 };

export interface OnnxEngineOptions extends ProviderSettings {
  readonly modelPath: string;
  /** Default: the model path with `.onnx` replaced by `.json`. */
  readonly cardPath?: string;
  /** Tried in order; the first that opens the model is used. */
  readonly providers: readonly ExecutionProviderName[];
  /** Largest batch `run()` accepts; warm-up covers this size and 1. */
  readonly maxBatch: number;
  readonly warmupRuns: number;
  readonly logger: Logger;
  /** Worker restarts after a crash (default DEFAULT_RESTART_POLICY). */
  readonly restart?: Partial<RestartPolicy>;
  /** A run with no answer after this long fails the engine. Default: max(30 s, 50 × the slowest warm-up run). */
  readonly runTimeoutMs?: number;
  /** Called once when the engine gives up for good (see the failure policy above). */
  readonly onFailed?: (err: SegdError) => void;
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const DETACHED = new Uint8Array(0);

export class OnnxEngine {
  readonly modelPath: string;
  readonly cardPath: string;
  readonly card: ModelCard;
  readonly provider: ExecutionProviderName;
  readonly inputHeight: number;
  readonly inputWidth: number;
  readonly maxBatch: number;
  /** Bytes of one input frame (H*W*3) and of one output mask (H*W). */
  readonly frameBytes: number;
  readonly maskBytes: number;

  private readonly logger: Logger;
  private readonly opts: OnnxEngineOptions;
  private readonly restartPolicy: RestartPolicy;
  private runTimeoutMs: number;
  /** The ready worker; null while restarting, after a failure and after close. */
  private worker: InferenceWorkerHandle | null = null;
  /** A restart in progress: resolves to the next ready worker, rejects if the engine fails or closes. */
  private restarting: Promise<InferenceWorkerHandle> | null = null;
  /** The worker a restart is starting (terminated by close()). */
  private startingWorker: InferenceWorkerHandle | null = null;
  private wakeBackoff: (() => void) | null = null;
  /** Restarts since the last successful run. */
  private attempts = 0;
  private failure: SegdError | null = null;
  private closing: Promise<void> | null = null;
  /** Ours while no run is in flight; the worker's during a run (then `inputView` is DETACHED). */
  private input: ArrayBuffer;
  private inputView: Uint8Array;
  private inFlight: Promise<Uint8Array> | null = null;

  private constructor(opts: OnnxEngineOptions, cardPath: string, card: ModelCard, worker: InferenceWorkerHandle, ready: WorkerReady) {
    this.opts = opts;
    this.logger = opts.logger;
    this.modelPath = opts.modelPath;
    this.cardPath = cardPath;
    this.card = card;
    this.provider = ready.provider;
    this.inputHeight = card.input.height;
    this.inputWidth = card.input.width;
    this.maxBatch = opts.maxBatch;
    this.maskBytes = this.inputHeight * this.inputWidth;
    this.frameBytes = this.maskBytes * 3;
    this.restartPolicy = { ...DEFAULT_RESTART_POLICY, ...opts.restart };
    this.runTimeoutMs = this.timeoutFor(ready);
    this.input = new ArrayBuffer(this.maxBatch * this.frameBytes);
    this.inputView = new Uint8Array(this.input);
    this.adopt(worker);
  }

  static async create(opts: OnnxEngineOptions): Promise<OnnxEngine> {
    const t0 = process.hrtime.bigint();
    const { modelPath, logger } = opts;
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) {
      throw new RangeError(`OnnxEngine: maxBatch must be an integer >= 1, got ${String(opts.maxBatch)}`);
    }
    const st = await stat(modelPath).catch(() => null);
    if (!st?.isFile()) {
      throw new SegdError('SEGD_MODEL_NOT_FOUND', `model file not found: ${modelPath} (expected an .onnx file)`, [modelPath]);
    }
    const cardPath = opts.cardPath ?? defaultCardPath(modelPath);
    const card = await readModelCard(cardPath);
    const digest = await sha256File(modelPath);
    if (digest !== card.onnx.sha256) {
      const msg = `onnx.sha256: expected ${digest} (the sha256 of ${modelPath}), got ${card.onnx.sha256}`;
      throw new SegdError('SEGD_MODEL_CARD_INVALID', `model card ${cardPath} does not describe ${modelPath}: ${msg}`, [msg]);
    }

    // Provider selection, the contract check and warm-up happen in the worker; its errors come
    // back with the same code, message and details, after the thread has exited.
    const worker = new InferenceWorkerHandle(workerInit(opts, card, opts.providers), logger);
    const ready = await worker.ready;
    const engine = new OnnxEngine(opts, cardPath, card, worker, ready);
    const totalMs = msSince(t0);
    logger.info(
      {
        model: modelPath,
        card: cardPath,
        name: card.name,
        provider: ready.provider,
        input: `${engine.inputHeight}x${engine.inputWidth}`,
        classes: card.classes.length,
        maxBatch: engine.maxBatch,
        loadMs: Math.round(totalMs - ready.warmupMs),
        warmupMs: Math.round(ready.warmupMs),
      },
      'model loaded and warmed up',
    );
    return engine;
  }

  /**
   * The batch input buffer, maxBatch*H*W*3 bytes (NHWC, frame k at k*H*W*3). Fill it, then call
   * `run(n)`. Only while no run is in flight: a run takes the buffer to the worker (a view
   * acquired earlier is then detached, length 0), so call this again for every batch.
   */
  acquireInput(): Uint8Array {
    if (this.inFlight) throw new Error('OnnxEngine.acquireInput: the input buffer belongs to the run in flight until it settles');
    return this.inputView;
  }

  /**
   * Runs the first `n` frames of the input buffer. Resolves to n*H*W class ids: fresh memory for
   * every run, so views into it stay valid. Failures reject with SEGD_INFERENCE_FAILED. One run
   * at a time (a second concurrent call throws).
   */
  run(n: number): Promise<Uint8Array> {
    if (this.closing) return Promise.reject(new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} is closed`));
    if (this.failure) {
      return Promise.reject(new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} has failed: ${this.failure.message}`));
    }
    if (!Number.isInteger(n) || n < 1 || n > this.maxBatch) {
      return Promise.reject(new RangeError(`OnnxEngine.run: expected an integer 1 <= n <= ${this.maxBatch}, got n=${n}`));
    }
    if (this.inFlight) return Promise.reject(new Error('OnnxEngine.run: a run is already in flight (one at a time)'));
    const running = this.runOnWorker(n).finally(() => {
      this.inFlight = null;
    });
    this.inFlight = running;
    return running;
  }

  private async runOnWorker(n: number): Promise<Uint8Array> {
    const worker = this.worker ?? (await this.available());
    const input = this.input;
    this.inputView = DETACHED;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.runTimeoutMs)));
    const outcome = await Promise.race([worker.run(input, n), timedOut]);
    clearTimeout(timer);

    if (outcome === 'timeout') {
      this.replaceInput();
      const err = new SegdError(
        'SEGD_INFERENCE_FAILED',
        `inference worker gave no answer for a batch of ${n} within ${this.runTimeoutMs} ms; a thread stuck in ONNX Runtime cannot be reclaimed in-process`,
      );
      this.fail(err);
      throw err;
    }
    if (outcome.input) {
      this.input = outcome.input;
      this.inputView = new Uint8Array(this.input);
    } else {
      this.replaceInput(); // the worker died holding it; its restart is handled by onWorkerExit
    }
    if (!outcome.ok) {
      if (outcome.input) throw outcome.error;
      throw new SegdError('SEGD_INFERENCE_FAILED', `inference failed on ${this.modelPath} (batch of ${n}): ${outcome.error.message}`, [], {
        cause: outcome.error,
      });
    }
    this.attempts = 0;
    return outcome.mask;
  }

  /** The ready worker, waiting for a restart in progress; rejects if the engine failed or closed. */
  private available(): Promise<InferenceWorkerHandle> {
    if (this.worker) return Promise.resolve(this.worker);
    if (this.restarting) return this.restarting;
    return Promise.reject(this.failure ?? new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} is closed`));
  }

  private replaceInput(): void {
    this.input = new ArrayBuffer(this.maxBatch * this.frameBytes);
    this.inputView = new Uint8Array(this.input);
  }

  private timeoutFor(ready: WorkerReady): number {
    return this.opts.runTimeoutMs ?? Math.max(30_000, Math.ceil(50 * ready.slowestWarmupMs));
  }

  private adopt(worker: InferenceWorkerHandle): void {
    this.worker = worker;
    void worker.exited.then((why) => this.onWorkerExit(worker, why));
  }

  private onWorkerExit(worker: InferenceWorkerHandle, why: SegdError): void {
    if (worker !== this.worker || this.closing || this.failure) return; // an orderly close or a known failure
    this.worker = null;
    this.logger.error({ err: why, model: this.modelPath }, `inference worker died: ${why.message}; restarting it`);
    this.startRestart();
  }

  private startRestart(): void {
    const restarting = this.restartLoop();
    this.restarting = restarting;
    restarting.then(
      (w) => {
        this.restarting = null;
        this.adopt(w);
      },
      (err: unknown) => {
        this.restarting = null;
        if (err instanceof SegdError) this.fail(err);
      },
    );
  }

  private async restartLoop(): Promise<InferenceWorkerHandle> {
    const { baseDelayMs, maxDelayMs, maxAttempts } = this.restartPolicy;
    let lastError: Error | null = null;
    for (;;) {
      if (this.attempts >= maxAttempts) {
        const why = lastError ? `; last error: ${lastError.message}` : '';
        throw new SegdError(
          'SEGD_INFERENCE_FAILED',
          `inference worker for ${this.modelPath} gave up after ${maxAttempts} restarts without a successful run${why}`,
        );
      }
      this.attempts++;
      const delayMs = Math.min(maxDelayMs, baseDelayMs * 2 ** (this.attempts - 1));
      await this.backoff(delayMs);
      if (this.closing) throw this.closedError();
      this.logger.warn({ attempt: this.attempts, maxAttempts, delayMs, provider: this.provider }, 'restarting the inference worker');
      // Same provider as chosen at start: a restart must not silently change it.
      const worker = new InferenceWorkerHandle(workerInit(this.opts, this.card, [this.provider]), this.logger);
      this.startingWorker = worker;
      try {
        const ready = await worker.ready;
        if (this.closing) {
          await worker.close();
          throw this.closedError();
        }
        this.runTimeoutMs = this.timeoutFor(ready);
        this.logger.info({ attempt: this.attempts, provider: ready.provider, warmupMs: Math.round(ready.warmupMs) }, 'inference worker restarted');
        return worker;
      } catch (err) {
        if (this.closing) throw this.closedError();
        lastError = err as Error;
        this.logger.error({ err, attempt: this.attempts, maxAttempts }, 'inference worker restart failed');
      } finally {
        this.startingWorker = null;
      }
    }
  }

  /** Sleeps `ms`; close() cuts it short. */
  private backoff(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wakeBackoff = () => {
        clearTimeout(timer);
        resolve();
      };
    }).finally(() => {
      this.wakeBackoff = null;
    });
  }

  private closedError(): SegdError {
    return new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} is closed`);
  }

  /** Gives up for good: logs, stops the worker, tells the owner once. */
  private fail(err: SegdError): void {
    if (this.failure || this.closing) return;
    this.failure = err;
    this.logger.error({ err, model: this.modelPath }, `inference engine failed: ${err.message}`);
    const w = this.worker;
    this.worker = null;
    // Not awaited: a thread stuck in native code only ends with the process.
    void w?.terminate();
    this.opts.onFailed?.(err);
  }

  /** Test hook: the worker exits (`exit`) or spins forever (`hang`) on the next run. */
  injectWorkerFault(action: 'exit' | 'hang'): void {
    if (!this.worker) throw new Error('OnnxEngine.injectWorkerFault: no worker is running');
    this.worker.injectFault(action);
  }

  /**
   * Lets a run in progress finish, then releases the session and ends the worker (a restart in
   * progress is abandoned). Idempotent; run() after close() rejects with SEGD_INFERENCE_FAILED.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.wakeBackoff?.();
      void this.startingWorker?.terminate();
      await this.inFlight?.catch(() => undefined);
      await this.restarting?.catch(() => undefined);
      const w = this.worker;
      this.worker = null;
      await w?.close();
    })();
    return this.closing;
  }
}

function workerInit(opts: OnnxEngineOptions, card: ModelCard, providers: readonly ExecutionProviderName[]): WorkerInit {
  return {
    modelPath: opts.modelPath,
    card,
    providers,
    settings: { tensorrt: opts.tensorrt, cpu: opts.cpu },
    maxBatch: opts.maxBatch,
    warmupRuns: opts.warmupRuns,
  };
}
