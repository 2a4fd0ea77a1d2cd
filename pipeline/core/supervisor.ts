/**
 * The one supervision shape for everything segd restarts (an ffmpeg child per stream, the
 * inference worker): an explicit state with a transition table, and retries spaced by Backoff.
 * The owner does the work (spawn, kill, start a worker); the supervisor holds the state, refuses
 * a move its table does not list (a bug: it throws, never silently goes on), and times retries.
 */
import { Backoff, type BackoffOptions } from './backoff.js';

/** For every state, the states it may move to (itself included where only the reason changes). */
export type TransitionTable<S extends string> = { readonly [K in S]: readonly S[] };

export class IllegalTransitionError extends Error {
  constructor(
    readonly what: string,
    readonly from: string,
    readonly to: string,
    readonly reason: string,
  ) {
    super(`${what}: illegal state transition ${from} → ${to} (reason ${reason})`);
    this.name = 'IllegalTransitionError';
  }
}

export interface SupervisorOptions<S extends string> {
  /** Names the supervised thing in errors ("stream cam1", "inference worker"). */
  readonly what: string;
  readonly table: TransitionTable<S>;
  readonly initial: S;
  readonly initialReason: string;
  readonly backoff?: BackoffOptions;
  /** Retries allowed in a row without a success; after that scheduleRetry() gives up. Default unlimited. */
  readonly maxAttempts?: number;
  /** Every change of state or reason, after it took effect. */
  readonly onTransition?: (state: S, reason: string, from: S) => void;
}

export class Supervisor<S extends string> {
  readonly what: string;
  readonly backoff: Backoff;
  readonly maxAttempts: number;
  private readonly table: TransitionTable<S>;
  private readonly onTransition: SupervisorOptions<S>['onTransition'] | null;
  private st: S;
  private why: string;
  private retryTimer: NodeJS.Timeout | null = null;

  constructor(opts: SupervisorOptions<S>) {
    this.what = opts.what;
    this.table = opts.table;
    this.st = opts.initial;
    this.why = opts.initialReason;
    this.backoff = new Backoff(opts.backoff);
    this.maxAttempts = opts.maxAttempts ?? Number.POSITIVE_INFINITY;
    this.onTransition = opts.onTransition ?? null;
  }

  get state(): S {
    return this.st;
  }

  /** The reason given with the last transition. */
  get reason(): string {
    return this.why;
  }

  /** Retries scheduled since the last success. */
  get attempts(): number {
    return this.backoff.attempts;
  }

  get retryPending(): boolean {
    return this.retryTimer !== null;
  }

  /** Whether the table lets the current state move to `next`. */
  allows(next: S): boolean {
    return this.table[this.st].includes(next);
  }

  /**
   * Moves to `next` with `reason`. The same state and reason again is no change (false). A move
   * the table does not list throws IllegalTransitionError and leaves the state as it was.
   */
  to(next: S, reason: string): boolean {
    if (next === this.st && reason === this.why) return false;
    if (!this.allows(next)) throw new IllegalTransitionError(this.what, this.st, next, reason);
    const from = this.st;
    this.st = next;
    this.why = reason;
    this.onTransition?.(next, reason, from);
    return true;
  }

  /**
   * Schedules `retry` after the next backoff delay and returns that delay; returns null and
   * schedules nothing once maxAttempts retries in a row have been used. One at a time.
   */
  scheduleRetry(retry: () => void): number | null {
    if (this.retryTimer !== null) throw new Error(`${this.what}: a retry is already scheduled`);
    if (this.backoff.attempts >= this.maxAttempts) return null;
    const delayMs = this.backoff.next();
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      retry();
    }, delayMs);
    return delayMs;
  }

  /** Drops a scheduled retry (its callback never runs); true when there was one. */
  cancelRetry(): boolean {
    if (this.retryTimer === null) return false;
    clearTimeout(this.retryTimer);
    this.retryTimer = null;
    return true;
  }

  /** A success: the next failure retries after the smallest delay, with the full attempt budget. */
  succeeded(): void {
    this.backoff.reset();
  }
}
