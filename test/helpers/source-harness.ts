/**
 * Test-side helpers for the ffmpeg sources: a recording observer, an in-memory pino logger,
 * a polling wait (a hang guard, not a timing assertion) and a process-liveness check.
 */
import { Writable } from 'node:stream';
import { pino, type Logger } from 'pino';
import type { Frame } from '../../pipeline/core/frame.js';
import type { DropReason, RestartReason, StreamState } from '../../pipeline/core/reasons.js';
import { FfmpegSource, type FfmpegSourceOptions, type SourceObserver } from '../../pipeline/sources/index.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { FFMPEG_PATH } from './paths.js';

export interface SeenFrame {
  readonly streamId: string;
  readonly seq: number;
  readonly ptsMs: number | null;
  readonly width: number;
  readonly height: number;
  readonly bytes: number;
}

/** Records everything a source reports; releases frames at once unless `hold` is set. */
export class RecordingObserver implements SourceObserver {
  readonly frames: SeenFrame[] = [];
  readonly states: { state: StreamState; reason: string }[] = [];
  readonly restarts: RestartReason[] = [];
  readonly drops: DropReason[] = [];
  /** Frames kept unreleased while `hold` is true. */
  readonly held: Frame[] = [];
  hold = false;
  /** Called after each frame is recorded (e.g. to pause the source at the n-th frame). */
  afterFrame: ((frame: SeenFrame) => void) | null = null;
  /** Optional copy of every frame's pixels (for byte comparisons). */
  keepPixels = false;
  readonly pixels: Uint8Array[] = [];

  onFrame(frame: Frame): void {
    const seen: SeenFrame = {
      streamId: frame.streamId,
      seq: frame.seq,
      ptsMs: frame.ptsMs,
      width: frame.width,
      height: frame.height,
      bytes: frame.data.length,
    };
    this.frames.push(seen);
    if (this.keepPixels) this.pixels.push(frame.data.slice());
    if (this.hold) this.held.push(frame);
    else frame.release();
    this.afterFrame?.(seen);
  }
  onState(_id: string, state: StreamState, reason: string): void {
    this.states.push({ state, reason });
  }
  onRestart(_id: string, reason: RestartReason): void {
    this.restarts.push(reason);
  }
  onDrop(_id: string, reason: DropReason): void {
    this.drops.push(reason);
  }
  releaseHeld(): void {
    for (const f of this.held.splice(0)) f.release();
  }
  /** A summary for failure messages. */
  describe(): string {
    return `states=${this.states.map((s) => `${s.state}(${s.reason})`).join(',')} frames=${this.frames.length} restarts=${this.restarts.join(',')} drops=${this.drops.length}`;
  }
  /** States seen, in order, e.g. ['connecting', 'streaming', 'backoff', ...]. */
  stateNames(): StreamState[] {
    return this.states.map((s) => s.state);
  }
}

/**
 * Polls `pred` every 25 ms; rejects with `what` (and `detail()`, e.g. the states seen) after
 * `timeoutMs`. A hang guard only, never a timing assertion.
 */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 60_000, detail?: () => string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${detail ? `; ${detail()}` : ''}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** A pino logger writing JSON lines into `lines` (for asserting what gets logged). */
export function memoryLogger(level: pino.LevelWithSilent = 'debug'): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString('utf8').split('\n')) if (l !== '') lines.push(l);
      cb();
    },
  });
  return { logger: pino({ level }, dest), lines };
}

/** True while a process with this pid exists (signal 0 probes without killing). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A StreamConfig with test-friendly defaults. */
export function streamConfig(id: string, url: string, over: Partial<StreamConfig> = {}): StreamConfig {
  return {
    id,
    url,
    loop: true,
    realtime: true,
    rtspTransport: 'tcp',
    expectedFps: 10,
    maxFps: null,
    queueDepth: 1,
    zones: [],
    ...over,
  };
}

/** An FfmpegSource on the bundled ffmpeg that reports to a fresh RecordingObserver and logs (debug) into memory. */
export function recordedSource(
  cfg: StreamConfig,
  opts: Omit<FfmpegSourceOptions, 'ffmpegPath' | 'logger' | 'observer'> & Partial<FfmpegSourceOptions>,
): { src: FfmpegSource; obs: RecordingObserver; lines: string[] } {
  const obs = new RecordingObserver();
  const { logger, lines } = memoryLogger('debug');
  const src = new FfmpegSource(cfg, { ffmpegPath: FFMPEG_PATH, logger, observer: obs, ...opts });
  return { src, obs, lines };
}
