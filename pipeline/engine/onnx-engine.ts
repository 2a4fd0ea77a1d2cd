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
 * SEGD_INFERENCE_FAILED and the restart supervisor (worker-supervisor.ts) starts a new worker with
 * the provider chosen at start, after a backoff; runs asked for meanwhile wait for it. After
 * `restart.maxAttempts` restarts without a successful run in between, or when a run gets no answer
 * within the run timeout (a thread stuck in native code cannot be reclaimed in-process), the
 * engine gives up: it logs, calls `onFailed` once, and every run rejects from then on. The daemon
 * wires `onFailed` to its shutdown (exit 1, so systemd restarts the process). No hang is silent.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Logger } from 'pino';
import { SegdError } from '../core/errors.js';
import type { ExecutionProviderName } from '../core/reasons.js';
import type { SegEngine } from './engine.js';
import { INFERENCE_WORKER, InferenceWorkerHandle, type WorkerReady, type WorkerScript } from './inference-worker-handle.js';
import { defaultCardPath, readModelCard, type ModelCard } from './model-card.js';
import type { ProviderSettings } from './provider-options.js';
import type { WorkerInit } from './worker-protocol.js';
import { DEFAULT_RESTART_POLICY, WorkerSupervisor, type RestartPolicy } from './worker-supervisor.js';

export { DEFAULT_RESTART_POLICY, type RestartPolicy } from './worker-supervisor.js';

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
  /**
   * The worker thread's script; default inference-worker.js. Tests run a wrapper that injects
   * faults (test/helpers/worker-faults.ts). Read only when a worker starts.
   */
  readonly workerScript?: WorkerScript;
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

export class OnnxEngine implements SegEngine {
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

  private readonly opts: OnnxEngineOptions;
  private readonly workers: WorkerSupervisor;
  private runTimeoutMs: number;
  private closing: Promise<void> | null = null;
  /** Ours while no run is in flight; the worker's during a run (then `inputView` is DETACHED). */
  private input: ArrayBuffer;
  private inputView: Uint8Array;
  private inFlight: Promise<Uint8Array> | null = null;

  private constructor(opts: OnnxEngineOptions, cardPath: string, card: ModelCard, worker: InferenceWorkerHandle, ready: WorkerReady) {
    this.opts = opts;
    this.modelPath = opts.modelPath;
    this.cardPath = cardPath;
    this.card = card;
    this.provider = ready.provider;
    this.inputHeight = card.input.height;
    this.inputWidth = card.input.width;
    this.maxBatch = opts.maxBatch;
    this.maskBytes = this.inputHeight * this.inputWidth;
    this.frameBytes = this.maskBytes * 3;
    this.runTimeoutMs = this.timeoutFor(ready);
    this.input = new ArrayBuffer(this.maxBatch * this.frameBytes);
    this.inputView = new Uint8Array(this.input);
    const script = opts.workerScript ?? INFERENCE_WORKER;
    this.workers = new WorkerSupervisor(worker, {
      modelPath: opts.modelPath,
      provider: ready.provider,
      restart: { ...DEFAULT_RESTART_POLICY, ...opts.restart },
      logger: opts.logger,
      // Same provider as chosen at start: a restart must not silently change it.
      startWorker: () => new InferenceWorkerHandle(workerInit(opts, card, [ready.provider]), opts.logger, script),
      onRestarted: (r) => (this.runTimeoutMs = this.timeoutFor(r)),
      onFailed: (err) => opts.onFailed?.(err),
    });
  }

  static async create(opts: OnnxEngineOptions): Promise<OnnxEngine> {
    const t0 = process.hrtime.bigint();
    const { modelPath, logger } = opts;
    if (!Number.isInteger(opts.maxBatch) || opts.maxBatch < 1) {
      throw new RangeError(`OnnxEngine: maxBatch must be an integer >= 1, got ${String(opts.maxBatch)}`);
    }
    const st = await stat(modelPath).catch(() => null);
    // /proc and /sys files pass as regular files (size 0, generated on read): never a model.
    if (!st?.isFile() || /^\/(proc|sys)\//.test(modelPath)) {
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
    const worker = new InferenceWorkerHandle(workerInit(opts, card, opts.providers), logger, opts.workerScript);
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

  /** Null until the engine has given up for good (then the daemon stops: see onFailed). */
  get unavailableReason(): string | null {
    return this.workers.failed?.message ?? null;
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
    const failure = this.workers.failed;
    if (failure) return Promise.reject(new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.modelPath} has failed: ${failure.message}`));
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
    const worker = this.workers.worker ?? (await this.workers.available());
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
      this.workers.fail(err);
      throw err;
    }
    if (outcome.input) {
      this.input = outcome.input;
      this.inputView = new Uint8Array(this.input);
    } else {
      this.replaceInput(); // the worker died holding it; the supervisor restarts it
    }
    if (!outcome.ok) {
      if (outcome.input) throw outcome.error;
      throw new SegdError('SEGD_INFERENCE_FAILED', `inference failed on ${this.modelPath} (batch of ${n}): ${outcome.error.message}`, [], {
        cause: outcome.error,
      });
    }
    this.workers.succeeded();
    return outcome.mask;
  }

  private replaceInput(): void {
    this.input = new ArrayBuffer(this.maxBatch * this.frameBytes);
    this.inputView = new Uint8Array(this.input);
  }

  private timeoutFor(ready: WorkerReady): number {
    return this.opts.runTimeoutMs ?? Math.max(30_000, Math.ceil(50 * ready.slowestWarmupMs));
  }

  /**
   * Lets a run in progress finish, then releases the session and ends the worker (a restart in
   * progress is abandoned). Idempotent; run() after close() rejects with SEGD_INFERENCE_FAILED.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.workers.beginClose();
      await this.inFlight?.catch(() => undefined);
      await this.workers.close();
    })();
    return this.closing;
  }
}

function workerInit(opts: OnnxEngineOptions, card: ModelCard, providers: readonly ExecutionProviderName[]): WorkerInit {
  return {
    modelPath: opts.modelPath,
    card,
    providers,
    settings: { cpu: opts.cpu },
    maxBatch: opts.maxBatch,
    warmupRuns: opts.warmupRuns,
  };
}
