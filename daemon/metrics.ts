/**
 * Prometheus metrics (prom-client), one Registry per daemon. Naming: `segd_` prefix, base units
 * (`_seconds`), counters end in `_total`. Labels are bounded: `stream` comes from the config, `reason`
 * from the tuples of pipeline/core/reasons.ts, `stage` from STAGES; every series of a tuple is
 * exported from the start (at 0). Per-stream label children are bound when a stream is registered,
 * so the hot path calls methods on a handle and never builds label objects.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { BatchTiming, MaskResult } from '../pipeline/core/mask-result.js';
import type { FrameAnalysis } from '../pipeline/analysis/frame-analysis.js';
import type { ZoneConfig } from '../pipeline/core/zone-config.js';
import type { KafkaHooks } from '../pipeline/publish/kafka-sink.js';
import type { MqttHooks } from '../pipeline/publish/mqtt-publisher.js';
import type { SnapshotHooks } from '../pipeline/publish/snapshot-sink.js';
import {
  DROP_REASONS,
  KAFKA_DROP_REASONS,
  KAFKA_MESSAGE_KINDS,
  MQTT_DROP_REASONS,
  SNAPSHOT_DROP_REASONS,
  MQTT_MESSAGE_KINDS,
  REFUSAL_REASONS,
  RESTART_REASONS,
  type DropReason,
  type KafkaDropReason,
  type KafkaMessageKind,
  type MqttDropReason,
  type SnapshotDropReason,
  type MqttMessageKind,
  type RefusalReason,
  type RestartReason,
} from '../pipeline/core/reasons.js';
import type { PublisherHooks } from '../pipeline/publish/ws-publisher.js';

/**
 * Pipeline stages, in order; for every frame that is sent they add up to capture→send:
 * decode_to_queue + queue_wait + batch_wait + inference + send. `encode` is the part of `send`
 * spent compressing (once per frame per encoding in use).
 */
export const STAGES = ['decode_to_queue', 'queue_wait', 'batch_wait', 'inference', 'encode', 'send'] as const;
export type Stage = (typeof STAGES)[number];

/** 1 ms … 2 s: a 10 fps camera has a 100 ms budget, inference on CPU can take ~1 s. */
export const LATENCY_BUCKETS: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.035, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2];

export interface MetricsOptions {
  /** Stream ids from the config; more can be added with registerStream(). */
  readonly streams?: readonly string[];
  /** Config batching.maxBatch: the batch-size histogram gets one bucket per size 1…maxBatch. */
  readonly maxBatch?: number;
  /** process_* and nodejs_* metrics (default true). */
  readonly defaultMetrics?: boolean;
}

export interface ModelInfo {
  readonly model: string;
  readonly architecture: string;
  readonly provider: string;
}

const LINT_FAILING_DEFAULTS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

type CounterChild = ReturnType<Counter<string>['labels']>;
type GaugeChild = ReturnType<Gauge<string>['labels']>;
type HistogramChild = ReturnType<Histogram<string>['labels']>;

interface PerStreamMetrics {
  decoded: Counter<string>;
  inferred: Counter<string>;
  published: Counter<string>;
  dropped: Counter<string>;
  restarts: Counter<string>;
  up: Gauge<string>;
}

const NS_PER_S = 1e9;
function seconds(fromNs: bigint, toNs: bigint): number {
  // Clamped: stage timestamps come from one monotonic clock, but never report a negative stage.
  const s = Number(toNs - fromNs) / NS_PER_S;
  return s > 0 ? s : 0;
}

/** Label children of one stream, bound once. */
export class StreamMetrics {
  private readonly decoded: CounterChild;
  private readonly inferred: CounterChild;
  private readonly published: CounterChild;
  private readonly up: GaugeChild;
  private readonly drops: Readonly<Record<DropReason, CounterChild>>;
  private readonly restarts: Readonly<Record<RestartReason, CounterChild>>;

  constructor(
    readonly streamId: string,
    m: PerStreamMetrics,
  ) {
    this.decoded = m.decoded.labels(streamId);
    this.inferred = m.inferred.labels(streamId);
    this.published = m.published.labels(streamId);
    this.up = m.up.labels(streamId);
    const drops = {} as Record<DropReason, CounterChild>;
    for (const reason of DROP_REASONS) drops[reason] = m.dropped.labels(streamId, reason);
    this.drops = drops;
    const restarts = {} as Record<RestartReason, CounterChild>;
    for (const reason of RESTART_REASONS) restarts[reason] = m.restarts.labels(streamId, reason);
    this.restarts = restarts;
    // Export every series from the start (0), so rates and absent() behave before the first event.
    for (const c of [this.decoded, this.inferred, this.published, ...Object.values(drops), ...Object.values(restarts)]) c.inc(0);
    this.up.set(0);
  }

  frameDecoded(): void {
    this.decoded.inc();
  }
  frameInferred(): void {
    this.inferred.inc();
  }
  framePublished(): void {
    this.published.inc();
  }
  dropped(reason: DropReason, count = 1): void {
    this.drops[reason].inc(count);
  }
  setUp(up: boolean): void {
    this.up.set(up ? 1 : 0);
  }
  /** A source restart, by why the previous ffmpeg child ended. */
  restarted(reason: RestartReason): void {
    this.restarts[reason].inc();
  }
}

export class SegdMetrics {
  readonly registry = new Registry();
  private readonly stageHist: Histogram<'stage'>;
  private readonly stageChildren: Readonly<Record<Stage, HistogramChild>>;
  private readonly captureToSend: Histogram<string>;
  private readonly batchSize: Histogram<string>;
  private readonly wsClients: Gauge<string>;
  private readonly modelInfo: Gauge<'model' | 'architecture' | 'provider'>;
  private readonly perStream: PerStreamMetrics;
  private readonly refusals: Readonly<Record<RefusalReason, CounterChild>>;
  private readonly streams = new Map<string, StreamMetrics>();
  /** Per stream, the class-area and zone label sets analysisObserver registered (removed with the stream). */
  private readonly analysisLabels = new Map<string, { classes: readonly string[]; zones: readonly ZoneConfig[] }>();
  private readonly classArea: Gauge<'stream' | 'class'>;
  private readonly zoneOccupancy: Gauge<'stream' | 'zone' | 'class'>;
  private readonly zoneOccupied: Gauge<'stream' | 'zone'>;
  private readonly mqttConnected: Gauge<string>;
  private readonly mqttMessages: Readonly<Record<MqttMessageKind, CounterChild>>;
  private readonly mqttDropped: Readonly<Record<MqttDropReason, CounterChild>>;
  private readonly kafkaConnected: Gauge<string>;
  private readonly kafkaBuffered: Gauge<string>;
  private readonly kafkaMessages: Readonly<Record<KafkaMessageKind, CounterChild>>;
  private readonly kafkaDropped: Readonly<Record<KafkaDropReason, CounterChild>>;
  private readonly snapshotsEncoded: Counter<string>;
  private readonly snapshotBytes: Counter<string>;
  private readonly snapshotsDropped: Readonly<Record<SnapshotDropReason, CounterChild>>;

  constructor(opts: MetricsOptions = {}) {
    const registers = [this.registry];
    const buckets = [...LATENCY_BUCKETS];
    this.stageHist = new Histogram({
      name: 'segd_stage_latency_seconds',
      help: 'Per-frame time in each pipeline stage: decode_to_queue, queue_wait, batch_wait, inference (per batch), encode (per encoding produced), send (inference end to last socket write, includes encode).',
      labelNames: ['stage'],
      buckets,
      registers,
    });
    const stageChildren = {} as Record<Stage, HistogramChild>;
    for (const stage of STAGES) {
      this.stageHist.zero({ stage });
      stageChildren[stage] = this.stageHist.labels(stage);
    }
    this.stageChildren = stageChildren;
    this.captureToSend = new Histogram({
      name: 'segd_capture_to_send_seconds',
      help: 'Frame decoded (last byte from ffmpeg) to its mask written to every subscribed client socket.',
      buckets,
      registers,
    });
    const maxBatch = opts.maxBatch ?? 8;
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new RangeError(`maxBatch: ${maxBatch}; expected an integer >= 1`);
    this.batchSize = new Histogram({
      name: 'segd_batch_size',
      help: 'Frames per inference batch.',
      buckets: Array.from({ length: Math.min(maxBatch, 64) }, (_, i) => i + 1),
      registers,
    });
    const stream = ['stream'];
    this.perStream = {
      decoded: new Counter({ name: 'segd_frames_decoded_total', help: 'Frames decoded by ffmpeg.', labelNames: stream, registers }),
      inferred: new Counter({ name: 'segd_frames_inferred_total', help: 'Frames that went through inference.', labelNames: stream, registers }),
      published: new Counter({ name: 'segd_frames_published_total', help: 'Masks handed to the WebSocket publisher (sent to every subscribed client that was not over its buffer limit).', labelNames: stream, registers }),
      dropped: new Counter({ name: 'segd_frames_dropped_total', help: 'Frames dropped, by reason; slow_client counts once per client that skipped a frame.', labelNames: ['stream', 'reason'], registers }),
      restarts: new Counter({
        name: 'segd_stream_restarts_total',
        help: `Source restarts after a failure or stall, by why the previous ffmpeg ended (${RESTART_REASONS.join(', ')}): stalled = no frame in time, killed by the watchdog; exited = ffmpeg quit (network error, corrupt input, killed).`,
        labelNames: ['stream', 'reason'],
        registers,
      }),
      up: new Gauge({ name: 'segd_stream_up', help: '1 while the stream delivers frames, else 0.', labelNames: stream, registers }),
    };
    this.wsClients = new Gauge({ name: 'segd_ws_clients', help: 'Connected WebSocket clients.', registers });
    const refused = new Counter({
      name: 'segd_requests_refused_total',
      help: `HTTP requests, WebSocket connections and control messages refused, by reason (${REFUSAL_REASONS.join(', ')}).`,
      labelNames: ['reason'],
      registers,
    });
    const refusals = {} as Record<RefusalReason, CounterChild>;
    for (const reason of REFUSAL_REASONS) {
      refusals[reason] = refused.labels(reason);
      refusals[reason].inc(0);
    }
    this.refusals = refusals;
    this.classArea = new Gauge({
      name: 'segd_class_area_ratio',
      help: 'Fraction of the latest frame covered by each class, per stream (the per-frame class-area histogram).',
      labelNames: ['stream', 'class'],
      registers,
    });
    this.zoneOccupancy = new Gauge({
      name: 'segd_zone_occupancy_ratio',
      help: "Fraction of a zone's pixels covered by each of its classes of interest, latest frame.",
      labelNames: ['stream', 'zone', 'class'],
      registers,
    });
    this.zoneOccupied = new Gauge({
      name: 'segd_zone_occupied',
      help: 'Zone state as MQTT and the zone events report it (threshold, hysteresis, minDurationMs applied): 1 occupied, 0 clear.',
      labelNames: ['stream', 'zone'],
      registers,
    });
    this.mqttConnected = new Gauge({ name: 'segd_mqtt_connected', help: '1 while connected to the MQTT broker, else 0 (also 0 when MQTT is off).', registers });
    const mqttMessages = new Counter({
      name: 'segd_mqtt_messages_total',
      help: `MQTT messages handed to the broker connection, by kind (${MQTT_MESSAGE_KINDS.join(', ')}); QoS 1 events once acknowledged.`,
      labelNames: ['kind'],
      registers,
    });
    const mqttDropped = new Counter({
      name: 'segd_mqtt_dropped_total',
      help: `MQTT messages not sent, by reason (${MQTT_DROP_REASONS.join(', ')}).`,
      labelNames: ['reason'],
      registers,
    });
    this.mqttMessages = Object.fromEntries(MQTT_MESSAGE_KINDS.map((k) => [k, mqttMessages.labels(k)])) as Record<MqttMessageKind, CounterChild>;
    this.mqttDropped = Object.fromEntries(MQTT_DROP_REASONS.map((r) => [r, mqttDropped.labels(r)])) as Record<MqttDropReason, CounterChild>;
    for (const c of [...Object.values(this.mqttMessages), ...Object.values(this.mqttDropped)]) c.inc(0);
    this.mqttConnected.set(0);
    this.kafkaConnected = new Gauge({ name: 'segd_kafka_connected', help: '1 while the Kafka sink delivers, else 0 (also 0 when Kafka is off).', registers });
    this.kafkaBuffered = new Gauge({ name: 'segd_kafka_buffered_messages', help: 'Kafka messages waiting to be delivered (buffered plus the batch in flight).', registers });
    const kafkaMessages = new Counter({
      name: 'segd_kafka_messages_total',
      help: `Kafka messages the brokers acknowledged, by kind (${KAFKA_MESSAGE_KINDS.join(', ')}).`,
      labelNames: ['kind'],
      registers,
    });
    const kafkaDropped = new Counter({
      name: 'segd_kafka_dropped_total',
      help: `Kafka messages not delivered, by reason (${KAFKA_DROP_REASONS.join(', ')}).`,
      labelNames: ['reason'],
      registers,
    });
    this.kafkaMessages = Object.fromEntries(KAFKA_MESSAGE_KINDS.map((k) => [k, kafkaMessages.labels(k)])) as Record<KafkaMessageKind, CounterChild>;
    this.kafkaDropped = Object.fromEntries(KAFKA_DROP_REASONS.map((r) => [r, kafkaDropped.labels(r)])) as Record<KafkaDropReason, CounterChild>;
    for (const c of [...Object.values(this.kafkaMessages), ...Object.values(this.kafkaDropped)]) c.inc(0);
    this.kafkaConnected.set(0);
    this.kafkaBuffered.set(0);
    this.snapshotsEncoded = new Counter({ name: 'segd_snapshots_total', help: 'Snapshots encoded (zone enters sent to MQTT and API requests).', registers });
    this.snapshotBytes = new Counter({ name: 'segd_snapshot_bytes_total', help: 'Bytes of the snapshots encoded (JPEG).', registers });
    const snapshotsDropped = new Counter({
      name: 'segd_snapshots_dropped_total',
      help: `Snapshots not made or not sent, by reason (${SNAPSHOT_DROP_REASONS.join(', ')}); frames are never dropped for a snapshot.`,
      labelNames: ['reason'],
      registers,
    });
    this.snapshotsDropped = Object.fromEntries(SNAPSHOT_DROP_REASONS.map((r) => [r, snapshotsDropped.labels(r)])) as Record<SnapshotDropReason, CounterChild>;
    for (const c of Object.values(this.snapshotsDropped)) c.inc(0);
    this.modelInfo = new Gauge({
      name: 'segd_model_info',
      help: 'The served model; value 1.',
      labelNames: ['model', 'architecture', 'provider'],
      registers,
    });
    if (opts.defaultMetrics ?? true) {
      collectDefaultMetrics({ register: this.registry });
      // prom-client exports these three gauges with a `_total` suffix, which promtool's lint rejects
      // (reserved for counters); the same numbers remain, split by type, in nodejs_active_{handles,requests,resources}.
      for (const name of LINT_FAILING_DEFAULTS) this.registry.removeSingleMetric(name);
    }
    for (const id of opts.streams ?? []) this.registerStream(id);
  }

  /** Content-Type of render()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Prometheus text exposition of every metric. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  /** Binds the stream's label children (idempotent) and returns its handle. */
  registerStream(streamId: string): StreamMetrics {
    let s = this.streams.get(streamId);
    if (s === undefined) {
      s = new StreamMetrics(streamId, this.perStream);
      this.streams.set(streamId, s);
    }
    return s;
  }

  /**
   * Removes every series of a stream (a stream removed at run time): label values stay bounded
   * however many streams come and go. A handle still held keeps counting into nothing exported;
   * registering the id again starts its series at 0. False when it was not registered.
   */
  removeStream(streamId: string): boolean {
    if (!this.streams.delete(streamId)) return false;
    const p = this.perStream;
    for (const m of [p.decoded, p.inferred, p.published, p.up]) m.remove(streamId);
    for (const reason of DROP_REASONS) p.dropped.remove(streamId, reason);
    for (const reason of RESTART_REASONS) p.restarts.remove(streamId, reason);
    this.removeAnalysis(streamId);
    return true;
  }

  /** Drops the class-area and zone series of a stream (removed, or re-registered with other zones/classes). */
  removeAnalysis(streamId: string): void {
    const labels = this.analysisLabels.get(streamId);
    if (labels === undefined) return;
    this.analysisLabels.delete(streamId);
    for (const c of labels.classes) this.classArea.remove(streamId, c);
    for (const z of labels.zones) {
      for (const c of z.classes) this.zoneOccupancy.remove(streamId, z.name, c);
      this.zoneOccupied.remove(streamId, z.name);
    }
  }

  /** The handle of a registered stream; throws naming the id when it was never registered. */
  stream(streamId: string): StreamMetrics {
    const s = this.streams.get(streamId);
    if (s === undefined) throw new RangeError(`metrics: stream ${JSON.stringify(streamId)} was never registered`);
    return s;
  }

  /** Per-frame stages known when the batch returns: decode_to_queue, queue_wait, batch_wait. */
  observeResultStages(r: MaskResult): void {
    this.stageChildren.decode_to_queue.observe(seconds(r.decodedAtNs, r.queuedAtNs));
    this.stageChildren.queue_wait.observe(seconds(r.queuedAtNs, r.dequeuedAtNs));
    this.stageChildren.batch_wait.observe(seconds(r.dequeuedAtNs, r.inferStartNs));
  }

  /** Once per batch: its size and its inference time. */
  observeBatch(t: BatchTiming): void {
    this.batchSize.observe(t.size);
    this.stageChildren.inference.observe(seconds(t.inferStartNs, t.inferEndNs));
  }

  refused(reason: RefusalReason): void {
    this.refusals[reason].inc();
  }

  /**
   * The per-frame class-area and zone gauges of one stream, label children bound here (once):
   * the returned function only sets values.
   */
  analysisObserver(streamId: string, classNames: readonly string[], zones: readonly ZoneConfig[]): (a: FrameAnalysis) => void {
    this.removeAnalysis(streamId);
    this.analysisLabels.set(streamId, { classes: classNames, zones });
    const classes = classNames.map((name) => this.classArea.labels(streamId, name));
    const zoneGauges = zones.map((z) => z.classes.map((c) => ({ gauge: this.zoneOccupancy.labels(streamId, z.name, c), name: c })));
    const occupiedGauges = zones.map((z) => this.zoneOccupied.labels(streamId, z.name));
    return (a) => {
      const { counts, pixels } = a.areas;
      for (let c = 0; c < classes.length; c++) (classes[c] as GaugeChild).set(pixels > 0 ? (counts[c] as number) / pixels : 0);
      for (let j = 0; j < zoneGauges.length; j++) {
        const reading = a.readings[j];
        if (reading === undefined) continue;
        for (const g of zoneGauges[j] ?? []) g.gauge.set(reading.classes[g.name] ?? 0);
      }
      for (let j = 0; j < occupiedGauges.length; j++) (occupiedGauges[j] as GaugeChild).set(a.occupied[j] === true ? 1 : 0);
    };
  }

  /** Hooks for the MQTT publisher. */
  snapshotHooks(): SnapshotHooks {
    return {
      onEncoded: (_seconds, bytes) => {
        this.snapshotsEncoded.inc();
        this.snapshotBytes.inc(bytes);
      },
      onDropped: (reason) => this.snapshotsDropped[reason].inc(),
    };
  }

  mqttHooks(): MqttHooks {
    return {
      onConnected: (up) => this.mqttConnected.set(up ? 1 : 0),
      onSent: (kind) => this.mqttMessages[kind].inc(),
      onDropped: (reason, n) => this.mqttDropped[reason].inc(n),
    };
  }

  /** Hooks for the Kafka sink. */
  kafkaHooks(): KafkaHooks {
    return {
      onConnected: (up) => this.kafkaConnected.set(up ? 1 : 0),
      onSent: (kind, n) => this.kafkaMessages[kind].inc(n),
      onDropped: (reason, n) => this.kafkaDropped[reason].inc(n),
      onBuffered: (n) => this.kafkaBuffered.set(n),
    };
  }

  /** Replaces the model info series (the provider is known only after the engine loaded). */
  setModelInfo(info: ModelInfo): void {
    this.modelInfo.reset();
    this.modelInfo.labels(info.model, info.architecture, info.provider).set(1);
  }

  /**
   * Hooks for WsPublisher: encode and send stages, capture→send, frames published, slow_client
   * drops and the client gauge. Frames with no client are counted published but not timed.
   */
  publisherHooks(): PublisherHooks {
    return {
      onEncoded: (_encoding, s) => this.stageChildren.encode.observe(s),
      onFrameSent: (result, info) => {
        // A frame of a stream removed while it was being sent must not bring its series back.
        this.streams.get(result.streamId)?.framePublished();
        if (info.clients === 0) return;
        this.stageChildren.send.observe(seconds(result.inferEndNs, info.sentAtNs));
        this.captureToSend.observe(seconds(result.decodedAtNs, info.sentAtNs));
      },
      onDrop: (streamId, reason) => this.streams.get(streamId)?.dropped(reason),
      onClientCount: (n) => this.wsClients.set(n),
      onRefused: (reason) => this.refusals[reason].inc(),
    };
  }
}

export function createMetrics(opts: MetricsOptions = {}): SegdMetrics {
  return new SegdMetrics(opts);
}
