/**
 * The Kafka sink (docs/kafka.md), through KafkaJS (pure JavaScript: installs from the npm registry
 * alone). It never touches segmentation: publishFrame() builds the frame's messages and appends
 * them to a bounded buffer; one pump sends the buffer in batches while the brokers answer. Nothing
 * on the frame path waits for a broker.
 *
 * - Buffer: at most `buffer.messages` messages and `buffer.bytes` bytes; beyond either the oldest
 *   is dropped (`buffer_full`, counted). While the brokers are away it fills, then keeps the newest.
 * - Order: one batch in flight at a time, and a batch that failed is sent again as it was before
 *   anything newer, so one key's messages reach its partition in order. Re-sending the same batch
 *   keeps the idempotent producer's sequence numbers, so the brokers drop a copy they already wrote.
 * - The client's own retries are short (a few seconds): the pump notices an outage, logs it once,
 *   and retries with core/backoff.ts (jitter) until the brokers are back.
 * - Topics are checked on every connect: missing ones are created (compacted where the topic keeps
 *   state) when `topics.create`, else the sink reports which are missing and retries later.
 * - Status: the daemon's (`online`, model, streams) and every stream's (zones) on every connect, on
 *   change and every `statusIntervalMs`; `offline` on close; a removed stream gets a tombstone.
 *
 * States: connecting → ready → down (backoff) → connecting … → closing → closed.
 */
import type { ConnectionOptions } from 'node:tls';
import { CompressionTypes, Kafka, Partitioners, logLevel, type Admin, type LogEntry, type Message, type Producer, type SASLOptions } from 'kafkajs';
import type { Logger } from 'pino';
import { Backoff } from '../core/backoff.js';
import type { FrameAnalysis, StreamAnalyzer } from '../analysis/frame-analysis.js';
import { BoundedQueue } from '../core/bounded-queue.js';
import type { KafkaAcks, KafkaCompression, KafkaDropReason, KafkaMessageKind, KafkaSaslMechanism } from '../core/reasons.js';
import type { ZoneState } from '../analysis/zone-tracker.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from './sink.js';
import {
  COMPACTED_TOPICS,
  KAFKA_TOPIC_NAMES,
  areasMessage,
  eventMessage,
  maskMessage,
  streamKey,
  topicName,
  zoneStatesMessage,
  type KafkaTopicName,
  type NodeStatusMessage,
  type StreamStatusMessage,
} from './kafka-messages.js';

export type KafkaSinkState = 'connecting' | 'ready' | 'down' | 'closing' | 'closed';

/** Why the sink cannot deliver right now (the `problem` of its log lines and of `lastProblem`). */
export type KafkaProblemKind = 'unreachable' | 'auth' | 'authorization' | 'topics' | 'producer';

export interface KafkaHooks {
  onConnected?(connected: boolean): void;
  /** Messages the brokers acknowledged (acks `none`: handed to the socket). */
  onSent?(kind: KafkaMessageKind, count: number): void;
  onDropped?(reason: KafkaDropReason, count: number): void;
  /** Messages waiting in the buffer, after every change. */
  onBuffered?(count: number): void;
}

interface KafkaStreamInfo {
  readonly id: string;
  readonly zones: readonly { readonly name: string; readonly classes: readonly string[] }[];
  /** The zones' current states (read on connect, to re-send the compacted zone-states topic). */
  readonly zoneStates: () => readonly ZoneState[];
}

function streamInfoOf(a: StreamAnalyzer): KafkaStreamInfo {
  return { id: a.streamId, zones: a.zones.map((z) => ({ name: z.name, classes: z.classes })), zoneStates: () => a.states() };
}

/** The model the sink names in its messages. */
export interface KafkaModelInfo {
  readonly name: string;
  readonly classNames: readonly string[];
}

export interface KafkaSinkOptions {
  readonly brokers: readonly string[];
  readonly clientId: string;
  readonly node: string;
  readonly topicPrefix: string;
  readonly topics: { readonly create: boolean; readonly partitions: number; readonly replicationFactor: number };
  readonly acks: KafkaAcks;
  readonly idempotent: boolean;
  readonly compression: KafkaCompression;
  /** Per stream, at most one areas message per this many ms of capture time; 0 = every frame. */
  readonly areasIntervalMs: number;
  readonly masks: { readonly enabled: boolean; readonly intervalMs: number };
  readonly statusIntervalMs: number;
  readonly buffer: { readonly messages: number; readonly bytes: number };
  /** Most messages per produce request. */
  readonly batchMessages: number;
  /** How long areas, masks and status wait to share a request; events and zone states never wait. */
  readonly lingerMs: number;
  /** null = plaintext. */
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly rejectUnauthorized: boolean } | null;
  readonly sasl: { readonly mechanism: KafkaSaslMechanism; readonly username: string; readonly password: string } | null;
  readonly connectTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  /** How long close() keeps sending what is buffered (and `offline`) before it gives up. */
  readonly closeTimeoutMs: number;
  readonly model: KafkaModelInfo;
  /** The streams whose analysis is on, at start. */
  readonly streams: readonly StreamAnalyzer[];
  readonly logger: Logger;
  readonly hooks?: KafkaHooks;
}

interface Outgoing {
  readonly topic: string;
  readonly key: string;
  /** null: a tombstone (compaction forgets the key). */
  readonly value: string | Buffer | null;
  readonly kind: KafkaMessageKind;
  readonly bytes: number;
}

interface StreamCtx {
  readonly info: KafkaStreamInfo;
  readonly key: string;
  readonly zoneNames: readonly string[];
  readonly idBytes: Buffer;
  /** Capture time of the last areas / mask message; -Infinity = none yet. */
  lastAreasMs: number;
  lastMaskMs: number;
}

/** A problem the pump met; `message` names the brokers and what to check, never a secret. */
class KafkaProblem extends Error {
  constructor(
    readonly kind: KafkaProblemKind,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const ACKS: Readonly<Record<KafkaAcks, number>> = { all: -1, leader: 1, none: 0 };
const COMPRESSION: Readonly<Record<KafkaCompression, CompressionTypes>> = { none: CompressionTypes.None, gzip: CompressionTypes.GZIP };
/** Protocol errors that reject the messages themselves: sending them again cannot help. */
const REJECTED = new Set(['MESSAGE_TOO_LARGE', 'INVALID_RECORD', 'RECORD_LIST_TOO_LARGE', 'CORRUPT_MESSAGE', 'INVALID_TIMESTAMP', 'INVALID_REQUIRED_ACKS']);
/** The idempotent producer's own state is gone or fenced: a new producer (new id) is needed. */
const PRODUCER_LOST = new Set(['OUT_OF_ORDER_SEQUENCE_NUMBER', 'UNKNOWN_PRODUCER_ID', 'INVALID_PRODUCER_EPOCH', 'INVALID_PRODUCER_ID_MAPPING', 'PRODUCER_FENCED']);
const AUTHORIZATION = /AUTHORIZATION_FAILED$/;

/** The innermost cause of a KafkaJS error (retries-exceeded and aggregate errors wrap the real one). */
function rootOf(err: unknown): Error & { type?: string; retriable?: boolean } {
  let e = err as Error & { cause?: unknown; originalError?: unknown; errors?: unknown[] };
  for (let i = 0; i < 5; i++) {
    const next = e.originalError ?? e.cause ?? (Array.isArray(e.errors) ? e.errors[0] : undefined);
    if (!(next instanceof Error)) break;
    e = next as typeof e;
  }
  return e;
}

export class KafkaSink implements Sink {
  readonly name = 'kafka';
  private state: KafkaSinkState = 'connecting';
  private readonly kafka: Kafka;
  private producer: Producer | null = null;
  /** The admin client of a connect in progress (closed by close()). */
  private admin: Admin | null = null;
  private ready = false;
  private readonly queue: BoundedQueue<Outgoing>;
  private queuedBytes = 0;
  /** The batch being sent, oldest first; kept until acknowledged or rejected. */
  private inflight: Outgoing[] | null = null;
  private pumping: Promise<void> | null = null;
  private pumpScheduled = false;
  /** An event or zone state waits: the next request goes now, not after the linger. */
  private urgent = false;
  private lingerTimer: NodeJS.Timeout | null = null;
  /** The linger ran out: the next request goes now. */
  private lingerDue = false;
  private readonly backoff: Backoff;
  private wake: (() => void) | null = null;
  private readonly streams = new Map<string, StreamCtx>();
  private model: KafkaModelInfo;
  private classNames: readonly string[];
  private modelIdBytes: Buffer;
  private readonly topics: Readonly<Record<KafkaTopicName, string>>;
  private readonly log: Logger;
  private readonly hooks: KafkaHooks;
  private readonly statusTimer: NodeJS.Timeout;
  private closing: Promise<void> | null = null;
  /** The last problem logged, so a retry loop logs it once, not every attempt. */
  private lastProblemText: string | null = null;
  private problem: KafkaProblem | null = null;

  constructor(private readonly opts: KafkaSinkOptions) {
    this.log = opts.logger.child({ component: 'kafka' });
    this.hooks = opts.hooks ?? {};
    this.queue = new BoundedQueue(opts.buffer.messages);
    this.backoff = new Backoff({ minMs: opts.reconnect.minMs, maxMs: opts.reconnect.maxMs, jitter: 'full' });
    this.model = opts.model;
    this.classNames = opts.model.classNames;
    this.modelIdBytes = Buffer.from(opts.model.name, 'utf8');
    this.topics = Object.fromEntries(KAFKA_TOPIC_NAMES.map((n) => [n, topicName(opts.topicPrefix, n)])) as Record<KafkaTopicName, string>;
    for (const a of opts.streams) this.setStream(streamInfoOf(a));
    const kafkaLog = this.log.child({ component: 'kafkajs' });
    this.kafka = new Kafka({
      clientId: opts.clientId,
      brokers: [...opts.brokers],
      connectionTimeout: opts.connectTimeoutMs,
      requestTimeout: opts.requestTimeoutMs,
      // Short: an outage surfaces to the pump within seconds; the pump retries the same batch.
      retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 },
      ...(opts.tls !== null ? { ssl: this.tlsOptions(opts.tls) } : {}),
      ...(opts.sasl !== null ? { sasl: { mechanism: opts.sasl.mechanism, username: opts.sasl.username, password: opts.sasl.password } as SASLOptions } : {}),
      // KafkaJS logs every retry at error level; the pump logs each problem once, so its lines are debug here.
      logLevel: logLevel.WARN,
      logCreator:
        () =>
        ({ namespace, log }: LogEntry) => {
          const { message, ...rest } = log;
          kafkaLog.debug({ namespace, ...rest }, String(message));
        },
    });
    this.hooks.onConnected?.(false);
    this.hooks.onBuffered?.(0);
    this.log.info(
      { brokers: opts.brokers, clientId: opts.clientId, node: opts.node, topicPrefix: opts.topicPrefix, sasl: opts.sasl ? { mechanism: opts.sasl.mechanism, username: opts.sasl.username } : null, tls: opts.tls !== null },
      'kafka connecting',
    );
    this.enqueueStatus();
    this.schedulePump();
    this.statusTimer = setInterval(() => this.enqueueNodeStatus('online'), opts.statusIntervalMs);
    this.statusTimer.unref();
  }

  private get closed(): boolean {
    return this.state === 'closed';
  }

  get connectionState(): KafkaSinkState {
    return this.state;
  }

  /** Messages waiting (buffered plus the batch in flight). */
  get buffered(): number {
    return this.queue.length + (this.inflight?.length ?? 0);
  }

  /** What keeps the sink from delivering now; null while it delivers (or before its first try). */
  get lastProblem(): { readonly kind: KafkaProblemKind; readonly message: string } | null {
    return this.problem === null ? null : { kind: this.problem.kind, message: this.problem.message };
  }

  /** One frame's analysis: events and zone states at once, areas and masks when their interval allows. */
  publishFrame(a: FrameAnalysis): void {
    if (this.closing !== null) return;
    const s = this.streams.get(a.result.streamId);
    if (s === undefined) return;
    const t = a.result.captureTimeMs;
    let statesChanged = false;
    for (const e of a.events) {
      this.enqueue(this.topics.events, s.key, JSON.stringify(eventMessage(this.opts.node, e)), 'event');
      if (e.type !== 'update') statesChanged = true;
    }
    if (statesChanged) this.enqueueZoneStates(s);
    if (t - s.lastAreasMs >= this.opts.areasIntervalMs) {
      s.lastAreasMs = t;
      this.enqueue(this.topics.areas, s.key, JSON.stringify(areasMessage(a, this.opts.node, this.model.name, this.classNames, s.zoneNames)), 'areas');
    }
    if (this.opts.masks.enabled && t - s.lastMaskMs >= this.opts.masks.intervalMs) {
      s.lastMaskMs = t;
      this.enqueue(this.topics.masks, s.key, maskMessage(a.result, s.idBytes, this.modelIdBytes), 'mask');
    }
    this.schedulePump();
  }

  onFrame(f: SinkFrame): void {
    if (f.analysis !== null) this.publishFrame(f.analysis);
  }

  /** The model swapped: areas and status carry its name and classes from now on. */
  onModelChanged(m: SinkModel): void {
    this.model = { name: m.id, classNames: m.classNames };
    this.classNames = m.classNames;
    this.modelIdBytes = Buffer.from(m.id, 'utf8');
    if (this.closing !== null) return;
    this.enqueueNodeStatus('online');
    this.schedulePump();
  }

  /**
   * A stream added, changed or removed, or its analysis rebuilt: the occupancies the change ended
   * get their `exit` event, the stream its status (a tombstone once it is gone or its analysis
   * off) and its zone states.
   */
  onStreamChanged(c: SinkStreamChange): void {
    if (this.closing !== null) return;
    const key = streamKey(this.opts.node, c.streamId);
    for (const e of c.ended) this.enqueue(this.topics.events, key, JSON.stringify(eventMessage(this.opts.node, e)), 'event');
    const before = this.streams.get(c.streamId);
    if (c.analyzer === null) {
      if (before === undefined) return;
      this.streams.delete(c.streamId);
      this.enqueue(this.topics.status, key, null, 'status');
      if (before.zoneNames.length > 0) this.enqueue(this.topics['zone-states'], key, null, 'zone_states');
    } else {
      this.setStream(streamInfoOf(c.analyzer));
      const ctx = this.streams.get(c.streamId) as StreamCtx;
      if (before !== undefined) {
        ctx.lastAreasMs = before.lastAreasMs;
        ctx.lastMaskMs = before.lastMaskMs;
      }
      this.enqueueStreamStatus(ctx);
      this.enqueueZoneStates(ctx);
      if (ctx.zoneNames.length === 0 && before !== undefined && before.zoneNames.length > 0) this.enqueue(this.topics['zone-states'], key, null, 'zone_states');
    }
    if (c.reason !== 'model' && c.reason !== 'changed') this.enqueueNodeStatus('online');
    this.schedulePump();
  }

  /**
   * Sends what is buffered and the daemon's `offline` status for up to closeTimeoutMs, then
   * disconnects; what is still buffered then is dropped (`shutdown`, counted). Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      clearInterval(this.statusTimer);
      if (this.lingerTimer !== null) clearTimeout(this.lingerTimer);
      this.enqueueNodeStatus('offline');
      this.state = 'closing';
      this.schedulePump();
      const deadline = new Promise<void>((resolve) => setTimeout(resolve, this.opts.closeTimeoutMs).unref());
      await Promise.race([this.drained(), deadline]);
      const left = this.buffered;
      this.state = 'closed';
      this.wake?.();
      // Whatever the pump was doing (a connect, a send being retried) ends with these connections.
      await this.admin?.disconnect().catch(() => undefined);
      const producer = this.producer;
      this.producer = null;
      if (producer !== null) await Promise.race([producer.disconnect().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      await Promise.race([this.pumping ?? Promise.resolve(), new Promise((r) => setTimeout(r, 2000).unref())]);
      // A send that was being retried may have reconnected the client meanwhile: once more, now that the pump is done.
      if (producer !== null) await Promise.race([producer.disconnect().catch(() => undefined), new Promise((r) => setTimeout(r, 1000).unref())]);
      if (left > 0) this.hooks.onDropped?.('shutdown', left);
      this.inflight = null;
      while (this.queue.shift() !== undefined);
      this.queuedBytes = 0;
      this.hooks.onBuffered?.(0);
      this.hooks.onConnected?.(false);
      this.log.info({ dropped: left }, 'kafka closed');
    })();
    return this.closing;
  }

  // ---- buffer ----

  private setStream(s: KafkaStreamInfo): void {
    this.streams.set(s.id, {
      info: s,
      key: streamKey(this.opts.node, s.id),
      zoneNames: s.zones.map((z) => z.name),
      idBytes: Buffer.from(s.id, 'utf8'),
      lastAreasMs: Number.NEGATIVE_INFINITY,
      lastMaskMs: Number.NEGATIVE_INFINITY,
    });
  }

  private enqueue(topic: string, key: string, value: string | Buffer | null, kind: KafkaMessageKind): void {
    const bytes = key.length + (value === null ? 0 : typeof value === 'string' ? Buffer.byteLength(value) : value.byteLength);
    const evicted = this.queue.push({ topic, key, value, kind, bytes });
    if (kind === 'event' || kind === 'zone_states') this.urgent = true;
    this.queuedBytes += bytes;
    let dropped = 0;
    if (evicted !== undefined) {
      this.queuedBytes -= evicted.bytes;
      dropped++;
    }
    while (this.queuedBytes > this.opts.buffer.bytes && this.queue.length > 1) {
      const old = this.queue.shift() as Outgoing;
      this.queuedBytes -= old.bytes;
      dropped++;
    }
    if (dropped > 0) this.hooks.onDropped?.('buffer_full', dropped);
    this.hooks.onBuffered?.(this.buffered);
  }

  private enqueueZoneStates(s: StreamCtx): void {
    if (s.zoneNames.length === 0) return;
    this.enqueue(this.topics['zone-states'], s.key, JSON.stringify(zoneStatesMessage(this.opts.node, s.info.id, s.info.zoneStates(), Date.now())), 'zone_states');
  }

  private enqueueNodeStatus(state: NodeStatusMessage['state']): void {
    const msg: NodeStatusMessage = {
      kind: 'node',
      node: this.opts.node,
      state,
      timeMs: Date.now(),
      model: this.model.name,
      classes: [...this.classNames],
      streams: [...this.streams.keys()],
    };
    this.enqueue(this.topics.status, this.opts.node, JSON.stringify(msg), 'status');
  }

  private enqueueStreamStatus(s: StreamCtx): void {
    const msg: StreamStatusMessage = {
      kind: 'stream',
      node: this.opts.node,
      stream: s.info.id,
      timeMs: Date.now(),
      zones: s.info.zones.map((z) => ({ name: z.name, classes: [...z.classes] })),
    };
    this.enqueue(this.topics.status, s.key, JSON.stringify(msg), 'status');
  }

  /** The whole status (daemon, streams, zone states): at start and after every (re)connect. */
  private enqueueStatus(): void {
    this.enqueueNodeStatus('online');
    for (const s of this.streams.values()) {
      this.enqueueStreamStatus(s);
      this.enqueueZoneStates(s);
    }
  }

  // ---- pump ----

  private schedulePump(): void {
    if (this.pumpScheduled) return;
    this.pumpScheduled = true;
    // After the current batch of frames: their messages go out together.
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pumping ??= this.pump().finally(() => (this.pumping = null));
    });
  }

  private async drained(): Promise<void> {
    while (this.buffered > 0 && !this.closed) {
      this.schedulePump();
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private async pump(): Promise<void> {
    while (!this.closed) {
      if (this.inflight === null) {
        if (this.queue.length === 0) return;
        if (this.lingering()) return;
        this.inflight = this.takeBatch();
        this.urgent &&= this.queue.length > 0;
        this.lingerDue = false;
        if (this.lingerTimer !== null) {
          clearTimeout(this.lingerTimer);
          this.lingerTimer = null;
        }
      }
      try {
        await this.connect();
        await this.send(this.inflight);
        this.countSent(this.inflight);
        this.inflight = null;
        this.hooks.onBuffered?.(this.buffered);
        if (this.problem !== null) {
          this.log.info({ buffered: this.buffered }, 'kafka delivering again');
          // What the outage may have dropped: the current status and zone states go out again.
          if (this.closing === null) this.enqueueStatus();
          this.hooks.onConnected?.(true);
        }
        this.problem = null;
        this.lastProblemText = null;
        this.backoff.reset();
      } catch (err) {
        if (this.closed) return;
        await this.failed(err);
      }
    }
  }

  /**
   * True while what is queued may wait for more to share its request (a timer then wakes the pump):
   * only areas/masks/status queued, fewer than a full batch, not closing, and the sink connected
   * (a connect or a retry sends at once anyway).
   */
  private lingering(): boolean {
    if (this.opts.lingerMs === 0 || this.urgent || this.lingerDue || this.closing !== null || !this.ready || this.queue.length >= this.opts.batchMessages) return false;
    this.lingerTimer ??= setTimeout(() => {
      this.lingerTimer = null;
      this.lingerDue = true;
      this.pumping ??= this.pump().finally(() => (this.pumping = null));
    }, this.opts.lingerMs);
    return true;
  }

  private takeBatch(): Outgoing[] {
    const batch: Outgoing[] = [];
    while (batch.length < this.opts.batchMessages) {
      const m = this.queue.shift();
      if (m === undefined) break;
      this.queuedBytes -= m.bytes;
      batch.push(m);
    }
    return batch;
  }

  private async send(batch: readonly Outgoing[]): Promise<void> {
    const producer = this.producer as Producer;
    // One entry per topic, messages in buffer order (KafkaJS keeps a topic's order within a request).
    const byTopic = new Map<string, Message[]>();
    for (const m of batch) {
      let list = byTopic.get(m.topic);
      if (list === undefined) byTopic.set(m.topic, (list = []));
      list.push({ key: m.key, value: m.value });
    }
    await producer.sendBatch({
      acks: ACKS[this.opts.acks],
      timeout: this.opts.requestTimeoutMs,
      compression: COMPRESSION[this.opts.compression],
      topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
    });
  }

  private countSent(batch: readonly Outgoing[]): void {
    const counts = new Map<KafkaMessageKind, number>();
    for (const m of batch) counts.set(m.kind, (counts.get(m.kind) ?? 0) + 1);
    for (const [kind, n] of counts) this.hooks.onSent?.(kind, n);
  }

  private async connect(): Promise<void> {
    if (this.ready) return;
    this.setState('connecting');
    const admin = this.kafka.admin();
    this.admin = admin;
    try {
      await admin.connect();
      await this.ensureTopics(admin);
    } finally {
      this.admin = null;
      await admin.disconnect().catch(() => undefined);
    }
    this.throwIfClosed();
    this.producer ??= this.kafka.producer({
      idempotent: this.opts.idempotent,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: false,
      // Java's partitioner (murmur2 of the key): a key lands where a Java producer would put it.
      createPartitioner: Partitioners.DefaultPartitioner,
      ...(this.opts.idempotent ? { retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 2000 } } : {}),
    });
    const producer = this.producer;
    await producer.connect();
    // close() may have run meanwhile: a producer connected after it would keep the process alive.
    if (this.closed) await producer.disconnect().catch(() => undefined);
    this.throwIfClosed();
    this.ready = true;
    this.setState('ready');
    this.hooks.onConnected?.(true);
    this.log.info({ brokers: this.opts.brokers, buffered: this.buffered }, 'kafka connected');
  }

  private throwIfClosed(): void {
    if (this.closed) throw new KafkaProblem('unreachable', 'kafka sink closed');
  }

  private async ensureTopics(admin: Admin): Promise<void> {
    const existing = new Set(await admin.listTopics());
    const missing = KAFKA_TOPIC_NAMES.filter((n) => (n !== 'masks' || this.opts.masks.enabled) && !existing.has(this.topics[n]));
    if (missing.length === 0) return;
    const names = missing.map((n) => this.topics[n]);
    if (!this.opts.topics.create) {
      throw new KafkaProblem(
        'topics',
        `kafka topics ${names.join(', ')} do not exist on brokers ${this.opts.brokers.join(',')} and kafka.topics.create is false; create them (docs/kafka.md lists their settings) or set kafka.topics.create: true`,
      );
    }
    try {
      await admin.createTopics({
        waitForLeaders: true,
        topics: missing.map((n) => ({
          topic: this.topics[n],
          numPartitions: this.opts.topics.partitions,
          replicationFactor: this.opts.topics.replicationFactor,
          configEntries: COMPACTED_TOPICS.has(n) ? [{ name: 'cleanup.policy', value: 'compact' }] : [],
        })),
      });
    } catch (err) {
      const root = rootOf(err);
      if (root.type === 'TOPIC_ALREADY_EXISTS') return; // another daemon of the fleet was first
      const kind: KafkaProblemKind = root.type !== undefined && AUTHORIZATION.test(root.type) ? 'authorization' : 'topics';
      throw new KafkaProblem(
        kind,
        `kafka brokers ${this.opts.brokers.join(',')} refused to create topics ${names.join(', ')}: ${root.type ?? root.name}: ${root.message}; create them yourself (docs/kafka.md) and set kafka.topics.create: false, or allow the client to create them`,
        { cause: err },
      );
    }
  }

  private async failed(err: unknown): Promise<void> {
    const root = rootOf(err);
    const type = root.type ?? '';
    let problem: KafkaProblem;
    if (err instanceof KafkaProblem) problem = err;
    else if (REJECTED.has(type)) {
      // The messages are the problem: drop them (counted) and go on with the next batch.
      const n = this.inflight?.length ?? 0;
      this.inflight = null;
      this.hooks.onDropped?.('rejected', n);
      this.hooks.onBuffered?.(this.buffered);
      this.log.error({ type, messages: n }, `kafka brokers rejected ${n} messages (${type}: ${root.message}); dropped`);
      return;
    } else if (root.name === 'KafkaJSSASLAuthenticationError' || type === 'SASL_AUTHENTICATION_FAILED' || type === 'ILLEGAL_SASL_STATE' || type === 'UNSUPPORTED_SASL_MECHANISM') {
      const who = this.opts.sasl ? `SASL ${this.opts.sasl.mechanism} user ${this.opts.sasl.username}` : 'no SASL credentials';
      problem = new KafkaProblem('auth', `kafka brokers ${this.opts.brokers.join(',')} refused the credentials (${who}): ${root.message}; check kafka.sasl and the password`, { cause: err });
    } else if (AUTHORIZATION.test(type)) {
      problem = new KafkaProblem('authorization', `kafka brokers ${this.opts.brokers.join(',')} refused access (${type}): ${root.message}; grant the client's principal write access to the ${this.opts.topicPrefix}.* topics`, { cause: err });
    } else if (PRODUCER_LOST.has(type)) {
      problem = new KafkaProblem('producer', `kafka producer state lost (${type}); starting a new producer`, { cause: err });
    } else {
      problem = new KafkaProblem('unreachable', `kafka brokers ${this.opts.brokers.join(',')} unreachable: ${root.message}; buffering (up to ${this.opts.buffer.messages} messages) and retrying with backoff`, { cause: err });
    }
    this.problem = problem;
    // A transient outage keeps the producer (its sequence numbers make a re-sent batch idempotent);
    // anything else starts over with a new one after the backoff.
    if (problem.kind !== 'unreachable') {
      this.ready = false;
      const p = this.producer;
      this.producer = null;
      await p?.disconnect().catch(() => undefined);
    }
    this.setState('down');
    this.hooks.onConnected?.(false);
    const text = `${problem.kind}:${problem.message}`;
    if (text !== this.lastProblemText) {
      this.lastProblemText = text;
      const line = { problem: problem.kind, buffered: this.buffered };
      if (problem.kind === 'unreachable') this.log.warn(line, problem.message);
      else this.log.error(line, problem.message);
    } else this.log.debug({ problem: problem.kind }, 'kafka: %s (again)', problem.message);
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, this.backoff.next());
      timer.unref();
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.wake = null;
  }

  /** Closing and closed are final: the pump's own transitions do not undo them. */
  private setState(next: 'connecting' | 'ready' | 'down'): void {
    if (this.state !== 'closing' && this.state !== 'closed') this.state = next;
  }

  private tlsOptions(t: NonNullable<KafkaSinkOptions['tls']>): ConnectionOptions {
    return {
      rejectUnauthorized: t.rejectUnauthorized,
      ...(t.ca ? { ca: t.ca } : {}),
      ...(t.cert ? { cert: t.cert } : {}),
      ...(t.key ? { key: t.key } : {}),
    };
  }
}
