/**
 * One stream source: an ffmpeg child that decodes and scales the stream to raw RGB frames, cut
 * out of its stdout into pooled buffers and handed to the observer. This class wires three parts
 * that do not know each other:
 *
 * - SourceSupervisor (source-supervisor.ts): spawn, stall watchdog, kill, backoff, respawn, and
 *   the stream's state (connecting → streaming → (stalled →) backoff → …, stopped);
 * - SourceFlow (source-flow.ts): pause()/resume() backpressure, nothing lost or reordered;
 * - the data path here: FrameCutter → PtsMatcher → SourceFlow → observer.
 *
 * ptsMs comes from ffmpeg's `showinfo` filter (pts_time of the filter output, i.e. after the fps
 * cap; ffmpeg shifts it to start near 0 for each child, so it restarts after a reconnect and
 * keeps growing across file loops). showinfo's line for frame k reaches the stderr pipe before
 * frame k reaches stdout, and it is drained synchronously when the frame is cut (pipe-drain.ts),
 * so the match is exact; ptsMs is null when showinfo is off (`pts: 'none'`), when ffmpeg has no
 * pts for the frame, or when a line is missing (see pts-matcher.ts for the bounded wait).
 */
import type { Readable } from 'node:stream';
import type { Logger } from 'pino';
import type { Frame } from '../core/frame.js';
import type { DropReason, RestartReason, StreamState } from '../core/reasons.js';
import type { StreamConfig } from '../core/stream-config.js';
import type { BackoffOptions } from '../core/backoff.js';
import { buildFfmpegArgs } from './ffmpeg-args.js';
import type { FfmpegChild } from './ffmpeg-child.js';
import { FfmpegStderr } from './ffmpeg-stderr.js';
import { FrameCutter } from './frame-cutter.js';
import { FramePool, type PoolSlot } from './frame-pool.js';
import { drainPipeSync, pipeFd } from './pipe-drain.js';
import { PooledFrame } from './pooled-frame.js';
import { PtsMatcher } from './pts-matcher.js';
import { createLineRedactor } from '../core/redact.js';
import { SourceFlow } from './source-flow.js';
import { SourceSupervisor, type ExitLeftovers } from './source-supervisor.js';
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
  /** Decoder threads per child (`-threads`); 0 or absent = ffmpeg's choice. */
  readonly decodeThreads?: number;
  /** 'showinfo' (default): pts from ffmpeg's showinfo filter; 'none': ptsMs always null. */
  readonly pts?: 'showinfo' | 'none';
  /** seq of the first frame (default 0): a stream restarted with new settings continues its numbering. */
  readonly firstSeq?: number;
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
  private readonly width: number;
  private readonly height: number;
  private readonly observer: SourceObserver;
  private readonly log: Logger;
  private readonly pool: FramePool;
  private readonly cutter: FrameCutter;
  private readonly matcher: PtsMatcher<PooledFrame> | null;
  private readonly stderr: FfmpegStderr;
  private readonly flow: SourceFlow;
  private readonly supervisor: SourceSupervisor;
  /** Scratch buffer for synchronous stderr drains (allocated once). */
  private readonly stderrScratch = Buffer.allocUnsafe(16 * 1024);
  /** The current child's stderr, for drains; null when there is none or drains are unused. */
  private childStderr: Readable | null = null;
  private closePromise: Promise<void> | null = null;

  private seq = 0;
  private frames = 0;
  private dropped = 0;
  private lastFrameAt: number | null = null;

  constructor(cfg: StreamConfig, opts: FfmpegSourceOptions) {
    this.id = cfg.id;
    this.width = opts.width;
    this.height = opts.height;
    this.observer = opts.observer;
    // Throws SEGD_SOURCE_URL_INVALID before anything is started: a bad URL disturbs nothing else.
    this.parsed = parseSourceUrl(cfg.url, `streams[${cfg.id}].url`);
    this.log = opts.logger.child({ stream: cfg.id });
    this.seq = opts.firstSeq ?? 0;

    const fps = Math.min(cfg.expectedFps > 0 ? cfg.expectedFps : 10, cfg.maxFps ?? Infinity);
    const stallTimeoutMs = opts.stallTimeoutMs ?? Math.max(5000, Math.ceil((20 * 1000) / fps));
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
      ioTimeoutMs: opts.ioTimeoutMs ?? stallTimeoutMs,
      ...(opts.decodeThreads !== undefined ? { threads: opts.decodeThreads } : {}),
    });

    this.pool = new FramePool(opts.width * opts.height * 3, opts.poolSize);
    this.flow = new SourceFlow(opts.poolSize, {
      cut: (chunk, from) => this.cutter.push(chunk, from),
      emit: (frame) => this.emit(frame),
      drop: (reason) => this.drop(reason),
      resumed: (pausedForMs) => this.supervisor.shiftClocks(pausedForMs),
    });
    this.cutter = new FrameCutter(this.pool, {
      onFrame: (slot, index) => this.onCut(slot, index),
      onPoolExhausted: () => {
        this.seq++;
        this.drop('pool_exhausted');
      },
      shouldStop: () => this.flow.paused,
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
    this.supervisor = new SourceSupervisor({
      id: cfg.id,
      ffmpegPath: opts.ffmpegPath,
      args: this.args,
      endsAtEof: this.parsed.kind === 'file' && !cfg.loop,
      stallTimeoutMs,
      connectTimeoutMs: opts.connectTimeoutMs ?? Math.max(10_000, stallTimeoutMs),
      killGraceMs: opts.killGraceMs ?? 1500,
      ...(opts.backoff !== undefined ? { backoff: opts.backoff } : {}),
      logger: this.log,
      hooks: {
        spawned: (child) => this.onSpawned(child),
        holdExit: (handle) => this.flow.holdExit(handle),
        childGone: () => this.onChildGone(),
        paused: () => this.flow.paused,
        onState: (state, reason) => this.observer.onState(this.id, state, reason),
        onRestart: (reason) => this.observer.onRestart(this.id, reason),
      },
    });
  }

  get state(): StreamState {
    return this.supervisor.state;
  }

  /** The reason given with the last state change. */
  get stateReason(): string {
    return this.supervisor.reason;
  }

  get stats(): SourceStats {
    return { frames: this.frames, restarts: this.supervisor.restarts, lastFrameAt: this.lastFrameAt, dropped: this.dropped };
  }

  /** The seq the next frame cut will get. */
  get nextSeq(): number {
    return this.seq;
  }

  /** True between pause() and resume(). */
  get isPaused(): boolean {
    return this.flow.paused;
  }

  /** pid of the running ffmpeg child (also its process group id), or null. */
  get pid(): number | null {
    return this.supervisor.pid;
  }

  /** Spawns the first child and returns at once; an offline stream never blocks the caller. */
  start(): void {
    if (this.supervisor.started || this.closePromise !== null) return;
    this.log.info({ url: this.parsed.redacted, kind: this.parsed.kind }, 'source starting');
    this.supervisor.start();
  }

  /**
   * Backpressure: stop reading ffmpeg's stdout until resume(). ffmpeg then blocks on the full
   * pipe; no frame is delivered meanwhile and the stall watchdog does not count the time.
   * Idempotent; allowed before start() (the first child then starts paused).
   */
  pause(): void {
    this.flow.pause();
  }

  /** Undo pause(): parked and held frames go out first, on the next turn of the event loop. Idempotent. */
  resume(): void {
    this.flow.resume();
  }

  /** Stops for good: kills the child (whole group) and resolves once it is dead. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.shutDown();
    return this.closePromise;
  }

  private async shutDown(): Promise<void> {
    this.supervisor.beginClose(); // before the flow lets go of a held-back exit: no restart from it
    this.flow.close();
    await this.supervisor.stopChild();
    this.matcher?.flush();
    this.supervisor.closed();
  }

  private onSpawned(child: FfmpegChild): void {
    this.cutter.reset();
    this.matcher?.reset();
    this.stderr.reset();
    this.childStderr = this.matcher !== null ? child.stderr : null;
    child.stdout.on('data', (chunk: Buffer) => this.flow.onStdout(chunk));
    child.stderr.on('data', (chunk: Buffer) => this.stderr.push(chunk));
    // Still paused (or still handing out parked frames): the new child waits on its pipe.
    this.flow.attach(child.stdout);
  }

  private onChildGone(): ExitLeftovers {
    this.childStderr = null;
    this.flow.attach(null);
    this.stderr.end();
    // Frames waiting for their pts go out first; then a partial frame is discarded, never emitted.
    this.matcher?.flush();
    const partialBytes = this.cutter.reset();
    return { partialBytes, lastError: this.stderr.lastError };
  }

  private onCut(slot: PoolSlot, index: number): void {
    const frame = new PooledFrame(this.pool, slot, this.id, this.seq++, this.width, this.height, Date.now(), process.hrtime.bigint());
    this.supervisor.frameCut();
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
    frame.ptsMs = ptsMs;
    this.flow.deliver(frame);
  }

  private emit(frame: PooledFrame): void {
    this.frames++;
    this.lastFrameAt = frame.captureTimeMs;
    this.observer.onFrame(frame);
  }

  private drop(reason: DropReason): void {
    this.dropped++;
    this.observer.onDrop(this.id, reason);
  }
}
