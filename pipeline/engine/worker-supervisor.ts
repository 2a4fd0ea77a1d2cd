/**
 * The inference worker's restart supervisor, in the same shape as a stream's (sources/supervisor.ts:
 * a state table + Backoff). If the worker dies, the death is logged and a new worker is started
 * with the provider chosen at start, after a backoff; runs asked for meanwhile wait for it. After
 * `maxAttempts` restarts without a successful run in between, or when the engine reports a hang
 * (fail()), it gives up: logs, stops the worker, rejects whoever waits, and calls onFailed once.
 * No hang is silent, and nothing is thrown where nobody can catch it.
 */
import type { Logger } from 'pino';
import { SegdError } from '../core/errors.js';
import { Supervisor, type TransitionTable } from '../core/supervisor.js';
import type { InferenceWorkerHandle, WorkerReady } from './inference-worker-handle.js';

export type WorkerState = 'running' | 'backoff' | 'starting' | 'failed' | 'closed';

/**
 * running ─died─▶ backoff ─▶ starting ─ready─▶ running; starting ─start failed─▶ backoff.
 * failed when the restarts are used up (from running or starting) or on a hung run (the engine's
 * run watchdog may fire as the worker dies, hence from backoff too). Every state but closed → closed.
 */
export const WORKER_TRANSITIONS: TransitionTable<WorkerState> = {
  running: ['backoff', 'failed', 'closed'],
  backoff: ['starting', 'failed', 'closed'],
  starting: ['running', 'backoff', 'failed', 'closed'],
  failed: ['closed'],
  closed: [],
};

export interface RestartPolicy {
  /** Delay before the first restart; doubles per further attempt up to maxDelayMs. */
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
  /** Restarts allowed without a successful run in between; one more failure and the engine gives up. */
  readonly maxAttempts: number;
}

export const DEFAULT_RESTART_POLICY: RestartPolicy = { baseDelayMs: 500, maxDelayMs: 10_000, maxAttempts: 5 };

export interface WorkerSupervisorOptions {
  readonly modelPath: string;
  /** The provider every worker runs (logged with each restart). */
  readonly provider: string;
  readonly restart: RestartPolicy;
  readonly logger: Logger;
  /** Starts a replacement worker (with the provider chosen at start: a restart must not silently change it). */
  readonly startWorker: () => InferenceWorkerHandle;
  /** A replacement is ready (the engine rescales its run watchdog to it). */
  readonly onRestarted: (ready: WorkerReady) => void;
  /** Called once, when the supervisor gives up for good. */
  readonly onFailed: (err: SegdError) => void;
}

interface Waiter {
  readonly resolve: (w: InferenceWorkerHandle) => void;
  readonly reject: (err: SegdError) => void;
}

export class WorkerSupervisor {
  private readonly opts: WorkerSupervisorOptions;
  private readonly log: Logger;
  private readonly sup: Supervisor<WorkerState>;
  /** The ready worker; null while restarting, after a failure and after close. */
  private current: InferenceWorkerHandle | null = null;
  /** The worker a restart is starting (terminated by close()). */
  private starting: InferenceWorkerHandle | null = null;
  /** Runs waiting for a restart in progress. */
  private waiters: Waiter[] = [];
  private lastStartError: Error | null = null;
  private failure: SegdError | null = null;
  /** A starting worker being terminated by close(). */
  private stopping: Promise<void> = Promise.resolve();

  /** `first`: the worker the engine started and saw ready. */
  constructor(first: InferenceWorkerHandle, opts: WorkerSupervisorOptions) {
    this.opts = opts;
    this.log = opts.logger;
    const { baseDelayMs, maxDelayMs, maxAttempts } = opts.restart;
    this.sup = new Supervisor<WorkerState>({
      what: `inference worker for ${opts.modelPath}`,
      table: WORKER_TRANSITIONS,
      initial: 'running',
      initialReason: 'started',
      // base·2^(n-1), capped: no jitter (one worker, nothing to de-synchronise).
      backoff: { minMs: Math.min(baseDelayMs, maxDelayMs), maxMs: maxDelayMs, factor: 2, jitter: 'none' },
      maxAttempts,
    });
    this.adopt(first);
  }

  get state(): WorkerState {
    return this.sup.state;
  }

  /** The ready worker, or null (restarting, failed, closed). A field read: the engine's hot path. */
  get worker(): InferenceWorkerHandle | null {
    return this.current;
  }

  /** Why it gave up; null until then. */
  get failed(): SegdError | null {
    return this.failure;
  }

  /** The ready worker, waiting for a restart in progress; rejects once it has failed or closed. */
  available(): Promise<InferenceWorkerHandle> {
    if (this.current !== null) return Promise.resolve(this.current);
    if (this.sup.state === 'backoff' || this.sup.state === 'starting') {
      return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
    }
    return Promise.reject(this.failure ?? this.closedError());
  }

  /** A run succeeded: the restart budget is whole again. */
  succeeded(): void {
    this.sup.succeeded();
  }

  /** Gives up for good: logs, stops the worker, rejects waiting runs, tells the owner once. */
  fail(err: SegdError): void {
    if (this.failure !== null || this.sup.state === 'closed') return;
    this.failure = err;
    this.log.error({ err, model: this.opts.modelPath }, `inference engine failed: ${err.message}`);
    this.sup.cancelRetry();
    const workers = [this.current, this.starting];
    this.current = null;
    this.starting = null;
    // Not awaited: a thread stuck in native code only ends with the process.
    for (const w of workers) void w?.terminate();
    this.sup.to('failed', 'gave_up');
    this.settleWaiters(err);
    this.opts.onFailed(err);
  }

  /**
   * First step of the engine's close(): no restart from now on, a starting worker is stopped, runs
   * waiting for a restart reject as closed. A run in flight on the ready worker may finish. Idempotent.
   */
  beginClose(): void {
    if (this.sup.state === 'closed') return;
    this.sup.cancelRetry();
    this.sup.to('closed', 'close');
    const starting = this.starting;
    this.starting = null;
    this.stopping = starting?.terminate() ?? Promise.resolve();
    this.settleWaiters(this.closedError());
  }

  /** Last step (once no run is in flight): the ready worker releases its session and exits. Idempotent. */
  async close(): Promise<void> {
    this.beginClose();
    const current = this.current;
    this.current = null;
    await this.stopping;
    await current?.close();
  }

  private adopt(worker: InferenceWorkerHandle): void {
    this.current = worker;
    void worker.exited.then((why) => this.onExit(worker, why));
  }

  private onExit(worker: InferenceWorkerHandle, why: SegdError): void {
    if (worker !== this.current || this.sup.state !== 'running') return; // an orderly close or a known failure
    this.current = null;
    this.log.error({ err: why, model: this.opts.modelPath }, `inference worker died: ${why.message}; restarting it`);
    this.lastStartError = null;
    this.retry('died');
  }

  /** Schedules the next start, or gives up when the restarts without a successful run are used up. */
  private retry(reason: string): void {
    const delayMs = this.sup.scheduleRetry(() => this.start(delayMs ?? 0));
    if (delayMs === null) {
      const { maxAttempts } = this.opts.restart;
      const why = this.lastStartError ? `; last error: ${this.lastStartError.message}` : '';
      this.fail(
        new SegdError('SEGD_INFERENCE_FAILED', `inference worker for ${this.opts.modelPath} gave up after ${maxAttempts} restarts without a successful run${why}`),
      );
      return;
    }
    this.sup.to('backoff', reason);
  }

  private start(delayMs: number): void {
    const attempt = this.sup.attempts;
    const { maxAttempts } = this.opts.restart;
    this.sup.to('starting', 'retry');
    this.log.warn({ attempt, maxAttempts, delayMs, provider: this.opts.provider }, 'restarting the inference worker');
    const worker = this.opts.startWorker();
    this.starting = worker;
    worker.ready.then(
      (ready) => {
        if (this.starting !== worker) return; // closed or failed meanwhile: already terminated
        this.starting = null;
        this.opts.onRestarted(ready);
        this.log.info({ attempt, provider: ready.provider, warmupMs: Math.round(ready.warmupMs) }, 'inference worker restarted');
        this.sup.to('running', 'restarted');
        this.adopt(worker);
        const waiters = this.waiters;
        this.waiters = [];
        for (const w of waiters) w.resolve(worker);
      },
      (err: unknown) => {
        if (this.starting !== worker) return;
        this.starting = null;
        this.lastStartError = err as Error;
        this.log.error({ err, attempt, maxAttempts }, 'inference worker restart failed');
        this.retry('start_failed');
      },
    );
  }

  private settleWaiters(err: SegdError): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w.reject(err);
  }

  private closedError(): SegdError {
    return new SegdError('SEGD_INFERENCE_FAILED', `engine for ${this.opts.modelPath} is closed`);
  }
}
