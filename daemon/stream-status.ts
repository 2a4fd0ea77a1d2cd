/**
 * Live per-stream status: state, frames published, drops by reason. Feeds `list_streams`
 * (WsPublisher), /readyz and the per-stream metrics. One record per stream, created at start-up
 * or when a stream is added at run time (and dropped, with its metric series, when it is removed);
 * hot-path updates are field increments on a record the caller already holds.
 */
import { DROP_REASONS, type DropReason, type StreamState } from '../pipeline/core/reasons.js';
import type { StreamConfig } from '../pipeline/core/stream-config.js';
import type { StreamInfo } from '../pipeline/publish/ws-publisher.js';
import { redactUrl } from '../pipeline/core/redact.js';
import type { StreamReadiness } from './http-server.js';
import type { SegdMetrics, StreamMetrics } from './metrics.js';

export class StreamStatus {
  state: StreamState = 'stopped';
  reason = 'not_started';
  framesPublished = 0;
  readonly drops: Record<DropReason, number>;
  redactedUrl: string;

  constructor(
    readonly id: string,
    url: string,
    readonly metrics: StreamMetrics,
    /** Zones as `list_streams` reports them; undefined for a stream without zones (the reply is then as before). */
    public zones?: StreamInfo['zones'],
  ) {
    this.redactedUrl = redactUrl(url);
    const drops = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) drops[r] = 0;
    this.drops = drops;
  }

  /** The stream's settings changed (runtime control): what `list_streams` reports follows. */
  update(cfg: Pick<StreamConfig, 'url' | 'zones'>): void {
    this.redactedUrl = redactUrl(cfg.url);
    this.zones = zonesInfo(cfg.zones);
  }

  setState(state: StreamState, reason: string): void {
    this.state = state;
    this.reason = reason;
    this.metrics.setUp(state === 'streaming');
  }

  dropped(reason: DropReason): void {
    this.drops[reason]++;
    this.metrics.dropped(reason);
  }
}

function zonesInfo(zones: StreamConfig['zones']): StreamInfo['zones'] {
  return zones.length === 0 ? undefined : zones.map((z) => ({ name: z.name, polygon: z.polygon, classes: z.classes }));
}

export class StreamStatusBoard {
  /** In the order the streams were added (config order first). */
  private readonly byId = new Map<string, StreamStatus>();

  constructor(
    streams: readonly StreamConfig[],
    private readonly metricsRegistry: SegdMetrics,
  ) {
    for (const s of streams) this.add(s);
  }

  private get all(): IterableIterator<StreamStatus> {
    return this.byId.values();
  }

  /** A new stream's record, its metric series registered (at 0). Throws for an id already present. */
  add(cfg: Pick<StreamConfig, 'id' | 'url'> & Partial<Pick<StreamConfig, 'zones'>>): StreamStatus {
    if (this.byId.has(cfg.id)) throw new RangeError(`stream ${JSON.stringify(cfg.id)} is already on the board`);
    const s = new StreamStatus(cfg.id, cfg.url, this.metricsRegistry.registerStream(cfg.id), zonesInfo(cfg.zones ?? []));
    this.byId.set(cfg.id, s);
    return s;
  }

  /** Drops a stream's record and its metric series; false when it was not there. */
  remove(id: string): boolean {
    if (!this.byId.delete(id)) return false;
    this.metricsRegistry.removeStream(id);
    return true;
  }

  /** The record of a configured stream; throws naming the id for anything else (a wiring bug). */
  get(id: string): StreamStatus {
    const s = this.byId.get(id);
    if (s === undefined) throw new RangeError(`unknown stream ${JSON.stringify(id)}`);
    return s;
  }

  /** The record, or undefined for a stream not (or no longer) present. */
  find(id: string): StreamStatus | undefined {
    return this.byId.get(id);
  }

  /**
   * For WsPublisher's `list_streams` and `hello` (called on connect / control messages only).
   * width/height: the size frames are scaled to (the model input).
   */
  infos(width: number, height: number): StreamInfo[] {
    return [...this.all].map((s) => ({
      id: s.id,
      state: s.state,
      url: s.redactedUrl,
      width,
      height,
      framesPublished: s.framesPublished,
      drops: { ...s.drops },
      ...(s.zones !== undefined ? { zones: s.zones } : {}),
    }));
  }

  readiness(): StreamReadiness[] {
    return [...this.all].map((s) => ({ id: s.id, state: s.state }));
  }
}
