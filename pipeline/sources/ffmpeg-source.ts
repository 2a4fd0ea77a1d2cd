/**
 * One supervised ffmpeg child per stream: spawn, cut frames, watch for stalls, kill the whole
 * process group, back off, respawn. States: connecting → streaming → (stalled →) backoff →
 * connecting …, and stopped (file EOF without loop, or close()).
 *
 * Flow control, orthogonal to the state: pause()/resume() (backpressure from a consumer that
 * paces an unpaced file). While paused, stdout is not read, so the OS pipe fills and ffmpeg
 * blocks in write() at no CPU cost. Nothing is lost or reordered: cutting stops at the frame
 * boundary (the rest of the read is held, uncut), frames that were waiting for their pts are
 * parked, and stdout data Node still hands over (it resumes a child's pipes when the child
 * exits) is held too; resume() hands all of it out, oldest first, before reading on. A child
 * that exits meanwhile is dealt with (EOF, restart) only after that. A paused source is not
 * stalled: the watchdog does not run its clocks while paused (see checkStall()).
 *
 * ptsMs comes from ffmpeg's `showinfo` filter (pts_time of the filter output, i.e. after the fps
 * cap; ffmpeg shifts it to start near 0 for each child, so it restarts after a reconnect and
 * keeps growing across file loops). showinfo's line for frame k reaches the stderr pipe before
 * frame k reaches stdout, and it is drained synchronously when the frame is cut (pipe-drain.ts),
 * so the match is exact; ptsMs is null when showinfo is off (`pts: 'none'`), when ffmpeg has no
 * pts for the frame, or when a line is missing (see pts-matcher.ts for the bounded wait).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Frame } from '../core/frame.js';
import type { DropReason, RestartReason, StreamState } from '../core/reasons.js';
import { LatestQueue } from '../batching/latest-queue.js';
import type { StreamConfig } from '../core/stream-config.js';
import { Backoff, type BackoffOptions } from '../core/backoff.js';
import { buildFfmpegArgs } from './ffmpeg-args.js';
import { FfmpegStderr } from './ffmpeg-stderr.js';
import { FrameCutter } from './frame-cutter.js';
import { FramePool, type PoolSlot } from './frame-pool.js';
import { PooledFrame } from './pooled-frame.js';
import { drainPipeSync, pipeFd } from './pipe-drain.js';
import { PtsMatcher } from './pts-matcher.js';
import { createLineRedactor } from '../core/redact.js';
import { parseSourceUrl, type ParsedSource } from './source-url.js';

export interface SourceObserver {
  /** A decoded frame; the callee owns it and must call frame.release() exactly once. */
  onFrame(frame: Frame): void;
  /** Every state change, with a short reason ('start', 'first_frame', 'eof', 'closed', ...). */
  onState(id: string, state: StreamState, reason: string): void;
  /** A new ffmpeg child was spawned to replace a failed one. */
  onRestart(id: string, reason: RestartReason): void;
  onDrop(id: string, reason: DropReason): void;
}

export interface FfmpegSourceOptions {
  readonly ffmpegPath: string;
  /** Output frame size (the model input); ffmpeg scales to it. */
  readonly width: number;
  readonly height: number;
  /** Frame buffers preallocated for this stream (frames in flight downstream + the one being cut). */
  readonly poolSize: number;
  readonly logger: Logger;
  readonly backoff?: BackoffOptions;
  /** No frame for this long while streaming → stalled. Default max(5 s, 20 frame intervals). */
  readonly stallTimeoutMs?: number;
  /** No first frame this long after spawn → stalled. Default max(10 s, stallTimeoutMs). */
  readonly connectTimeoutMs?: number;
  /** SIGTERM → SIGKILL grace when killing the child. Default 1500 ms. */
  readonly killGraceMs?: number;
  /** Network I/O timeout given to ffmpeg (rtsp -stimeout, http -rw_timeout). Default stallTimeoutMs. */
  readonly ioTimeoutMs?: number;
  /** 'showinfo' (default): pts from ffmpeg's showinfo filter; 'none': ptsMs always null. */
  readonly pts?: 'showinfo' | 'none';
  readonly observer: SourceObserver;
}

export interface SourceStats {
  /** Frames delivered to the observer. */
  readonly frames: number;
  /** Children respawned after a failure. */
  readonly restarts: number;
  /** Epoch ms of the last delivered frame; null before the first. */
  readonly lastFrameAt: number | null;
  /** Frames cut but dropped here (pool exhausted, shutdown). */
  readonly dropped: number;
}

export class FfmpegSource {
  readonly id: string;
  readonly parsed: ParsedSource;
  readonly args: readonly string[];
  private readonly cfg: StreamConfig;
  private readonly opts: FfmpegSourceOptions;
  private readonly observer: SourceObserver;
  private readonly log: Logger;
  private readonly pool: FramePool;
  private readonly cutter: FrameCutter;
  private readonly matcher: PtsMatcher<PooledFrame> | null;
  private readonly stderr: FfmpegStderr;
  private readonly backoff: Backoff;
  private readonly stallTimeoutMs: number;
  private readonly connectTimeoutMs: number;
  private readonly killGraceMs: number;
  /** Scratch buffer for synchronous stderr drains (allocated once). */
  private readonly stderrScratch = Buffer.allocUnsafe(16 * 1024);
  /** The current child's stderr, for drains; null when there is none or drains are unused. */
  private childStderr: Readable | null = null;
  /** The current child's stdout (paused and resumed for backpressure); null when there is none. */
  private childStdout: Readable | null = null;

  /** Backpressure: stdout is not read and frames are parked, not delivered. */
  private paused = false;
  /** performance.now() when pause() took effect: the watchdog clocks are shifted by the pause on resume(). */
  private pausedAt = 0;
  /**
   * Frames cut while paused (or waiting behind such frames), oldest first. Each holds one pool
   * slot, so at most poolSize: the ring never evicts.
   */
  private readonly parked: LatestQueue<PooledFrame>;
  /**
   * stdout bytes read but not cut yet (paused mid-read, or data flushed by Node at the child's
   * exit), oldest first; cutting resumes at heldFrom in the first. Bounded by what the paused
   * pipe could hold: the OS pipe plus one stream buffer.
   */
  private readonly held: Buffer[] = [];
  private heldFrom = 0;
  /** The child's exit, seen while frames were still held: handled once they are all out. */
  private deferredExit: { child: ChildProcess; code: number | null; signal: NodeJS.Signals | null } | null = null;
  private flushTimer: NodeJS.Immediate | null = null;

  private st: StreamState = 'stopped';
  private stReason = 'not_started';
  private started = false;
  private closing = false;
  private closePromise: Promise<void> | null = null;

  private child: ChildProcess | null = null;
  private childGone: Promise<void> = Promise.resolve();
  private killedForStall = false;
  private spawnFailed = false;
  private spawnedAt = 0;
  private streamingSince = 0;
  private lastFrameMono = 0;
  private watchdog: NodeJS.Timeout | null = null;
  private backoffTimer: NodeJS.Timeout | null = null;
  private graceTimer: NodeJS.Timeout | null = null;
  private pendingRestart: RestartReason | null = null;

  private seq = 0;
  private frames = 0;
  private restarts = 0;
  private dropped = 0;
  private lastFrameAt: number | null = null;

  constructor(cfg: StreamConfig, opts: FfmpegSourceOptions) {
    this.id = cfg.id;
    this.cfg = cfg;
    this.opts = opts;
    this.observer = opts.observer;
    // Throws SEGD_SOURCE_URL_INVALID before anything is started: a bad URL disturbs nothing else.
    this.parsed = parseSourceUrl(cfg.url, `streams[${cfg.id}].url`);
    this.log = opts.logger.child({ stream: cfg.id });

    const fps = Math.min(cfg.expectedFps > 0 ? cfg.expectedFps : 10, cfg.maxFps ?? Infinity);
    this.stallTimeoutMs = opts.stallTimeoutMs ?? Math.max(5000, Math.ceil((20 * 1000) / fps));
    this.connectTimeoutMs = opts.connectTimeoutMs ?? Math.max(10_000, this.stallTimeoutMs);
    this.killGraceMs = opts.killGraceMs ?? 1500;
    this.backoff = new Backoff(opts.backoff);

    const usePts = (opts.pts ?? 'showinfo') === 'showinfo';
    this.args = buildFfmpegArgs({
      source: this.parsed,
      loop: cfg.loop,
      realtime: cfg.realtime,
      rtspTransport: cfg.rtspTransport,
      width: opts.width,
      height: opts.height,
      maxFps: cfg.maxFps,
      showinfo: usePts,
      ioTimeoutMs: opts.ioTimeoutMs ?? this.stallTimeoutMs,
    });

    this.pool = new FramePool(opts.width * opts.height * 3, opts.poolSize);
    this.parked = new LatestQueue<PooledFrame>(opts.poolSize);
    this.cutter = new FrameCutter(this.pool, {
      onFrame: (slot, index) => this.onCut(slot, index),
      onPoolExhausted: () => {
        this.seq++;
        this.drop('pool_exhausted');
      },
      shouldStop: () => this.paused,
    });
    this.matcher = usePts
      ? new PtsMatcher<PooledFrame>((frame, ptsMs) => this.deliver(frame, ptsMs), { drain: () => this.drainStderr() })
      : null;
    const matcher = this.matcher;
    this.stderr = new FfmpegStderr({
      logger: this.log,
      redact: createLineRedactor(cfg.url),
      ...(matcher !== null ? { onShowinfo: (n: number, ptsMs: number | null) => matcher.onPts(n, ptsMs) } : {}),
    });
  }

  get state(): StreamState {
    return this.st;
  }

  /** The reason given with the last state change. */
  get stateReason(): string {
    return this.stReason;
  }

  get stats(): SourceStats {
    return { frames: this.frames, restarts: this.restarts, lastFrameAt: this.lastFrameAt, dropped: this.dropped };
  }

  /** True between pause() and resume(). */
  get isPaused(): boolean {
    return this.paused;
  }

  /** pid of the running ffmpeg child (also its process group id), or null. */
  get pid(): number | null {
    return this.child?.pid ?? null;
  }

  /** Spawns the first child and returns at once; an offline stream never blocks the caller. */
  start(): void {
    if (this.started || this.closing) return;
    this.started = true;
    this.log.info({ url: this.parsed.redacted, kind: this.parsed.kind }, 'source starting');
    this.watchdog = setInterval(() => this.checkStall(), Math.max(100, Math.min(1000, this.stallTimeoutMs / 4)));
    this.watchdog.unref();
    this.spawnChild('start');
  }

  /**
   * Backpressure: stop reading ffmpeg's stdout until resume(). ffmpeg then blocks on the full
   * pipe; no frame is delivered meanwhile and the stall watchdog does not count the time.
   * Idempotent; allowed before start() (the first child then starts paused).
   */
  pause(): void {
    if (this.paused || this.closing) return;
    this.paused = true;
    this.pausedAt = performance.now();
    this.childStdout?.pause();
  }

  /**
   * Undo pause(): what was parked and held goes out first (on the next turn of the event loop, so
   * a consumer calling resume() is never re-entered), then stdout is read again. Idempotent.
   */
  resume(): void {
    if (!this.paused || this.closing) return;
    this.paused = false;
    // The watchdog's clocks stand still while paused: a paused source is not stalled.
    const pausedFor = performance.now() - this.pausedAt;
    this.lastFrameMono += pausedFor;
    this.spawnedAt += pausedFor;
    if (this.backlogged()) this.flushTimer ??= setImmediate(this.flushBacklog);
    else this.childStdout?.resume();
  }

  /** Stops for good: kills the child (whole group) and resolves once it is dead. Idempotent. */
  close(): Promise<void> {
    if (this.closePromise !== null) return this.closePromise;
    this.closing = true;
    this.clearTimers();
    // A paused stdout would never reach EOF, and the child's 'close' waits for it.
    this.paused = false;
    this.childStdout?.resume();
    if (this.flushTimer !== null) clearImmediate(this.flushTimer);
    this.flushTimer = null;
    this.held.length = 0; // uncut bytes: like the rest of the pipe, never frames
    this.parked.clear((frame) => {
      frame.release();
      this.drop('shutdown');
    });
    const exit = this.deferredExit;
    this.deferredExit = null;
    if (exit !== null) this.onChildGone(exit.child, exit.code, exit.signal);
    this.closePromise = (async () => {
      if (this.child !== null) {
        this.killChild();
        await this.childGone;
      }
      this.matcher?.flush();
      this.setState('stopped', 'closed');
    })();
    return this.closePromise;
  }

  private spawnChild(reason: 'start' | 'retry'): void {
    this.setState('connecting', reason);
    this.cutter.reset();
    this.matcher?.reset();
    this.stderr.reset();
    this.killedForStall = false;
    this.spawnFailed = false;
    this.spawnedAt = performance.now();

    // detached: own process group, so a kill reaches anything ffmpeg may have started.
    const child = spawn(this.opts.ffmpegPath, this.args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    let gone = false;
    let resolveGone!: () => void;
    this.childGone = new Promise<void>((r) => (resolveGone = r));
    const onGone = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (gone) return;
      gone = true;
      this.onChildGone(child, code, signal);
      resolveGone();
    };

    const stdout = child.stdout;
    const stderr = child.stderr;
    if (stdout === null || stderr === null) throw new Error('ffmpeg spawned without stdio pipes');
    this.childStderr = this.matcher !== null ? stderr : null;
    this.childStdout = stdout;
    stdout.on('data', (chunk: Buffer) => this.onStdout(chunk));
    // Still paused (or still handing out parked frames): the new child waits on its pipe.
    if (this.paused || this.backlogged()) stdout.pause();
    stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    // Pipe errors (EPIPE on a dying child) surface through 'close'; they must not throw.
    stdout.on('error', (err) => this.log.debug({ err }, 'ffmpeg stdout error'));
    stderr.on('error', (err) => this.log.debug({ err }, 'ffmpeg stderr error'));
    child.on('error', (err) => {
      if (child.pid === undefined) {
        this.spawnFailed = true;
        this.log.error({ err: { message: err.message } }, 'ffmpeg spawn failed');
        onGone(null, null);
      } else {
        this.log.warn({ err: { message: err.message } }, 'ffmpeg child error');
      }
    });
    // 'close' (not 'exit'): all stdout has been read, so the last complete frame is not lost.
    child.on('close', (code, signal) => onGone(code, signal));
    this.log.debug({ pid: child.pid }, 'ffmpeg spawned');
  }

  private onCut(slot: PoolSlot, index: number): void {
    const frame = new PooledFrame(
      this.pool,
      slot,
      this.id,
      this.seq++,
      this.opts.width,
      this.opts.height,
      Date.now(),
      process.hrtime.bigint(),
    );
    this.lastFrameMono = performance.now();
    if (this.st !== 'streaming' && this.child !== null && !this.closing) {
      this.streamingSince = this.lastFrameMono;
      this.setState('streaming', 'first_frame');
    }
    if (this.matcher !== null) this.matcher.onFrame(index, frame);
    else this.deliver(frame, null);
  }

  /** Pulls stderr already written by ffmpeg (its showinfo line for the frame just cut). */
  private drainStderr(): void {
    const stream = this.childStderr;
    if (stream === null || stream.readableEnded || stream.destroyed) return;
    // fd looked up each time: it is gone (null) once Node closed the pipe, so a reused fd number is never read.
    const fd = pipeFd(stream);
    if (fd !== null) drainPipeSync(fd, this.stderrScratch, (chunk) => this.stderr.push(chunk));
  }

  private deliver(frame: PooledFrame, ptsMs: number | null): void {
    if (this.closing) {
      frame.release();
      this.drop('shutdown');
      return;
    }
    frame.ptsMs = ptsMs;
    // Paused, or older frames still parked: park this one too, so order is kept.
    if (this.paused || this.parked.length > 0) {
      const evicted = this.parked.push(frame);
      // Cannot happen (every parked frame holds one of poolSize slots); counted if it ever does.
      if (evicted !== undefined) {
        evicted.release();
        this.drop('queue_full');
      }
      return;
    }
    this.emit(frame);
  }

  private onStdout(chunk: Buffer): void {
    if (this.paused || this.held.length > 0) {
      this.held.push(chunk);
      return;
    }
    const used = this.cutter.push(chunk);
    if (used < chunk.length) {
      this.held.push(chunk); // paused at a frame boundary inside this read
      this.heldFrom = used;
    }
  }

  private backlogged(): boolean {
    return this.parked.length > 0 || this.held.length > 0 || this.deferredExit !== null;
  }

  /** After resume(): parked frames, then held bytes, then a deferred exit; stops if paused again. */
  private readonly flushBacklog = (): void => {
    this.flushTimer = null;
    // The consumer may pause() again inside onFrame: stop there, the rest stays put.
    while (!this.paused && !this.closing) {
      const frame = this.parked.shift();
      if (frame === undefined) break;
      this.emit(frame);
    }
    while (!this.paused && !this.closing && this.parked.length === 0 && this.held.length > 0) {
      const chunk = this.held[0] as Buffer;
      const used = this.cutter.push(chunk, this.heldFrom);
      if (used < chunk.length) {
        this.heldFrom = used;
        break;
      }
      this.held.shift();
      this.heldFrom = 0;
    }
    // Not paused here means nothing is parked or held any more (frames park only while paused).
    if (this.paused || this.closing) return;
    const exit = this.deferredExit;
    this.deferredExit = null;
    if (exit !== null) this.onChildGone(exit.child, exit.code, exit.signal);
    else this.childStdout?.resume();
  };

  private emit(frame: PooledFrame): void {
    this.frames++;
    this.lastFrameAt = frame.captureTimeMs;
    this.observer.onFrame(frame);
  }

  private drop(reason: DropReason): void {
    this.dropped++;
    this.observer.onDrop(this.id, reason);
  }

  private checkStall(): void {
    // Paused: no frame can arrive because we are not reading, so silence proves nothing.
    if (this.child === null || this.killedForStall || this.closing || this.paused) return;
    const now = performance.now();
    if (this.st === 'connecting' && now - this.spawnedAt > this.connectTimeoutMs) {
      this.stall(`no frame ${this.connectTimeoutMs} ms after start`);
    } else if (this.st === 'streaming' && now - this.lastFrameMono > this.stallTimeoutMs) {
      this.stall(`no frame for ${this.stallTimeoutMs} ms`);
    }
  }

  private stall(detail: string): void {
    this.killedForStall = true;
    this.log.warn({ detail }, 'stream stalled; killing ffmpeg');
    this.setState('stalled', 'no_frame_timeout');
    this.killChild();
  }

  /** SIGTERM the process group, SIGKILL it after the grace period. */
  private killChild(): void {
    const pid = this.child?.pid;
    if (pid === undefined || this.graceTimer !== null) return;
    const signalGroup = (sig: NodeJS.Signals): void => {
      try {
        process.kill(-pid, sig);
      } catch {
        // ESRCH: already gone.
      }
    };
    signalGroup('SIGTERM');
    this.graceTimer = setTimeout(() => signalGroup('SIGKILL'), this.killGraceMs);
  }

  private onChildGone(child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (this.child !== child) return;
    // Its last frames are still held (paused): hand them out first, then deal with the exit.
    if (this.held.length > 0 && !this.closing) {
      this.deferredExit = { child, code, signal };
      return;
    }
    this.child = null;
    this.childStderr = null;
    this.childStdout = null;
    if (this.graceTimer !== null) {
      clearTimeout(this.graceTimer);
      this.graceTimer = null;
    }
    this.stderr.end();
    // Frames waiting for their pts go out first; then a partial frame is discarded, never emitted.
    this.matcher?.flush();
    const partial = this.cutter.reset();
    const exit = { code, signal, partialBytes: partial, lastError: this.stderr.lastError };
    if (this.closing) {
      this.log.debug(exit, 'ffmpeg stopped');
      return;
    }
    if (this.parsed.kind === 'file' && !this.cfg.loop && code === 0 && !this.killedForStall) {
      this.log.info(exit, 'file source reached end of file');
      this.clearTimers();
      this.setState('stopped', 'eof');
      return;
    }
    const reason: RestartReason = this.spawnFailed ? 'spawn_failed' : this.killedForStall ? 'stalled' : 'exited';
    this.log.warn({ ...exit, reason }, 'ffmpeg exited; will restart');
    this.enterBackoff(reason);
  }

  private enterBackoff(reason: RestartReason): void {
    // A stream that streamed long enough is healthy again: start over from the smallest delay.
    if (this.streamingSince > 0 && performance.now() - this.streamingSince >= this.backoff.resetAfterMs) {
      this.backoff.reset();
    }
    this.streamingSince = 0;
    const delayMs = this.backoff.next();
    this.pendingRestart = reason;
    this.setState('backoff', reason);
    this.log.info({ delayMs, attempt: this.backoff.attempts }, 'restart scheduled');
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      if (this.closing) return;
      const why = this.pendingRestart ?? reason;
      this.pendingRestart = null;
      this.restarts++;
      this.observer.onRestart(this.id, why);
      this.spawnChild('retry');
    }, delayMs);
  }

  private setState(state: StreamState, reason: string): void {
    if (this.st === state && this.stReason === reason) return;
    this.st = state;
    this.stReason = reason;
    this.log.info({ state, reason }, 'stream state');
    this.observer.onState(this.id, state, reason);
  }

  private clearTimers(): void {
    if (this.watchdog !== null) clearInterval(this.watchdog);
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.watchdog = null;
    this.backoffTimer = null;
  }
}
