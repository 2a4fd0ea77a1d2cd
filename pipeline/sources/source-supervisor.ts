/**
 * Supervision of one stream's ffmpeg child: spawn, watch for stalls, kill the whole process
 * group, back off, respawn. States (source-states.ts): connecting → streaming → (stalled →)
 * backoff → connecting …, and stopped (file EOF without loop, or close()). What the child writes
 * is not handled here (FfmpegSource cuts it, SourceFlow paces it); this class is told when a
 * frame was cut (the stall clocks) and asks before it handles an exit (flow control may still
 * hold the child's last frames).
 */
import type { Logger } from 'pino';
import type { RestartReason, StreamState } from '../core/reasons.js';
import type { BackoffOptions } from '../core/backoff.js';
import { FfmpegChild, type ChildExit } from './ffmpeg-child.js';
import { SOURCE_TRANSITIONS } from './source-states.js';
import { Supervisor } from '../core/supervisor.js';

/** Why a child was restarted. Bounded: usable as a metric label. */

/** What was left of a child's output when it ended, for the exit log line. */
export interface ExitLeftovers {
  readonly partialBytes: number;
  readonly lastError: string | null;
}

export interface SourceSupervisorHooks {
  /** A child was spawned: reset the per-child parsers and read its pipes. */
  spawned(child: FfmpegChild): void;
  /** The child exited: true when its output is still held back, then `handle` runs once it is out. */
  holdExit(handle: () => void): boolean;
  /** The child's output is over: flush what waits for it; returns what was left. */
  childGone(): ExitLeftovers;
  /** While true the watchdog does not count: nothing is read, so silence proves nothing. */
  paused(): boolean;
  onState(state: StreamState, reason: string): void;
  onRestart(reason: RestartReason): void;
}

export interface SourceSupervisorOptions {
  readonly id: string;
  readonly ffmpegPath: string;
  readonly args: readonly string[];
  /** A clean exit (code 0) ends the stream instead of restarting it: a file played without loop. */
  readonly endsAtEof: boolean;
  /** No frame for this long while streaming → stalled. */
  readonly stallTimeoutMs: number;
  /** No first frame this long after spawn → stalled. */
  readonly connectTimeoutMs: number;
  /** SIGTERM → SIGKILL grace when killing the child. */
  readonly killGraceMs: number;
  readonly backoff?: BackoffOptions;
  readonly logger: Logger;
  readonly hooks: SourceSupervisorHooks;
}

export class SourceSupervisor {
  private readonly opts: SourceSupervisorOptions;
  private readonly hooks: SourceSupervisorHooks;
  private readonly log: Logger;
  private readonly sup: Supervisor<StreamState>;
  private child: FfmpegChild | null = null;
  private isStarted = false;
  private closing = false;
  private watchdog: NodeJS.Timeout | null = null;
  private killedForStall = false;
  /** performance.now() clocks of the watchdog (shifted by flow-control pauses). */
  private spawnedAt = 0;
  private lastFrameMono = 0;
  private streamingSince = 0;
  private restartCount = 0;

  constructor(opts: SourceSupervisorOptions) {
    this.opts = opts;
    this.hooks = opts.hooks;
    this.log = opts.logger;
    this.sup = new Supervisor<StreamState>({
      what: `stream ${opts.id}`,
      table: SOURCE_TRANSITIONS,
      initial: 'stopped',
      initialReason: 'not_started',
      ...(opts.backoff !== undefined ? { backoff: opts.backoff } : {}),
      // No maxAttempts: a camera may come back at any time, so a stream never gives up.
      onTransition: (state, reason) => {
        this.log.info({ state, reason }, 'stream state');
        this.hooks.onState(state, reason);
      },
    });
  }

  get state(): StreamState {
    return this.sup.state;
  }

  get reason(): string {
    return this.sup.reason;
  }

  get started(): boolean {
    return this.isStarted;
  }

  /** Children respawned after a failure. */
  get restarts(): number {
    return this.restartCount;
  }

  /** pid of the running child (also its process group id), or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Spawns the first child; returns at once. */
  start(): void {
    if (this.isStarted || this.closing) return;
    this.isStarted = true;
    this.watchdog = setInterval(() => this.checkStall(), Math.max(100, Math.min(1000, this.opts.stallTimeoutMs / 4)));
    this.watchdog.unref();
    this.spawn('start');
  }

  /** A frame was cut from the current child's output. */
  frameCut(): void {
    this.lastFrameMono = performance.now();
    if (this.sup.state === 'connecting' && !this.closing) {
      this.streamingSince = this.lastFrameMono;
      this.sup.to('streaming', 'first_frame');
    }
  }

  /** Flow control was paused for `ms`: the watchdog's clocks stand still meanwhile. */
  shiftClocks(ms: number): void {
    this.lastFrameMono += ms;
    this.spawnedAt += ms;
  }

  /** First step of close(): no stall checks, no restart from now on. Idempotent. */
  beginClose(): void {
    this.closing = true;
    this.stopWatchdog();
    this.sup.cancelRetry();
  }

  /** Kills the child (whole group), if there is one, and resolves once it is gone. */
  async stopChild(): Promise<void> {
    const child = this.child;
    if (child === null) return;
    child.kill(this.opts.killGraceMs);
    await child.gone;
  }

  /** Last step of close(). */
  closed(): void {
    this.sup.to('stopped', 'closed');
  }

  private spawn(reason: 'start' | 'retry'): void {
    this.sup.to('connecting', reason);
    this.killedForStall = false;
    this.spawnedAt = performance.now();
    const child: FfmpegChild = new FfmpegChild(this.opts.ffmpegPath, this.opts.args, this.log, (exit) => this.onExit(child, exit));
    this.child = child;
    this.hooks.spawned(child);
  }

  private onExit(child: FfmpegChild, exit: ChildExit): void {
    if (this.child !== child) return;
    // Its last frames are still held (paused): hand them out first, then deal with the exit.
    if (this.hooks.holdExit(() => this.handleExit(child, exit))) return;
    this.handleExit(child, exit);
  }

  private handleExit(child: FfmpegChild, exit: ChildExit): void {
    if (this.child !== child) return;
    this.child = null;
    const left = this.hooks.childGone();
    const detail = { code: exit.code, signal: exit.signal, partialBytes: left.partialBytes, lastError: left.lastError };
    if (this.closing) {
      this.log.debug(detail, 'ffmpeg stopped');
      return;
    }
    if (this.opts.endsAtEof && exit.code === 0 && !this.killedForStall) {
      this.log.info(detail, 'file source reached end of file');
      this.stopWatchdog();
      this.sup.to('stopped', 'eof');
      return;
    }
    const reason: RestartReason = exit.spawnFailed ? 'spawn_failed' : this.killedForStall ? 'stalled' : 'exited';
    this.log.warn({ ...detail, reason }, 'ffmpeg exited; will restart');
    this.scheduleRestart(reason);
  }

  private scheduleRestart(reason: RestartReason): void {
    // A stream that streamed long enough is healthy again: start over from the smallest delay.
    if (this.streamingSince > 0 && performance.now() - this.streamingSince >= this.sup.backoff.resetAfterMs) this.sup.succeeded();
    this.streamingSince = 0;
    this.sup.to('backoff', reason);
    const delayMs = this.sup.scheduleRetry(() => {
      this.restartCount++;
      this.hooks.onRestart(reason);
      this.spawn('retry');
    });
    this.log.info({ delayMs, attempt: this.sup.attempts }, 'restart scheduled');
  }

  private checkStall(): void {
    if (this.child === null || this.killedForStall || this.closing || this.hooks.paused()) return;
    const now = performance.now();
    if (this.sup.state === 'connecting' && now - this.spawnedAt > this.opts.connectTimeoutMs) {
      this.stall(`no frame ${this.opts.connectTimeoutMs} ms after start`);
    } else if (this.sup.state === 'streaming' && now - this.lastFrameMono > this.opts.stallTimeoutMs) {
      this.stall(`no frame for ${this.opts.stallTimeoutMs} ms`);
    }
  }

  private stall(detail: string): void {
    this.killedForStall = true;
    this.log.warn({ detail }, 'stream stalled; killing ffmpeg');
    this.sup.to('stalled', 'no_frame_timeout');
    this.child?.kill(this.opts.killGraceMs);
  }

  private stopWatchdog(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    this.watchdog = null;
  }
}
