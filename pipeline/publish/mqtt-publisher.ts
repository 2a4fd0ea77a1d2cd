/**
 * The MQTT 5 publisher (docs/mqtt.md), through MQTT.js. It never touches segmentation: publish()
 * only builds payloads and hands them to the client while connected; nothing waits for the broker.
 *
 * - availability: `online` retained on every connect, `offline` as the QoS 1 retained Last Will
 *   and sent explicitly by close();
 * - stats (QoS 0) and masks (QoS 0, message expiry) are throttled per stream on capture time and
 *   dropped, counted, while disconnected (stale by the time they would arrive) or while the socket
 *   holds more than MAX_UNSENT_BYTES;
 * - zone states (QoS 1, retained) are sent after a stream's first frame, on change, and re-sent on
 *   every connect (those with a reading), so a broker that restarted without persistence has them
 *   again; nothing is retained before the first frame says what a zone holds;
 * - a zone or stream that goes away (sink.ts onStreamChanged) sends `exit` for an occupancy it ended
 *   and clears its retained state topic (an empty retained message), queued like events;
 * - zone events (QoS 1) wait in a bounded queue while disconnected (oldest dropped, counted);
 *   events not acknowledged when a connection drops are queued again (at-least-once);
 * - Home Assistant discovery configs (ha-discovery.ts; QoS 1, retained) are sent on every connect,
 *   before the states, and again when a stream, its zones or the model change; an entity that goes
 *   away gets an empty retained config (queued like events);
 * - snapshots (JPEG, QoS 0, retained) are sent when connected, dropped (counted) otherwise.
 *
 * States: connecting → connected → backoff → connecting … → closing → closed. MQTT.js's own
 * reconnect timer is off (reconnectPeriod 0): reconnects follow core/backoff.ts, with jitter.
 */
import { connect, type IClientOptions, type IClientPublishOptions, type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import { Backoff } from '../core/backoff.js';
import type { FrameAnalysis, StreamAnalyzer } from '../analysis/frame-analysis.js';
import type { MqttDropReason, MqttMessageKind } from '../core/reasons.js';
import { redactUrl } from '../core/redact.js';
import type { ZoneEvent, ZoneState } from '../analysis/zone-tracker.js';
import { BoundedQueue } from '../core/bounded-queue.js';
import { HaDiscovery, type HaUpdate } from './ha-discovery.js';
import { MqttTopics, STATUS_OFFLINE, STATUS_ONLINE, eventPayload, maskPayload, statsPayload, zoneStatePayload } from './mqtt-messages.js';
import type { Sink, SinkFrame, SinkModel, SinkStreamChange } from './sink.js';

export type MqttState = 'connecting' | 'connected' | 'backoff' | 'closing' | 'closed';

/** Above this many unsent bytes on the socket, QoS 0 messages are dropped (`slow_broker`). */
export const MAX_UNSENT_BYTES = 1024 * 1024;
/** How long close() waits for the broker to acknowledge `offline`. */
const CLOSE_TIMEOUT_MS = 1500;

export interface MqttHooks {
  onConnected?(connected: boolean): void;
  onSent?(kind: MqttMessageKind): void;
  onDropped?(reason: MqttDropReason, count: number): void;
}

export interface MqttStreamInfo {
  readonly id: string;
  readonly zoneNames: readonly string[];
  /** The zones' current states (read on connect, to re-send the retained state topics). */
  readonly zoneStates: () => readonly ZoneState[];
}

/** What the MQTT publisher needs of one stream's analysis: its id, zone names and their current states. */
export function mqttStreamInfo(a: StreamAnalyzer): MqttStreamInfo {
  return { id: a.streamId, zoneNames: a.zones.map((z) => z.name), zoneStates: () => a.states() };
}

export interface MqttPublisherOptions {
  readonly url: string;
  readonly clientId: string;
  readonly node: string;
  readonly username: string | null;
  readonly password: string | null;
  readonly tls: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly rejectUnauthorized: boolean };
  readonly topicPrefix: string;
  readonly statsIntervalMs: number;
  readonly masks: { readonly enabled: boolean; readonly intervalMs: number; readonly expirySeconds: number };
  readonly offlineQueue: number;
  readonly keepaliveSeconds: number;
  readonly connectTimeoutMs: number;
  readonly reconnect: { readonly minMs: number; readonly maxMs: number };
  readonly modelId: string;
  readonly classNames: readonly string[];
  readonly streams: readonly MqttStreamInfo[];
  /** Home Assistant discovery (null = off) and whether snapshot topics exist. */
  readonly homeAssistant: { readonly prefix: string; readonly classes: readonly string[]; readonly swVersion: string } | null;
  readonly snapshots: boolean;
  readonly logger: Logger;
  readonly hooks?: MqttHooks;
}

/** Per stream, decided at construction: topics, throttles, the stream id's bytes. */
interface StreamCtx {
  readonly info: MqttStreamInfo;
  readonly statsTopic: string;
  readonly eventsTopic: string;
  readonly maskTopic: string;
  readonly zoneTopics: readonly string[];
  readonly idBytes: Buffer;
  /** Capture time of the last stats / mask sent; -Infinity = none yet. */
  lastStatsMs: number;
  lastMaskMs: number;
  /** Frames since the last stats message (its masksPerSecond). */
  framesSinceStats: number;
  /** Every zone's state has been sent with a reading (after the stream's first frame, or on a connect since). */
  statesSent: boolean;
}

/** A QoS 1 message that waits for a connection: a zone event, or a retained state topic cleared. */
interface QueuedEvent {
  readonly topic: string;
  readonly payload: string;
  readonly kind: 'event' | 'zone_state' | 'discovery' | 'snapshot';
}

const QOS0: IClientPublishOptions = { qos: 0, retain: false };
const QOS1: IClientPublishOptions = { qos: 1, retain: false };
const RETAINED: IClientPublishOptions = { qos: 1, retain: true };
const RETAINED_QOS0: IClientPublishOptions = { qos: 0, retain: true };

/** MQTT 5 CONNACK reason codes (and MQTT 3 return codes) that mean "your credentials". */
const AUTH_CODES = new Set([4, 5, 134, 135]);

export class MqttPublisher implements Sink {
  readonly name = 'mqtt';
  private state: MqttState = 'connecting';
  private readonly client: MqttClient;
  private readonly topics: MqttTopics;
  private readonly streams = new Map<string, StreamCtx>();
  private readonly queue: BoundedQueue<QueuedEvent>;
  /** QoS 1 events handed to the client and not yet acknowledged, by a local token. */
  private readonly inflight = new Map<number, QueuedEvent>();
  private nextToken = 0;
  private readonly backoff: Backoff;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private readonly log: Logger;
  private readonly broker: string;
  /** The last connection problem logged, so a retry loop logs it once, not every attempt. */
  private lastProblem: string | null = null;
  private readonly maskOptions: IClientPublishOptions;
  private modelIdBytes: Buffer;
  private modelId: string;
  private classNames: readonly string[];
  private closing: Promise<void> | null = null;
  private readonly hooks: MqttHooks;
  private readonly ha: HaDiscovery | null;

  constructor(private readonly opts: MqttPublisherOptions) {
    this.log = opts.logger.child({ component: 'mqtt' });
    this.broker = redactUrl(opts.url);
    this.hooks = opts.hooks ?? {};
    this.topics = new MqttTopics(opts.topicPrefix, opts.node);
    this.queue = new BoundedQueue<QueuedEvent>(opts.offlineQueue);
    this.backoff = new Backoff({ minMs: opts.reconnect.minMs, maxMs: opts.reconnect.maxMs, jitter: 'full' });
    this.modelId = opts.modelId;
    this.classNames = opts.classNames;
    this.modelIdBytes = Buffer.from(opts.modelId, 'utf8');
    this.maskOptions = { qos: 0, retain: false, properties: { messageExpiryInterval: opts.masks.expirySeconds } };
    for (const s of opts.streams) this.setStream(s);
    const ha = opts.homeAssistant;
    this.ha =
      ha === null
        ? null
        : new HaDiscovery(
            { prefix: ha.prefix, topics: this.topics, node: opts.node, swVersion: ha.swVersion, classes: ha.classes, snapshots: opts.snapshots },
            { id: opts.modelId, classNames: opts.classNames },
            opts.streams.map((s) => ({ id: s.id, zoneNames: s.zoneNames })),
          );
    const options: IClientOptions = {
      protocolVersion: 5,
      clientId: opts.clientId,
      clean: true,
      keepalive: opts.keepaliveSeconds,
      connectTimeout: opts.connectTimeoutMs,
      reconnectPeriod: 0,
      queueQoSZero: false,
      resubscribe: false,
      will: { topic: this.topics.status, payload: Buffer.from(STATUS_OFFLINE), qos: 1, retain: true },
      rejectUnauthorized: opts.tls.rejectUnauthorized,
      ...(opts.username !== null ? { username: opts.username } : {}),
      ...(opts.password !== null ? { password: opts.password } : {}),
      ...(opts.tls.ca ? { ca: opts.tls.ca } : {}),
      ...(opts.tls.cert ? { cert: opts.tls.cert } : {}),
      ...(opts.tls.key ? { key: opts.tls.key } : {}),
    };
    this.hooks.onConnected?.(false);
    this.log.info({ broker: this.broker, node: opts.node, clientId: opts.clientId, status: this.topics.status }, 'mqtt connecting');
    this.client = connect(opts.url, options);
    this.client.on('connect', () => this.onConnect());
    this.client.on('close', () => this.onClose());
    this.client.on('error', (err: Error & { code?: number | string }) => this.onError(err));
  }

  /** A stream added at run time, or changed (its zones): publishes from its next frame on. */
  setStream(s: MqttStreamInfo): void {
    this.streams.set(s.id, {
      info: s,
      statsTopic: this.topics.stats(s.id),
      eventsTopic: this.topics.events(s.id),
      maskTopic: this.topics.mask(s.id),
      zoneTopics: s.zoneNames.map((z) => this.topics.zoneState(s.id, z)),
      idBytes: Buffer.from(s.id, 'utf8'),
      lastStatsMs: Number.NEGATIVE_INFINITY,
      lastMaskMs: Number.NEGATIVE_INFINITY,
      framesSinceStats: 0,
      statesSent: false,
    });
  }

  /** A stream removed at run time: nothing more is published for it. */
  removeStream(id: string): void {
    this.streams.delete(id);
  }

  /** The model swapped at run time: stats and masks carry its id and classes from now on. */
  setModel(modelId: string, classNames: readonly string[]): void {
    this.modelId = modelId;
    this.classNames = classNames;
    this.modelIdBytes = Buffer.from(modelId, 'utf8');
  }

  get connectionState(): MqttState {
    return this.state;
  }

  /** Events waiting for a connection. */
  get queued(): number {
    return this.queue.length;
  }

  // Sink (sink.ts): the frame router's calls.
  onFrame(f: SinkFrame): void {
    if (f.analysis !== null) this.publish(f.analysis);
  }

  onModelChanged(m: SinkModel): void {
    this.setModel(m.id, m.classNames);
    if (this.ha !== null && this.closing === null) this.sendDiscovery(this.ha.setModel({ id: m.id, classNames: m.classNames }));
  }

  /**
   * A stream added, changed or removed, or its analysis rebuilt: occupancies the change ended get
   * their `exit`, zones that are gone get their retained state cleared (both queued while
   * disconnected), then the stream publishes with its new zones (states after its next frame).
   */
  onStreamChanged(c: SinkStreamChange): void {
    if (this.closing !== null) return;
    const eventsTopic = this.topics.events(c.streamId);
    for (const e of c.ended) this.sendEvent({ topic: eventsTopic, payload: eventPayload(this.opts.node, e), kind: 'event' });
    for (const zone of c.removedZones) {
      this.sendEvent({ topic: this.topics.zoneState(c.streamId, zone), payload: '', kind: 'zone_state' });
      if (this.opts.snapshots) this.sendEvent({ topic: this.topics.zoneSnapshot(c.streamId, zone), payload: '', kind: 'snapshot' });
    }
    if (c.analyzer === null) {
      this.removeStream(c.streamId);
      if (this.opts.snapshots) this.sendEvent({ topic: this.topics.snapshot(c.streamId), payload: '', kind: 'snapshot' });
      if (this.ha !== null) this.sendDiscovery(this.ha.removeStream(c.streamId));
    } else {
      const info = mqttStreamInfo(c.analyzer);
      this.setStream(info);
      if (this.ha !== null) this.sendDiscovery(this.ha.setStream({ id: info.id, zoneNames: info.zoneNames }));
    }
  }

  /**
   * A snapshot (JPEG) of the stream, retained on `<prefix>/<stream>/snapshot` and on each zone's
   * snapshot topic given; dropped, counted, while disconnected or while the broker is slow.
   */
  publishSnapshot(streamId: string, zones: readonly string[], jpeg: Buffer): boolean {
    const s = this.streams.get(streamId);
    // Encoded while the stream or a zone went away: nothing is retained for what was cleared.
    if (this.closing !== null || s === undefined || !this.canSendQos0()) return false;
    this.client.publish(this.topics.snapshot(streamId), jpeg, RETAINED_QOS0);
    this.hooks.onSent?.('snapshot');
    for (const z of zones) {
      if (!s.info.zoneNames.includes(z)) continue;
      this.client.publish(this.topics.zoneSnapshot(streamId, z), jpeg, RETAINED_QOS0);
      this.hooks.onSent?.('snapshot');
    }
    return true;
  }

  /** New or changed configs at once when connected (otherwise the next connect sends them all); cleared entities queued. */
  private sendDiscovery(u: HaUpdate): void {
    if (this.state === 'connected') {
      for (const [topic, payload] of u.publish) {
        this.client.publish(topic, payload, RETAINED);
        this.hooks.onSent?.('discovery');
      }
    }
    for (const topic of u.clear) this.sendEvent({ topic, payload: '', kind: 'discovery' });
  }

  /** One frame's analysis: zone events and states at once, stats and masks when their interval allows. */
  publish(a: FrameAnalysis): void {
    if (this.closing !== null) return;
    const s = this.streams.get(a.result.streamId);
    if (s === undefined) return;
    if (a.events.length > 0) this.publishEvents(s, a.events);
    // The first frame's states, then changes only (publishEvents).
    if (!s.statesSent && s.zoneTopics.length > 0 && this.state === 'connected') this.sendZoneStates(s, null);
    const t = a.result.captureTimeMs;
    s.framesSinceStats++;
    if (t - s.lastStatsMs >= this.opts.statsIntervalMs) {
      // The frames after the previous stats message, over the capture time since it.
      const masksPerSecond = Number.isFinite(s.lastStatsMs) && t > s.lastStatsMs ? ((s.framesSinceStats - 1) * 1000) / (t - s.lastStatsMs) : null;
      s.lastStatsMs = t;
      s.framesSinceStats = 1;
      if (this.canSendQos0()) {
        const payload = statsPayload(a, { node: this.opts.node, model: this.modelId, classNames: this.classNames, zoneNames: s.info.zoneNames, masksPerSecond });
        this.client.publish(s.statsTopic, payload, QOS0);
        this.hooks.onSent?.('stats');
      }
    }
    if (this.opts.masks.enabled && t - s.lastMaskMs >= this.opts.masks.intervalMs) {
      s.lastMaskMs = t;
      if (this.canSendQos0()) {
        this.client.publish(s.maskTopic, maskPayload(a.result, s.idBytes, this.modelIdBytes), this.maskOptions);
        this.hooks.onSent?.('mask');
      }
    }
  }

  /**
   * Sends `offline` (retained) when connected, then disconnects; the Last Will is not sent on a
   * clean disconnect, hence the explicit message. Idempotent.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      this.state = 'closing';
      if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
      this.reconnectTimer = null;
      if (this.client.connected) {
        let timer: NodeJS.Timeout | undefined;
        const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_TIMEOUT_MS)));
        await Promise.race([this.client.publishAsync(this.topics.status, STATUS_OFFLINE, RETAINED).then(() => this.hooks.onSent?.('status')), timeout]).catch(
          (err: unknown) => this.log.warn({ err, broker: this.broker }, 'mqtt: could not send offline'),
        );
        clearTimeout(timer);
        await Promise.race([this.client.endAsync(), new Promise((resolve) => setTimeout(resolve, CLOSE_TIMEOUT_MS).unref())]).catch(() => undefined);
      }
      this.client.end(true);
      this.state = 'closed';
      this.hooks.onConnected?.(false);
      this.log.info({ broker: this.broker, queued: this.queue.length }, 'mqtt closed');
    })();
    return this.closing;
  }

  private canSendQos0(): boolean {
    if (this.state !== 'connected') {
      this.hooks.onDropped?.('disconnected', 1);
      return false;
    }
    if (this.client.stream.writableLength > MAX_UNSENT_BYTES) {
      this.hooks.onDropped?.('slow_broker', 1);
      return false;
    }
    return true;
  }

  private publishEvents(s: StreamCtx, events: readonly ZoneEvent[]): void {
    let statesChanged = false;
    for (const e of events) {
      this.sendEvent({ topic: s.eventsTopic, payload: eventPayload(this.opts.node, e), kind: 'event' });
      if (e.type !== 'update') statesChanged = true;
    }
    // Not queued while disconnected: every connect re-sends the current states.
    if (statesChanged && s.statesSent && this.state === 'connected') this.sendZoneStates(s, new Set(events.map((e) => e.zone)));
  }

  /** Retained states of the stream's zones (`only` those, or all); a zone without a reading yet is not sent. */
  private sendZoneStates(s: StreamCtx, only: ReadonlySet<string> | null): void {
    const states = s.info.zoneStates();
    let all = true;
    states.forEach((z, j) => {
      if (z.reading === null) {
        all = false;
        return;
      }
      if (only !== null && !only.has(z.zone)) return;
      this.client.publish(s.zoneTopics[j] as string, zoneStatePayload(this.opts.node, s.info.id, z), RETAINED);
      this.hooks.onSent?.('zone_state');
    });
    if (only === null && all) s.statesSent = true;
  }

  private sendEvent(e: QueuedEvent): void {
    if (this.state !== 'connected' || this.queue.length > 0) {
      if (this.queue.push(e) !== undefined) this.hooks.onDropped?.('offline_queue_full', 1);
      return;
    }
    this.sendQos1(e);
  }

  private sendQos1(e: QueuedEvent): void {
    const token = this.nextToken++;
    this.inflight.set(token, e);
    this.client.publish(e.topic, e.payload, e.kind === 'event' ? QOS1 : RETAINED, (err) => {
      // After a disconnect the entry was queued again (onClose); a late callback changes nothing.
      if (!this.inflight.delete(token) || err) return;
      this.hooks.onSent?.(e.kind);
    });
  }

  private onConnect(): void {
    if (this.closing !== null) return;
    this.state = 'connected';
    this.backoff.reset();
    this.lastProblem = null;
    this.hooks.onConnected?.(true);
    this.log.info({ broker: this.broker, queued: this.queue.length }, 'mqtt connected');
    this.client.publish(this.topics.status, STATUS_ONLINE, RETAINED);
    this.hooks.onSent?.('status');
    // Configs before states, so HA subscribes to the state topics with their retained messages waiting.
    for (const [topic, payload] of this.ha?.all() ?? []) {
      this.client.publish(topic, payload, RETAINED);
      this.hooks.onSent?.('discovery');
    }
    for (const s of this.streams.values()) if (s.zoneTopics.length > 0) this.sendZoneStates(s, null);
    for (let e = this.queue.shift(); e !== undefined; e = this.queue.shift()) this.sendQos1(e);
  }

  private onClose(): void {
    if (this.closing !== null) return;
    const wasConnected = this.state === 'connected';
    this.state = 'backoff';
    if (wasConnected) {
      this.hooks.onConnected?.(false);
      this.log.warn({ broker: this.broker }, 'mqtt connection lost; reconnecting with backoff');
    }
    // Unacknowledged events go back to the front of the queue, in order (at-least-once).
    const unacked = [...this.inflight.values()];
    this.inflight.clear();
    const dropped = this.queue.unshiftAll(unacked);
    if (dropped > 0) this.hooks.onDropped?.('offline_queue_full', dropped);
    if (this.reconnectTimer !== null) return;
    const delay = this.backoff.next();
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.closing !== null) return;
      this.state = 'connecting';
      this.client.reconnect();
    }, delay);
    this.reconnectTimer.unref();
  }

  /** One line per distinct problem until the next successful connect; the password never appears. */
  private onError(err: Error & { code?: number | string }): void {
    const auth = typeof err.code === 'number' && AUTH_CODES.has(err.code);
    const problem = auth ? `auth:${err.code}` : `${String(err.code ?? '')}:${err.message}`;
    if (problem === this.lastProblem) {
      this.log.debug({ broker: this.broker, code: err.code }, 'mqtt: %s (again)', err.message);
      return;
    }
    this.lastProblem = problem;
    if (auth) {
      this.log.error(
        { broker: this.broker, username: this.opts.username, reasonCode: err.code },
        `mqtt broker ${this.broker} refused the credentials (${err.message}); check mqtt.username and the password; retrying with backoff`,
      );
    } else {
      this.log.warn({ broker: this.broker, code: err.code }, `mqtt broker ${this.broker}: ${err.message}; retrying with backoff`);
    }
  }
}
