/**
 * The Kafka topics, keys and payloads (docs/kafka.md). Each JSON payload is declared once, here, as
 * a JSON Schema (TypeBox): it gives the builders' types, and docs/kafka/*.schema.json are written
 * from it (scripts/kafka-schemas.ts; a unit test holds the two together), so consumers in any
 * language validate against the same contract. Builders are pure functions of a frame's analysis;
 * the sink (kafka-sink.ts) decides when to send them.
 *
 * Keys: `<node>/<stream>` for everything about one stream (the stream id, qualified by the daemon's
 * node name so two daemons' `cam1` stay apart in one cluster); `<node>` for the daemon's own status.
 * Kafka keeps the order of one key's messages (one key, one partition).
 */
import { Type, type Static, type TSchema, type TUnsafe } from '@sinclair/typebox';
import { fractionsOf } from '../analysis/class-areas.js';
import type { FrameAnalysis } from '../analysis/frame-analysis.js';
import type { MaskResult } from '../core/mask-result.js';
import { ZONE_EVENT_TYPES, type ZoneEvent, type ZoneReading, type ZoneState } from '../analysis/zone-tracker.js';
import { encodeDeflate } from './mask-encoders.js';
import { maskHeaderOf } from './frame-messages.js';
import { ENCODING_CODE } from './protocol.js';

/** `<prefix>.<name>` for each topic; `prefix` is the config's kafka.topicPrefix. */
export const KAFKA_TOPIC_NAMES = ['areas', 'zone-states', 'events', 'status', 'masks'] as const;
export type KafkaTopicName = (typeof KAFKA_TOPIC_NAMES)[number];
/** Topics that keep the latest message per key (log compaction), not a history. */
export const COMPACTED_TOPICS: ReadonlySet<KafkaTopicName> = new Set(['zone-states', 'status']);

export function topicName(prefix: string, name: KafkaTopicName): string {
  return `${prefix}.${name}`;
}

export function streamKey(node: string, stream: string): string {
  return `${node}/${stream}`;
}

// ---- schemas (standard JSON Schema: consumers outside Node validate with them too) ----

/** `{<name>: value}`: an object whose every property is `value` (JSON Schema additionalProperties). */
function MapOf<T extends TSchema>(value: T, description: string): TUnsafe<Record<string, Static<T>>> {
  return Type.Unsafe<Record<string, Static<T>>>({ type: 'object', additionalProperties: value, description });
}
function OrNull<T extends TSchema>(schema: T) {
  return Type.Union([schema, Type.Null()]);
}
const Fraction = Type.Number({ minimum: 0, maximum: 1, description: 'share of the pixels, 0..1' });
const Node = Type.String({ minLength: 1, description: "the daemon's node name (kafka.node, default the host name)" });
const Stream = Type.String({ minLength: 1, description: 'the stream (camera) id' });
const Seq = Type.Integer({ minimum: 0, description: "the frame's sequence number in its stream" });
const EpochMs = Type.Number({ description: 'Unix epoch milliseconds' });
const ClassFractions = MapOf(Fraction, "fraction of the zone's pixels per class of interest");
const ZoneStateName = Type.Union([Type.Literal('clear'), Type.Literal('occupied')]);

function Payload<T extends Parameters<typeof Type.Object>[0]>(id: string, title: string, description: string, props: T) {
  return Type.Object(props, { $id: `urn:segd:kafka:${id}`, title, description, additionalProperties: false });
}

export const AreasSchema = Payload('areas', 'segd areas message', 'Topic <prefix>.areas, key <node>/<stream>: one frame\'s class areas and its zones\' readings.', {
  node: Node,
  stream: Stream,
  seq: Seq,
  captureTimeMs: EpochMs,
  model: Type.String({ description: 'the model that made the mask' }),
  width: Type.Integer({ minimum: 1 }),
  height: Type.Integer({ minimum: 1 }),
  classes: MapOf(Fraction, "fraction of the frame's pixels per class, every class of the model"),
  zones: MapOf(
    Type.Object({ ratio: Type.Number({ minimum: 0 }), occupied: Type.Boolean(), classes: ClassFractions }, { additionalProperties: false }),
    "per zone: the summed fraction of its classes of interest (ratio), its state after this frame, the fractions",
  ),
});
export type AreasMessage = Static<typeof AreasSchema>;

const ZoneStateEntry = Type.Object(
  {
    zone: Type.String({ minLength: 1 }),
    state: ZoneStateName,
    ratio: Type.Number({ minimum: 0, description: 'the ratio of the last frame seen (0 before any)' }),
    classes: ClassFractions,
    sinceMs: OrNull(EpochMs),
    eventId: OrNull(Type.String({ description: 'the event of the current occupancy; null while clear' })),
    seq: OrNull(Seq),
  },
  { additionalProperties: false },
);

export const ZoneStatesSchema = Payload(
  'zone-states',
  'segd zone-states message',
  'Topic <prefix>.zone-states (compacted), key <node>/<stream>: every zone of the stream, sent when one changes state and on every (re)connect.',
  { node: Node, stream: Stream, timeMs: EpochMs, zones: Type.Array(ZoneStateEntry) },
);
export type ZoneStatesMessage = Static<typeof ZoneStatesSchema>;

const Reading = OrNull(
  Type.Object(
    { occupied: Type.Boolean(), ratio: Type.Number({ minimum: 0 }), classes: ClassFractions, seq: Seq, captureTimeMs: EpochMs },
    { additionalProperties: false },
  ),
);

export const EventSchema = Payload('event', 'segd zone event', 'Topic <prefix>.events, key <node>/<stream>: a zone was entered, updated or left.', {
  type: Type.Union(ZONE_EVENT_TYPES.map((t) => Type.Literal(t))),
  id: Type.String({ minLength: 1, description: 'the occupancy this event belongs to (enter, its updates and exit share it)' }),
  node: Node,
  stream: Stream,
  zone: Type.String({ minLength: 1 }),
  startTimeMs: EpochMs,
  endTimeMs: OrNull(EpochMs),
  before: Reading,
  after: Reading,
});
export type EventMessage = Static<typeof EventSchema>;

export const NodeStatusSchema = Payload(
  'status-node',
  'segd daemon status',
  'Topic <prefix>.status (compacted), key <node>: the daemon, on connect, on change, every kafka.statusIntervalMs, and `offline` when it stops.',
  {
    kind: Type.Literal('node'),
    node: Node,
    state: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
    timeMs: EpochMs,
    model: Type.String(),
    classes: Type.Array(Type.String(), { description: "the model's classes in class-id order" }),
    streams: Type.Array(Stream),
  },
);
export type NodeStatusMessage = Static<typeof NodeStatusSchema>;

export const StreamStatusSchema = Payload(
  'status-stream',
  'segd stream status',
  'Topic <prefix>.status (compacted), key <node>/<stream>: a stream the daemon serves; a tombstone (null value) once it is removed.',
  {
    kind: Type.Literal('stream'),
    node: Node,
    stream: Stream,
    timeMs: EpochMs,
    zones: Type.Array(Type.Object({ name: Type.String(), classes: Type.Array(Type.String()) }, { additionalProperties: false })),
  },
);
export type StreamStatusMessage = Static<typeof StreamStatusSchema>;

/** Every JSON payload schema, by its file name under docs/kafka/. */
export const KAFKA_PAYLOAD_SCHEMAS = {
  'areas.schema.json': AreasSchema,
  'zone-states.schema.json': ZoneStatesSchema,
  'event.schema.json': EventSchema,
  'status-node.schema.json': NodeStatusSchema,
  'status-stream.schema.json': StreamStatusSchema,
} as const;

// ---- builders ----

/** `{name: fraction}` in class-id order. */
function byName(names: readonly string[], fractions: readonly number[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (let i = 0; i < names.length; i++) out[names[i] as string] = fractions[i] ?? 0;
  return out;
}

export function areasMessage(a: FrameAnalysis, node: string, model: string, classNames: readonly string[], zoneNames: readonly string[]): AreasMessage {
  const r = a.result;
  const zones: AreasMessage['zones'] = {};
  a.readings.forEach((z, j) => {
    zones[zoneNames[j] as string] = { ratio: z.ratio, occupied: a.occupied[j] === true, classes: { ...z.classes } };
  });
  return {
    node,
    stream: r.streamId,
    seq: r.seq,
    captureTimeMs: r.captureTimeMs,
    model,
    width: r.width,
    height: r.height,
    classes: byName(classNames, fractionsOf(a.areas.counts, a.areas.pixels)),
    zones,
  };
}

export function zoneStatesMessage(node: string, stream: string, states: readonly ZoneState[], timeMs: number): ZoneStatesMessage {
  return {
    node,
    stream,
    timeMs,
    zones: states.map((s) => ({
      zone: s.zone,
      state: s.state,
      ratio: s.reading?.ratio ?? 0,
      classes: { ...(s.reading?.classes ?? {}) },
      sinceMs: s.sinceMs,
      eventId: s.eventId,
      seq: s.reading?.seq ?? null,
    })),
  };
}

function reading(z: ZoneReading | null, occupied: boolean): EventMessage['before'] {
  return z === null ? null : { occupied, ratio: z.ratio, classes: { ...z.classes }, seq: z.seq, captureTimeMs: z.timeMs };
}

export function eventMessage(node: string, e: ZoneEvent): EventMessage {
  return {
    type: e.type,
    id: e.id,
    node,
    stream: e.stream,
    zone: e.zone,
    startTimeMs: e.startMs,
    endTimeMs: e.endMs,
    before: reading(e.before, e.type !== 'enter'),
    after: reading(e.after, e.type !== 'exit'),
  };
}

/** `<prefix>.masks`: one WebSocket mask message (docs/protocol.md), deflate encoded: binary, no JSON. */
export function maskMessage(r: MaskResult, streamIdBytes: Uint8Array, modelIdBytes: Uint8Array): Buffer {
  const payload = encodeDeflate(r.mask);
  return Buffer.concat([maskHeaderOf(r, ENCODING_CODE.deflate, streamIdBytes, modelIdBytes, payload.byteLength), payload]);
}
