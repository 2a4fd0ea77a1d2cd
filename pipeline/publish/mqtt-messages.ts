/**
 * The MQTT topics and payloads (docs/mqtt.md is the reference: change both together). Pure
 * functions of a frame's analysis; the publisher (mqtt-publisher.ts) decides when to send them.
 */
import { fractionsOf } from '../analysis/class-areas.js';
import type { FrameAnalysis } from '../analysis/frame-analysis.js';
import type { MaskResult } from '../core/mask-result.js';
import type { ZoneEvent, ZoneReading, ZoneState } from '../analysis/zone-tracker.js';
import { encodeDeflate } from './mask-encoders.js';
import { maskHeaderOf } from './frame-messages.js';
import { ENCODING_CODE } from './protocol.js';

export const STATUS_ONLINE = 'online';
export const STATUS_OFFLINE = 'offline';

/** Topic names of one daemon: `<prefix>/nodes/<node>/status`, `<prefix>/<stream>/…`. */
export class MqttTopics {
  constructor(
    readonly prefix: string,
    readonly node: string,
  ) {}
  get status(): string {
    return `${this.prefix}/nodes/${this.node}/status`;
  }
  stats(stream: string): string {
    return `${this.prefix}/${stream}/stats`;
  }
  zoneState(stream: string, zone: string): string {
    return `${this.prefix}/${stream}/zones/${zone}/state`;
  }
  events(stream: string): string {
    return `${this.prefix}/${stream}/events`;
  }
  mask(stream: string): string {
    return `${this.prefix}/${stream}/mask`;
  }
  /** The latest snapshot of the stream (JPEG, retained). */
  snapshot(stream: string): string {
    return `${this.prefix}/${stream}/snapshot`;
  }
  /** The snapshot of the zone's last enter (JPEG, retained). */
  zoneSnapshot(stream: string, zone: string): string {
    return `${this.prefix}/${stream}/zones/${zone}/snapshot`;
  }
}

/** `{name: fraction}` in class-id order. */
function byName(names: readonly string[], fractions: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) out[names[i] as string] = fractions[i] ?? 0;
  return out;
}

export interface StatsContext {
  readonly node: string;
  readonly model: string;
  readonly classNames: readonly string[];
  readonly zoneNames: readonly string[];
  /** Masks of this stream per second since its previous stats message (capture time); null for the first. */
  readonly masksPerSecond: number | null;
}

/** `<prefix>/<stream>/stats`: the frame's class fractions and its zones' ratios. */
export function statsPayload(a: FrameAnalysis, ctx: StatsContext): string {
  const r = a.result;
  const zones: Record<string, { ratio: number; occupied: boolean; classes: Readonly<Record<string, number>> }> = {};
  a.readings.forEach((z, j) => {
    zones[ctx.zoneNames[j] as string] = { ratio: z.ratio, occupied: a.occupied[j] === true, classes: z.classes };
  });
  return JSON.stringify({
    node: ctx.node,
    stream: r.streamId,
    seq: r.seq,
    captureTimeMs: r.captureTimeMs,
    model: ctx.model,
    width: r.width,
    height: r.height,
    masksPerSecond: ctx.masksPerSecond,
    classes: byName(ctx.classNames, fractionsOf(a.areas.counts, a.areas.pixels)),
    zones,
  });
}

function reading(z: ZoneReading | null, occupied: boolean): object | null {
  return z === null ? null : { occupied, ratio: z.ratio, classes: z.classes, seq: z.seq, captureTimeMs: z.timeMs };
}

/** `<prefix>/<stream>/zones/<zone>/state` (retained). */
export function zoneStatePayload(node: string, stream: string, s: ZoneState): string {
  const r = s.reading;
  return JSON.stringify({
    node,
    stream,
    zone: s.zone,
    state: s.state,
    occupied: s.state === 'occupied',
    ratio: r?.ratio ?? 0,
    classes: r?.classes ?? {},
    sinceMs: s.sinceMs,
    eventId: s.eventId,
    seq: r?.seq ?? null,
  });
}

/** `<prefix>/<stream>/events`: Frigate-style, the zone's reading before and after. */
export function eventPayload(node: string, e: ZoneEvent): string {
  return JSON.stringify({
    type: e.type,
    id: e.id,
    node,
    stream: e.stream,
    zone: e.zone,
    startTimeMs: e.startMs,
    endTimeMs: e.endMs,
    before: reading(e.before, e.type !== 'enter'),
    after: reading(e.after, e.type !== 'exit'),
  });
}

/** `<prefix>/<stream>/mask`: one WebSocket mask message (docs/protocol.md), deflate encoded. */
export function maskPayload(r: MaskResult, streamIdBytes: Uint8Array, modelIdBytes: Uint8Array, deflateLevel?: number): Buffer {
  const payload = encodeDeflate(r.mask, deflateLevel);
  return Buffer.concat([maskHeaderOf(r, ENCODING_CODE.deflate, streamIdBytes, modelIdBytes, payload.byteLength), payload]);
}
