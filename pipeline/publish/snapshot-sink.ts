/**
 * Snapshots (docs/home-assistant.md): on a zone's enter, the frame with its mask blended and the
 * entering zones outlined, encoded off the event loop (snapshot-encoder.ts) and handed to MQTT
 * (retained on the camera's and the zones' snapshot topics); on request (GET
 * /api/streams/:id/snapshot.jpg), the next frame of the stream with every zone outlined.
 *
 * Never in the frames' way: onFrame copies the pixels only when a snapshot is due, and a busy
 * encoder, a rate limit (per camera, capture time) or a broker away drops the snapshot, counted.
 */
import type { Logger } from 'pino';
import type { SnapshotDropReason } from '../core/reasons.js';
import type { ZoneConfig } from '../core/zone-config.js';
import { SnapshotEncoder } from './snapshot-encoder.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from './sink.js';

/** Requests waiting for one stream's next frame; more are refused (the API answers 429). */
export const MAX_SNAPSHOT_WAITERS = 16;

export interface SnapshotHooks {
  onEncoded?(seconds: number, bytes: number): void;
  onDropped?(reason: SnapshotDropReason): void;
}

export interface SnapshotSinkOptions {
  /** The model card's class colours, 3 bytes per class id. */
  readonly palette: Uint8Array;
  readonly opacity: number;
  readonly quality: number;
  /** Per camera, at least this long (capture time) between two MQTT snapshots. */
  readonly minIntervalMs: number;
  /** Each stream's zones. */
  readonly streams: ReadonlyArray<{ readonly id: string; readonly zones: readonly ZoneConfig[] }>;
  /** Sends an MQTT snapshot (false: dropped, not connected); null = no MQTT, enter events make none. */
  readonly publish: ((streamId: string, zones: readonly string[], jpeg: Buffer) => boolean) | null;
  readonly logger: Logger;
  readonly hooks?: SnapshotHooks;
}

/** Why a snapshot request failed: the API maps it to a status. */
export class SnapshotUnavailable extends Error {
  constructor(
    readonly reason: 'busy' | 'gone' | 'closed' | 'failed' | 'timeout',
    message: string,
  ) {
    super(message);
  }
}

interface Waiter {
  resolve(jpeg: Buffer): void;
  reject(err: Error): void;
}

/** The palette of a model card (`classes[].color`), 3 bytes per class id; unknown shapes give black. */
export function paletteOf(card: unknown): Uint8Array {
  const classes = (card as { classes?: unknown }).classes;
  if (!Array.isArray(classes)) return new Uint8Array(0);
  const out = new Uint8Array(classes.length * 3);
  classes.forEach((c: unknown, i) => {
    const color = (c as { color?: unknown }).color;
    if (Array.isArray(color) && color.length === 3) out.set(color.map((v) => Number(v) & 0xff), i * 3);
  });
  return out;
}

export class SnapshotSink implements Sink {
  readonly name = 'snapshots';
  private readonly encoder = new SnapshotEncoder();
  private palette: Uint8Array;
  private readonly zones = new Map<string, readonly ZoneConfig[]>();
  private readonly lastMs = new Map<string, number>();
  private readonly waiters = new Map<string, Waiter[]>();
  private readonly log: Logger;
  private readonly hooks: SnapshotHooks;
  private closed = false;

  constructor(private readonly opts: SnapshotSinkOptions) {
    this.palette = opts.palette;
    this.log = opts.logger.child({ component: 'snapshots' });
    this.hooks = opts.hooks ?? {};
    for (const s of opts.streams) this.zones.set(s.id, s.zones);
  }

  /** The stream's next frame as a snapshot (every zone outlined); rejects after `timeoutMs` without a frame. */
  request(streamId: string, timeoutMs: number): Promise<Buffer> {
    if (this.closed) return Promise.reject(new SnapshotUnavailable('closed', 'the daemon is stopping'));
    if (!this.zones.has(streamId)) return Promise.reject(new SnapshotUnavailable('gone', `no stream ${streamId}`));
    const list = this.waiters.get(streamId) ?? [];
    if (list.length >= MAX_SNAPSHOT_WAITERS) return Promise.reject(new SnapshotUnavailable('busy', `${list.length} snapshot requests already wait for stream ${streamId}`));
    this.waiters.set(streamId, list);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        const l = this.waiters.get(streamId);
        const i = l?.indexOf(w) ?? -1;
        if (l !== undefined && i >= 0) l.splice(i, 1);
        if (l !== undefined && l.length === 0) this.waiters.delete(streamId);
        reject(new SnapshotUnavailable('timeout', `no frame of stream ${streamId} within ${timeoutMs} ms`));
      }, timeoutMs);
      const w: Waiter = {
        resolve: (jpeg) => {
          clearTimeout(timer);
          resolve(jpeg);
        },
        reject: (err) => {
          clearTimeout(timer);
          reject(err);
        },
      };
      list.push(w);
    });
  }

  onFrame(f: SinkFrame): void {
    if (this.closed || f.rgb === null) return;
    const id = f.result.streamId;
    const waiting = this.waiters.get(id);
    let entered: string[] = [];
    if (this.opts.publish !== null && f.analysis !== null && f.analysis.events.length > 0) {
      entered = f.analysis.events.filter((e) => e.type === 'enter').map((e) => e.zone);
      if (entered.length > 0) {
        const t = f.result.captureTimeMs;
        if (t - (this.lastMs.get(id) ?? Number.NEGATIVE_INFINITY) >= this.opts.minIntervalMs) this.lastMs.set(id, t);
        else {
          this.hooks.onDropped?.('rate_limited');
          entered = [];
        }
      }
    }
    if (entered.length === 0 && waiting === undefined) return;
    const zones = this.zones.get(id) ?? [];
    const outlined = waiting !== undefined ? zones : zones.filter((z) => entered.includes(z.name));
    const t0 = process.hrtime.bigint();
    const p = this.encoder.encode({
      width: f.result.width,
      height: f.result.height,
      rgb: f.rgb,
      mask: f.result.mask,
      palette: this.palette,
      opacity: this.opts.opacity,
      outlines: outlined.map((z) => z.polygon.map(([x, y]) => [x, y] as [number, number])),
      quality: this.opts.quality,
    });
    if (p === null) {
      // Requests wait for the next frame; the enter's snapshot is lost, counted.
      if (entered.length > 0) this.hooks.onDropped?.('encoder_busy');
      return;
    }
    if (waiting !== undefined) this.waiters.delete(id);
    p.then(
      (jpeg) => {
        this.hooks.onEncoded?.(Number(process.hrtime.bigint() - t0) / 1e9, jpeg.length);
        for (const w of waiting ?? []) w.resolve(jpeg);
        if (entered.length > 0 && this.opts.publish !== null && !this.opts.publish(id, entered, jpeg)) this.hooks.onDropped?.('disconnected');
      },
      (err: unknown) => {
        const e = err instanceof Error ? err : new Error(String(err));
        for (const w of waiting ?? []) w.reject(new SnapshotUnavailable('failed', e.message));
        if (this.closed) return;
        this.hooks.onDropped?.('failed');
        this.log.warn({ err: e, stream: id }, 'snapshot encode failed');
      },
    );
  }

  onModelChanged(m: SinkModel): void {
    this.palette = paletteOf(m.card);
  }

  onStreamChanged(c: SinkStreamChange): void {
    if (c.reason === 'removed') {
      this.zones.delete(c.streamId);
      this.lastMs.delete(c.streamId);
      for (const w of this.waiters.get(c.streamId) ?? []) w.reject(new SnapshotUnavailable('gone', `stream ${c.streamId} was removed`));
      this.waiters.delete(c.streamId);
      return;
    }
    this.zones.set(c.streamId, c.analyzer?.zones ?? []);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const list of this.waiters.values()) for (const w of list) w.reject(new SnapshotUnavailable('closed', 'the daemon is stopping'));
    this.waiters.clear();
    await this.encoder.close();
  }
}
