/**
 * The running streams: per stream an ffmpeg source, its batcher queue and its status record
 * (with its metric series). Adds, changes and removes one stream at a time without touching the
 * others, serialised per stream id (KeyedSerial): two API calls on one stream never interleave.
 *
 * - add: status + metrics registered, batcher queue added, source started.
 * - change: the source is replaced (ffmpeg child killed, a new one spawned with the new settings),
 *   its queue rebuilt; the stream keeps its seq numbering and its metric series.
 * - remove: the source closed (resolves once the ffmpeg child is dead), queued frames released,
 *   status and metric series dropped.
 * Every completed change is reported through `onChanged` (the publisher's stream-list update).
 */
import { isDeepStrictEqual } from 'node:util';
import type { Logger } from 'pino';
import type { Batcher, BatcherStream } from '../../pipeline/batching/batcher.js';
import type { Frame } from '../../pipeline/core/frame.js';
import type { StreamChange } from '../../pipeline/core/reasons.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';
import { FfmpegSource, pacingOf, type SourceObserver } from '../../pipeline/sources/index.js';
import type { StreamStatus, StreamStatusBoard } from '../stream-status.js';
import { ControlError } from './control-error.js';
import { KeyedSerial } from './keyed-serial.js';

/**
 * Frame buffers per source beyond the queue's frames: one being cut by ffmpeg, one being handed
 * over, and one that the pts matcher (sources/pts-matcher.ts) may hold for a turn of the event
 * loop while its showinfo line is read; with only 2, a loaded bench run dropped a frame as
 * `pool_exhausted`. A paused (backpressure) source parks at most these frames too.
 */
const POOL_EXTRA_FRAMES = 3;

/** Operations one stream may have waiting (the API answers `busy` beyond). */
const MAX_PENDING_PER_STREAM = 8;

export interface StreamRegistryOptions {
  readonly batcher: Batcher;
  readonly board: StreamStatusBoard;
  readonly ffmpegPath: string;
  /** ffmpeg decoder threads per stream (config ffmpeg.threads; 0 = ffmpeg's choice). */
  readonly decodeThreads: number;
  readonly logger: Logger;
  /** The size frames are scaled to: the serving model's input. */
  readonly inputSize: () => { readonly width: number; readonly height: number };
  readonly maxStreams: number;
  /** After every add, change or remove took effect. */
  readonly onChanged: (change: StreamChange, id: string) => void;
  /**
   * Checks a stream to be added or changed against what only the running daemon knows (the serving
   * model's classes and size, for its zones); throws a ControlError to refuse it, before anything changes.
   */
  readonly check?: (cfg: StreamConfig) => void;
}

/** Limits the API enforces; a config reload (a whole, validated file) may pass through them transiently. */
export interface OperationLimits {
  readonly limits?: boolean;
}

interface Running {
  cfg: StreamConfig;
  source: FfmpegSource;
}

export class StreamRegistry {
  private readonly running = new Map<string, Running>();
  private readonly serial = new KeyedSerial(MAX_PENDING_PER_STREAM, (id) => `stream ${id}`);
  private closing: Promise<void> | null = null;

  constructor(private readonly opts: StreamRegistryOptions) {}

  /** The streams of the config at start-up: their queues are in the batcher already; starts their sources. */
  startInitial(streams: readonly StreamConfig[]): void {
    for (const cfg of streams) this.running.set(cfg.id, { cfg, source: this.createSource(cfg, 0) });
    // start() never blocks: an offline camera does not hold up the others.
    for (const r of this.running.values()) r.source.start();
  }

  /** Queue settings for the batcher, bound to this stream's current source. */
  batcherStream(cfg: StreamConfig): BatcherStream {
    return batcherStreamOf(cfg, (id) => this.running.get(id)?.source);
  }

  /** The stream's current source (backpressure callbacks look it up when they fire). */
  sourceOf(id: string): FfmpegSource | undefined {
    return this.running.get(id)?.source;
  }

  get size(): number {
    return this.running.size;
  }

  /** Current streams with their settings, in the order they were added. */
  list(): readonly StreamConfig[] {
    return [...this.running.values()].map((r) => r.cfg);
  }

  get(id: string): StreamConfig | undefined {
    return this.running.get(id)?.cfg;
  }

  add(cfg: StreamConfig, op: OperationLimits = {}): Promise<StreamConfig> {
    return this.serial.run(cfg.id, async () => {
      this.assertOpen();
      if (this.running.has(cfg.id)) {
        throw new ControlError('stream_exists', 'id', 'an id no stream has', `stream ${cfg.id} already exists; change it with PUT or PATCH /api/streams/${cfg.id}`);
      }
      const max = this.opts.maxStreams;
      if (op.limits !== false && this.running.size >= max) {
        throw new ControlError('too_many_streams', null, `at most ${max} streams`, `the daemon already serves ${this.running.size} streams (the most one daemon serves)`);
      }
      this.opts.check?.(cfg);
      this.opts.board.add(cfg);
      this.opts.batcher.addStream(this.batcherStream(cfg));
      const source = this.createSource(cfg, 0);
      this.running.set(cfg.id, { cfg, source });
      source.start();
      this.opts.logger.info({ stream: cfg.id }, 'stream added');
      this.opts.onChanged('added', cfg.id);
      return cfg;
    });
  }

  /** Replaces a stream's settings; only this stream restarts, and only when something changed. */
  replace(cfg: StreamConfig): Promise<{ readonly cfg: StreamConfig; readonly changed: boolean }> {
    return this.update(cfg.id, () => cfg);
  }

  /** `next` computes the new settings from the current ones, under the stream's lock (PATCH). */
  update(id: string, next: (current: StreamConfig) => StreamConfig): Promise<{ readonly cfg: StreamConfig; readonly changed: boolean }> {
    return this.serial.run(id, async () => {
      this.assertOpen();
      const r = this.running.get(id);
      if (r === undefined) throw unknownStream(id, this.list());
      const cfg = next(r.cfg);
      if (isDeepStrictEqual(cfg, r.cfg)) return { cfg, changed: false };
      this.opts.check?.(cfg);
      await this.restart(r, cfg);
      this.opts.logger.info({ stream: id }, 'stream changed');
      this.opts.onChanged('changed', id);
      return { cfg, changed: true };
    });
  }

  remove(id: string, op: OperationLimits = {}): Promise<void> {
    return this.serial.run(id, async () => {
      this.assertOpen();
      const r = this.running.get(id);
      if (r === undefined) throw unknownStream(id, this.list());
      if (op.limits !== false && this.running.size === 1) {
        throw new ControlError('last_stream', null, 'at least one stream (the config needs one)', `stream ${id} is the last one; add another first`);
      }
      this.running.delete(id);
      // The source first: its last state changes and drops land on records that still exist.
      await r.source.close();
      this.opts.batcher.removeStream(id);
      this.opts.board.remove(id);
      this.opts.logger.info({ stream: id }, 'stream removed');
      this.opts.onChanged('removed', id);
    });
  }

  /** Every stream restarts with its settings (the model's input size changed), one by one. */
  restartAll(): Promise<void> {
    return Promise.all(
      [...this.running.keys()].map((id) =>
        this.serial.run(id, async () => {
          const r = this.running.get(id);
          if (r !== undefined && this.closing === null) await this.restart(r, r.cfg);
        }),
      ),
    ).then(() => undefined);
  }

  /** Stops every source (ffmpeg children dead); later operations are refused (`stopping`). Idempotent. */
  close(): Promise<void> {
    this.closing ??= Promise.all([...this.running.values()].map((r) => r.source.close())).then(() => undefined);
    return this.closing;
  }

  private async restart(r: Running, cfg: StreamConfig): Promise<void> {
    const firstSeq = r.source.nextSeq;
    await r.source.close();
    this.opts.batcher.removeStream(cfg.id);
    this.opts.batcher.addStream(this.batcherStream(cfg));
    this.opts.board.get(cfg.id).update(cfg);
    r.cfg = cfg;
    r.source = this.createSource(cfg, firstSeq);
    r.source.start();
  }

  private createSource(cfg: StreamConfig, firstSeq: number): FfmpegSource {
    const { width, height } = this.opts.inputSize();
    return new FfmpegSource(cfg, {
      ffmpegPath: this.opts.ffmpegPath,
      width,
      height,
      poolSize: cfg.queueDepth + POOL_EXTRA_FRAMES,
      decodeThreads: this.opts.decodeThreads,
      logger: this.opts.logger,
      firstSeq,
      observer: sourceObserver(this.opts.board.get(cfg.id), this.opts.batcher),
    });
  }

  private assertOpen(): void {
    if (this.closing !== null) throw new ControlError('stopping', null, 'a running daemon', 'the daemon is stopping');
  }
}

/**
 * A stream's batcher queue. Pacing is decided once per stream (sources/pacing.ts): an unpaced file
 * is paused while its queue is full and resumed when a batch takes its frame; every other source
 * is newest-wins. `sourceOf` is asked when the callback fires: a changed stream has a new source.
 */
export function batcherStreamOf(cfg: StreamConfig, sourceOf: (id: string) => FfmpegSource | undefined): BatcherStream {
  return {
    id: cfg.id,
    queueDepth: cfg.queueDepth,
    onQueueSpace:
      pacingOf(cfg) === 'backpressure'
        ? (hasRoom: boolean) => {
            const source = sourceOf(cfg.id);
            if (hasRoom) source?.resume();
            else source?.pause();
          }
        : undefined,
  };
}

function unknownStream(id: string, streams: readonly StreamConfig[]): ControlError {
  const ids = streams.map((s) => s.id);
  return new ControlError('unknown_stream', 'id', `one of: ${ids.join(', ')}`, `no stream ${id}`);
}

/** One observer per source, bound to that stream's status record (no lookups per frame). */
function sourceObserver(status: StreamStatus, batcher: Batcher): SourceObserver {
  const sm = status.metrics;
  return {
    onFrame(frame: Frame): void {
      sm.frameDecoded();
      batcher.offer(frame);
    },
    onState(_id, state, reason): void {
      status.setState(state, reason);
    },
    onRestart(_id, reason): void {
      sm.restarted(reason);
    },
    onDrop(_id, reason): void {
      status.dropped(reason);
    },
  };
}
