/**
 * Restart delays: exponential growth between min and max with jitter (AWS "Exponential Backoff
 * and Jitter"), so many cameras failing together do not reconnect in lockstep. The attempt count
 * resets once a stream has been streaming for `resetAfterMs`.
 */

export type JitterMode = 'full' | 'decorrelated' | 'none';

export interface BackoffOptions {
  /** Smallest delay, ms. Default 500. */
  readonly minMs?: number;
  /** Largest delay, ms. Default 30 000. */
  readonly maxMs?: number;
  /** Growth factor per attempt. Default 2. */
  readonly factor?: number;
  /** Default 'decorrelated'. */
  readonly jitter?: JitterMode;
  /** Streaming this long without a failure forgets earlier failures. Default 30 000. */
  readonly resetAfterMs?: number;
  /** Injectable for tests; returns [0, 1). */
  readonly random?: () => number;
}

export class Backoff {
  readonly minMs: number;
  readonly maxMs: number;
  readonly factor: number;
  readonly jitter: JitterMode;
  readonly resetAfterMs: number;
  private readonly random: () => number;
  private attempt = 0;
  private prevMs: number;

  constructor(opts: BackoffOptions = {}) {
    this.minMs = opts.minMs ?? 500;
    this.maxMs = opts.maxMs ?? 30_000;
    this.factor = opts.factor ?? 2;
    this.jitter = opts.jitter ?? 'decorrelated';
    this.resetAfterMs = opts.resetAfterMs ?? 30_000;
    this.random = opts.random ?? Math.random;
    if (!(this.minMs >= 0) || !(this.maxMs >= this.minMs)) {
      throw new RangeError(`backoff needs 0 <= minMs <= maxMs, got ${this.minMs}..${this.maxMs}`);
    }
    if (!(this.factor >= 1)) throw new RangeError(`backoff factor must be >= 1, got ${this.factor}`);
    this.prevMs = this.minMs;
  }

  /** Failures since the last reset. */
  get attempts(): number {
    return this.attempt;
  }

  /** The delay before the next attempt, in ms, within [minMs, maxMs]. */
  next(): number {
    const exp = Math.min(this.maxMs, this.minMs * this.factor ** this.attempt);
    this.attempt++;
    let ms: number;
    switch (this.jitter) {
      case 'none':
        ms = exp;
        break;
      case 'full':
        // Uniform in [min, exp]: never below min so a crash loop cannot spin.
        ms = this.minMs + this.random() * (exp - this.minMs);
        break;
      case 'decorrelated':
        // sleep = min(cap, random_between(base, prev * 3))
        ms = Math.min(this.maxMs, this.minMs + this.random() * Math.max(0, Math.max(this.prevMs, 1) * 3 - this.minMs));
        break;
    }
    this.prevMs = Math.max(this.minMs, ms);
    return Math.round(ms);
  }

  /** Forget past failures (called after a stream has streamed for resetAfterMs). */
  reset(): void {
    this.attempt = 0;
    this.prevMs = this.minMs;
  }
}
