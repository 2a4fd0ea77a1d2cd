/**
 * Live per-stream status: state, frames published, drops by reason. Feeds `list_streams`
 * (WsPublisher), /readyz and the per-stream metrics. One record per configured stream, created
 * at start-up; hot-path updates are field increments on a record the caller already holds.
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
  readonly redactedUrl: string;

  constructor(
    readonly id: string,
    url: string,
    readonly metrics: StreamMetrics,
  ) {
    this.redactedUrl = redactUrl(url);
    const drops = {} as Record<DropReason, number>;
    for (const r of DROP_REASONS) drops[r] = 0;
    this.drops = drops;
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

export class StreamStatusBoard {
  private readonly byId: ReadonlyMap<string, StreamStatus>;
  private readonly all: readonly StreamStatus[];
  /** Zones as `list_streams` reports them; absent for a stream without zones (the reply is then as before). */
  private readonly zonesOf: ReadonlyMap<string, NonNullable<StreamInfo['zones']>>;

  constructor(streams: readonly StreamConfig[], metrics: SegdMetrics) {
    this.all = streams.map((s) => new StreamStatus(s.id, s.url, metrics.registerStream(s.id)));
    this.byId = new Map(this.all.map((s) => [s.id, s]));
    this.zonesOf = new Map(
      streams.filter((s) => s.zones.length > 0).map((s) => [s.id, s.zones.map((z) => ({ name: z.name, polygon: z.polygon, classes: z.classes }))]),
    );
  }

  /** The record of a configured stream; throws naming the id for anything else (a wiring bug). */
  get(id: string): StreamStatus {
    const s = this.byId.get(id);
    if (s === undefined) throw new RangeError(`unknown stream ${JSON.stringify(id)}`);
    return s;
  }

  /**
   * For WsPublisher's `list_streams` and `hello` (called on connect / control messages only).
   * width/height: the size frames are scaled to (the model input).
   */
  infos(width: number, height: number): StreamInfo[] {
    return this.all.map((s) => ({
      id: s.id,
      state: s.state,
      url: s.redactedUrl,
      width,
      height,
      framesPublished: s.framesPublished,
      drops: { ...s.drops },
      ...(this.zonesOf.has(s.id) ? { zones: this.zonesOf.get(s.id) } : {}),
    }));
  }

  readiness(): StreamReadiness[] {
    return this.all.map((s) => ({ id: s.id, state: s.state }));
  }
}
