/**
 * Flow control of one source, orthogonal to its supervision state: pause()/resume() (backpressure
 * from a consumer that paces an unpaced file). While paused, stdout is not read, so the OS pipe
 * fills and ffmpeg blocks in write() at no CPU cost. Nothing is lost or reordered: cutting stops
 * at the frame boundary (the rest of the read is held, uncut), frames that were waiting for their
 * pts are parked, and stdout data Node still hands over (it resumes a child's pipes when the child
 * exits) is held too; resume() hands all of it out, oldest first, before reading on. A child that
 * exits meanwhile is dealt with (EOF, restart) only after that (holdExit).
 */
import type { Readable } from 'node:stream';
import type { DropReason } from '../core/reasons.js';
import { BoundedQueue } from '../core/bounded-queue.js';
import type { PooledFrame } from './pooled-frame.js';

export interface SourceFlowHooks {
  /** Cuts frames out of `chunk` from byte `from`; returns the bytes used (fewer when paused meanwhile). */
  cut(chunk: Buffer, from: number): number;
  /** A frame goes to the consumer. */
  emit(frame: PooledFrame): void;
  /** A frame that will never go out; it has been released already. */
  drop(reason: DropReason): void;
  /** resume() after a pause of `pausedForMs`: a paused source is not stalled. */
  resumed(pausedForMs: number): void;
}

export class SourceFlow {
  private readonly hooks: SourceFlowHooks;
  /** The current child's stdout (paused and resumed for backpressure); null when there is none. */
  private stdout: Readable | null = null;
  private isPaused = false;
  private pausedAt = 0;
  private closed = false;
  /**
   * Frames cut while paused (or waiting behind such frames), oldest first. Each holds one pool
   * slot, so at most poolSize: the ring never evicts.
   */
  private readonly parked: BoundedQueue<PooledFrame>;
  /**
   * stdout bytes read but not cut yet (paused mid-read, or data flushed by Node at the child's
   * exit), oldest first; cutting resumes at heldFrom in the first. Bounded by what the paused
   * pipe could hold: the OS pipe plus one stream buffer.
   */
  private readonly held: Buffer[] = [];
  private heldFrom = 0;
  /** The child's exit, seen while bytes were still held: handled once they are all out. */
  private deferredExit: (() => void) | null = null;
  private flushTimer: NodeJS.Immediate | null = null;

  constructor(poolSize: number, hooks: SourceFlowHooks) {
    this.parked = new BoundedQueue<PooledFrame>(poolSize);
    this.hooks = hooks;
  }

  /** True between pause() and resume(). */
  get paused(): boolean {
    return this.isPaused;
  }

  /**
   * Stop reading stdout until resume(); no frame is delivered meanwhile. Idempotent; allowed
   * before the first child (it then starts paused).
   */
  pause(): void {
    if (this.isPaused || this.closed) return;
    this.isPaused = true;
    this.pausedAt = performance.now();
    this.stdout?.pause();
  }

  /**
   * Undo pause(): what was parked and held goes out first (on the next turn of the event loop, so
   * a consumer calling resume() is never re-entered), then stdout is read again. Idempotent.
   */
  resume(): void {
    if (!this.isPaused || this.closed) return;
    this.isPaused = false;
    this.hooks.resumed(performance.now() - this.pausedAt);
    if (this.backlogged()) this.flushTimer ??= setImmediate(this.flushBacklog);
    else this.stdout?.resume();
  }

  /** A new child's stdout (null once it is gone); it waits on its pipe while paused or backlogged. */
  attach(stdout: Readable | null): void {
    this.stdout = stdout;
    if (stdout !== null && (this.isPaused || this.backlogged())) stdout.pause();
  }

  /** stdout data: cut now, or held while paused or behind held bytes. */
  onStdout(chunk: Buffer): void {
    if (this.isPaused || this.held.length > 0) {
      this.held.push(chunk);
      return;
    }
    const used = this.hooks.cut(chunk, 0);
    if (used < chunk.length) {
      this.held.push(chunk); // paused at a frame boundary inside this read
      this.heldFrom = used;
    }
  }

  /** A cut frame with its pts: emitted, or parked while paused or behind parked frames (order is kept). */
  deliver(frame: PooledFrame): void {
    if (this.closed) {
      frame.release();
      this.hooks.drop('shutdown');
      return;
    }
    if (this.isPaused || this.parked.length > 0) {
      const evicted = this.parked.push(frame);
      // Cannot happen (every parked frame holds one of poolSize slots); counted if it ever does.
      if (evicted !== undefined) {
        evicted.release();
        this.hooks.drop('queue_full');
      }
      return;
    }
    this.hooks.emit(frame);
  }

  /**
   * The child exited. With bytes of it still held, `handle` runs once they are all out (or at
   * close()) and this returns true; otherwise false: the caller handles the exit now.
   */
  holdExit(handle: () => void): boolean {
    if (this.held.length === 0 || this.closed) return false;
    this.deferredExit = handle;
    return true;
  }

  /** For good: stdout flows to its end, held bytes are discarded, parked frames dropped, a held exit handled. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // A paused stdout would never reach EOF, and the child's 'close' waits for it.
    this.isPaused = false;
    this.stdout?.resume();
    if (this.flushTimer !== null) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    this.held.length = 0; // uncut bytes: like the rest of the pipe, never frames
    this.parked.clear((frame) => {
      frame.release();
      this.hooks.drop('shutdown');
    });
    const exit = this.deferredExit;
    this.deferredExit = null;
    exit?.();
  }

  private backlogged(): boolean {
    return this.parked.length > 0 || this.held.length > 0 || this.deferredExit !== null;
  }

  /** After resume(): parked frames, then held bytes, then a held exit; stops if paused again. */
  private readonly flushBacklog = (): void => {
    this.flushTimer = null;
    // The consumer may pause() again inside onFrame: stop there, the rest stays put.
    while (!this.isPaused && !this.closed) {
      const frame = this.parked.shift();
      if (frame === undefined) break;
      this.hooks.emit(frame);
    }
    while (!this.isPaused && !this.closed && this.parked.length === 0 && this.held.length > 0) {
      const chunk = this.held[0] as Buffer;
      const used = this.hooks.cut(chunk, this.heldFrom);
      if (used < chunk.length) {
        this.heldFrom = used;
        break;
      }
      this.held.shift();
      this.heldFrom = 0;
    }
    // Not paused here means nothing is parked or held any more (frames park only while paused).
    if (this.isPaused || this.closed) return;
    const exit = this.deferredExit;
    this.deferredExit = null;
    if (exit !== null) exit();
    else this.stdout?.resume();
  };
}
