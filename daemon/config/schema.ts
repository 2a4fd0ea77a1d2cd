/**
 * The config file's shape: one JSON Schema, built with TypeBox, that ajv validates (every
 * violation at once, defaults applied, load.ts) and that the TypeScript type is derived from.
 * Every default lives here, once; config/default.yaml spells them out and a unit test
 * (test/unit/config-defaults.test.ts) holds the two together.
 */
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { ENGINE_KINDS, KAFKA_ACKS, KAFKA_COMPRESSIONS, KAFKA_SASL_MECHANISMS, PROVIDER_NAMES } from '../../pipeline/core/reasons.js';
import { DEFAULT_ALLOW_SPINNING } from '../../pipeline/engine/provider-options.js';
import { FFMPEG_DEFAULT_THREADS } from '../../pipeline/sources/ffmpeg-args.js';
import { Nullable, StringEnum } from '../../pipeline/core/schema-builders.js';
import { StreamConfigSchema } from '../../pipeline/core/stream-config.js';
import { TRITON_URL_PATTERN } from '../../pipeline/engine/triton-transport.js';
import { DEFAULT_MAX_CONNECTIONS } from '../http-server.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_INCOMING_MESSAGE_BYTES } from '../../pipeline/publish/protocol.js';
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_CLIENTS_PER_ADDRESS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT } from '../../pipeline/publish/ws-publisher.js';

/** Streams one daemon serves (config file and API alike): stream ids become metric label values. */
export const MAX_STREAMS = 64;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A top-level mapping: may be left out (then every key takes its default); unknown keys are errors. */
function Section<T extends TProperties>(properties: T) {
  return Type.Object(properties, { additionalProperties: false, default: {} });
}

/** Path segments of plain characters: MQTT wildcards (#, +), empty levels and leading or trailing slashes are refused. */
export const MQTT_TOPIC_PREFIX_PATTERN = '^[A-Za-z0-9_-]{1,64}(/[A-Za-z0-9_-]{1,64}){0,7}$';
/** The node name is one topic level and a log field. */
export const MQTT_NODE_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const NullablePath = () => Nullable(Type.String({ minLength: 1, default: null }));

/** Snapshots (pipeline/publish/snapshot-sink.ts): on MQTT for zone enters, and GET /api/streams/:id/snapshot.jpg. */
const SnapshotsSection = Section({
  /** JPEG of the frame with its mask blended and the zone outlined, on a zone's enter: `<topicPrefix>/<stream>/snapshot` (+ per zone). */
  enabled: Type.Boolean({ default: true }),
  /** Per camera, at most one MQTT snapshot per this many ms (capture time); more are dropped, counted. */
  minIntervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 2000 }),
  /** The mask's weight over the frame: 0 = the frame alone, 1 = the class colours alone. */
  opacity: Type.Number({ minimum: 0, maximum: 1, default: 0.5 }),
  quality: Type.Integer({ minimum: 1, maximum: 100, default: 80 }),
});

/** The snapshot settings when `mqtt` is off (the API still serves snapshots). */
export const SNAPSHOT_DEFAULTS: Static<typeof SnapshotsSection> = Value.Create(SnapshotsSection);

const MqttSection = Type.Object(
  {
    /** Broker URL: mqtt://, mqtts:// (TLS), ws:// or wss:// (MQTT over WebSocket). Credentials belong in username/password. */
    url: Type.String({ pattern: '^(mqtt|mqtts|ws|wss)://[^\\s]+$' }),
    /** This daemon's name in topics (`<prefix>/nodes/<node>/status`); null = the host name, sanitised. */
    node: Nullable(Type.String({ pattern: MQTT_NODE_PATTERN, default: null })),
    /** MQTT client id; null = `segd-<node>`. */
    clientId: Nullable(Type.String({ minLength: 1, maxLength: 128, default: null })),
    username: Nullable(Type.String({ minLength: 1, default: null })),
    /** Resolved like the bearer token: env SEGD_MQTT_PASSWORD, SEGD_MQTT_PASSWORD_FILE, passwordFile, password. Never logged. */
    password: Nullable(Type.String({ minLength: 1, default: null })),
    passwordFile: NullablePath(),
    tls: Section({
      /** PEM files; relative paths resolve against the config file's directory. */
      ca: NullablePath(),
      cert: NullablePath(),
      key: NullablePath(),
      rejectUnauthorized: Type.Boolean({ default: true }),
    }),
    topicPrefix: Type.String({ pattern: MQTT_TOPIC_PREFIX_PATTERN, default: 'segd' }),
    /** Per stream, at most one `<prefix>/<stream>/stats` message per this many ms (capture time); 0 = every frame. */
    statsIntervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000 }),
    masks: Section({
      /** `<prefix>/<stream>/mask`: the WebSocket mask message (deflate) on MQTT. */
      enabled: Type.Boolean({ default: false }),
      intervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000 }),
      /** MQTT 5 message expiry: a broker drops an undelivered mask after this long. */
      expirySeconds: Type.Integer({ minimum: 1, maximum: 86_400, default: 10 }),
    }),
    /** QoS 1 events kept while the broker is unreachable; beyond it the oldest is dropped (counted). */
    offlineQueue: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
    keepaliveSeconds: Type.Integer({ minimum: 1, maximum: 3600, default: 30 }),
    connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    /** Reconnect delays: exponential with jitter between these (core/backoff.ts). */
    reconnect: Section({
      minMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 1000 }),
      maxMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 30_000 }),
    }),
    /** Home Assistant (docs/home-assistant.md): MQTT discovery of every camera's entities, and snapshots. */
    homeAssistant: Section({
      /** Retained discovery configs under `<prefix>/<component>/…/config`; HA then needs no YAML. */
      discovery: Type.Boolean({ default: true }),
      /** HA's discovery prefix (its MQTT integration's setting; `homeassistant` unless changed there). */
      prefix: Type.String({ pattern: MQTT_TOPIC_PREFIX_PATTERN, default: 'homeassistant' }),
      /** Classes that get a coverage sensor on every camera (only those the serving model has); none by default: 11 to 150 would flood HA. */
      classes: Type.Array(Type.String({ minLength: 1, maxLength: 64 }), { maxItems: 64, uniqueItems: true, default: [] }),
      snapshots: SnapshotsSection,
    }),
  },
  { additionalProperties: false, default: null },
);

/** Kafka topic names are [A-Za-z0-9._-]; the prefix leaves room for `.zone-states` within Kafka's 249. */
export const KAFKA_TOPIC_PREFIX_PATTERN = '^[A-Za-z0-9._-]{1,200}$';

const KafkaSection = Type.Object(
  {
    /** Bootstrap brokers, `host:port`. */
    brokers: Type.Array(Type.String({ pattern: '^[^\\s:/]+:[0-9]{1,5}$' }), { minItems: 1, maxItems: 64 }),
    /** This daemon's name in keys and status (`<node>/<stream>`); null = the host name, sanitised (as mqtt.node). */
    node: Nullable(Type.String({ pattern: MQTT_NODE_PATTERN, default: null })),
    /** Kafka client id; null = `segd-<node>`. */
    clientId: Nullable(Type.String({ minLength: 1, maxLength: 128, default: null })),
    /** Topics are `<prefix>.areas`, `.zone-states`, `.events`, `.status`, `.masks` (docs/kafka.md). */
    topicPrefix: Type.String({ pattern: KAFKA_TOPIC_PREFIX_PATTERN, default: 'segd' }),
    topics: Section({
      /** Create missing topics on connect (zone-states and status compacted); false: they must exist. */
      create: Type.Boolean({ default: true }),
      partitions: Type.Integer({ minimum: 1, maximum: 10_000, default: 6 }),
      /** -1 = the brokers' default.replication.factor. */
      replicationFactor: Type.Integer({ minimum: -1, maximum: 32, default: -1 }),
    }),
    /** all = every in-sync replica (-1), leader = the partition leader (1), none = no acknowledgement (0). */
    acks: StringEnum(KAFKA_ACKS, { default: 'all' }),
    /** The idempotent producer: a retried batch is written once (needs acks: all). */
    idempotent: Type.Boolean({ default: true }),
    compression: StringEnum(KAFKA_COMPRESSIONS, { default: 'gzip' }),
    /** Per stream, at most one areas message per this many ms (capture time); 0 = every frame. */
    areasIntervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0 }),
    masks: Section({
      /** `<prefix>.masks`: the WebSocket mask message (deflate) on Kafka. */
      enabled: Type.Boolean({ default: false }),
      intervalMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 1000 }),
    }),
    /** The daemon's status is sent again this often (consumers tell a silent daemon by its age). */
    statusIntervalMs: Type.Integer({ minimum: 1000, maximum: 3_600_000, default: 30_000 }),
    /** Messages kept while the brokers are away; beyond either limit the oldest is dropped (counted). */
    buffer: Section({
      messages: Type.Integer({ minimum: 1, maximum: 1_000_000, default: 10_000 }),
      bytes: Type.Integer({ minimum: 1024, maximum: 1_073_741_824, default: 64 * 1024 * 1024 }),
    }),
    /** Most messages per produce request. */
    batchMessages: Type.Integer({ minimum: 1, maximum: 10_000, default: 500 }),
    /**
     * Areas, masks and status wait up to this long to share a produce request (fewer requests: less CPU
     * here and on the brokers); events and zone states go out at once, taking what waits with them.
     */
    lingerMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 250 }),
    tls: Section({
      /** TLS to the brokers; the PEM files below are optional (the system CAs verify by default). */
      enabled: Type.Boolean({ default: false }),
      ca: NullablePath(),
      cert: NullablePath(),
      key: NullablePath(),
      rejectUnauthorized: Type.Boolean({ default: true }),
    }),
    /** SASL; null = none. The password resolves like mqtt's: env SEGD_KAFKA_PASSWORD, SEGD_KAFKA_PASSWORD_FILE, passwordFile, password. Never logged. */
    sasl: Nullable(
      Type.Object(
        {
          mechanism: StringEnum(KAFKA_SASL_MECHANISMS, { default: 'scram-sha-512' }),
          username: Type.String({ minLength: 1 }),
          password: Nullable(Type.String({ minLength: 1, default: null })),
          passwordFile: NullablePath(),
        },
        { additionalProperties: false, default: null },
      ),
    ),
    connectTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 10_000 }),
    requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 600_000, default: 30_000 }),
    /** Retry delays after a failed send or connect: exponential with jitter between these. */
    reconnect: Section({
      minMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 500 }),
      maxMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 30_000 }),
    }),
    /** On shutdown, how long the buffer (and `offline`) may take to go out. */
    closeTimeoutMs: Type.Integer({ minimum: 0, maximum: 60_000, default: 3000 }),
  },
  { additionalProperties: false, default: null },
);

/** The triton engine (docs/triton.md): a Triton server speaking KServe v2 over HTTP or gRPC. */
const TritonSection = Type.Object(
  {
    /**
     * http://host:port (KServe v2 REST with binary tensors; Triton's port 8000) or grpc://host:port
     * (Triton's 8001); https:// and grpcs:// for TLS. HTTP measured ~2 ms faster a batch (docs/triton.md).
     */
    url: Type.String({ pattern: TRITON_URL_PATTERN }),
    /** The model's name on the server. */
    model: Type.String({ minLength: 1, maxLength: 256, pattern: '^[^/\\s]+$' }),
    /** '' = the server's version policy (normally the latest). */
    version: Type.String({ pattern: '^[0-9]*$', default: '' }),
    /** Deadline of every RPC; a batch without a reply by then counts as an outage. */
    timeoutMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 5000 }),
    /**
     * Batches in flight at once: while one crosses the network and waits in Triton's queue, the next
     * is already on its way. Masks still reach sinks in each stream's order. 1 = one at a time.
     */
    maxInFlight: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
    /** PEM files for https:// and grpcs:// (relative paths resolve against the config file's directory); null = the system's roots. */
    tls: Section({ ca: NullablePath(), cert: NullablePath(), key: NullablePath() }),
    /** Sent with every call as HTTP headers or gRPC metadata (e.g. authorization); never logged. Lower-case names. */
    headers: Type.Record(Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]*$' }), Type.String({ minLength: 1 }), { default: {}, additionalProperties: false }),
    /** While Triton is away: probe delays, exponential with jitter between these (core/backoff.ts). */
    reconnect: Section({
      minMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 500 }),
      maxMs: Type.Integer({ minimum: 10, maximum: 600_000, default: 10_000 }),
    }),
  },
  { additionalProperties: false, default: null },
);

export const configSchema = Type.Object(
  {
    server: Section({
      host: Type.String({ minLength: 1, default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
      /** Bearer token for HTTP and WebSocket (daemon/auth.ts); null = open. Resolved by config/token.ts. */
      token: Nullable(Type.String({ minLength: 1, default: null })),
      /** File holding the token (null once resolved). */
      tokenFile: Nullable(Type.String({ minLength: 1, default: null })),
      /** Serve without a token on an address beyond loopback; false: such a config is refused (config/token.ts). */
      allowUnauthenticated: Type.Boolean({ default: false }),
      /**
       * Browser origins (`https://dash.example:8443`) besides this server's own that may call /api/
       * and open /ws; `*` = any. Others get 403 (daemon/origin-check.ts, docs/security.md).
       */
      allowedOrigins: Type.Array(Type.String({ minLength: 1, pattern: '^(\\*|https?://[^/\\s]+)$' }), { maxItems: 64, default: [] }),
      /** Open TCP connections at most (WebSocket clients included); more are dropped at accept. */
      maxConnections: Type.Integer({ minimum: 8, maximum: 100_000, default: DEFAULT_MAX_CONNECTIONS }),
    }),
    log: Section({ level: StringEnum(LOG_LEVELS, { default: 'info' }) }),
    /** null = /usr/bin/ffmpeg when version >= 5, else the bundled @ffmpeg-installer binary (daemon/ffmpeg-binary.ts). */
    ffmpeg: Section({
      path: Nullable(Type.String({ minLength: 1, default: null })),
      /** Decoder threads per stream (`-threads`); 0 = ffmpeg's own choice (one per core, and more). */
      threads: Type.Integer({ minimum: 0, maximum: 64, default: FFMPEG_DEFAULT_THREADS }),
    }),
    model: Section({
      /** Where inference runs: `local` (ONNX Runtime in process, `path`) or `triton` (`triton`, docs/triton.md). */
      engine: StringEnum(ENGINE_KINDS, { default: 'local' }),
      path: Type.String({ minLength: 1, default: 'models/sctnet-s-lite0-camvid-int8.onnx' }),
      /** null = the model path with its extension replaced by .json (local); the model config parameter segd_card (triton). */
      card: Nullable(Type.String({ minLength: 1, default: null })),
      /** Required with engine: triton; null otherwise. */
      triton: Nullable(TritonSection),
      providers: Type.Array(StringEnum(PROVIDER_NAMES), { minItems: 1, uniqueItems: true, default: [...PROVIDER_NAMES] }),
      /**
       * ONNX Runtime sessions of the model, each in its own worker thread, running batches side by side
       * (pipeline/engine/onnx-engine-pool.ts); each has cpu.intraOpThreads threads. 1 = one session.
       */
      sessions: Type.Integer({ minimum: 1, maximum: 16, default: 2 }),
      cpu: Section({
        // Per session; 0 lets ONNX Runtime pick (one thread per core). 2 sessions x 1 thread: docs/performance.md.
        intraOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 1 }),
        interOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 1 }),
        /** ONNX Runtime's pool threads spin while waiting for work: lower latency, CPU taken from ffmpeg and Node. */
        allowSpinning: Type.Boolean({ default: DEFAULT_ALLOW_SPINNING }),
      }),
      warmupRuns: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
    }),
    batching: Section({
      maxBatch: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
      // 0 = dispatch as soon as the engine is idle (Triton's max_queue_delay 0): under load batches fill while one
      // runs; on the CPU EP a batch of 2 costs no less CPU per frame than 2 of 1 (bench --bare-only), so waiting buys nothing.
      maxDelayMs: Type.Number({ minimum: 0, maximum: 1000, default: 0 }),
      perStreamCap: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    }),
    // The publisher's own defaults (pipeline/publish), so a config that omits them behaves as the publisher alone.
    publish: Section({
      maxBufferedBytes: Type.Integer({ minimum: 1024, maximum: 1073741824, default: DEFAULT_MAX_BUFFERED_BYTES }),
      maxClients: Type.Integer({ minimum: 1, maximum: 10000, default: DEFAULT_MAX_CLIENTS }),
      /** Clients from one remote address (a reverse proxy is one address: raise it there). */
      maxClientsPerAddress: Type.Integer({ minimum: 1, maximum: 10000, default: DEFAULT_MAX_CLIENTS_PER_ADDRESS }),
      maxSubscriptionsPerClient: Type.Integer({ minimum: 1, maximum: 64, default: DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT }),
      // Control messages are small JSON; above MAX_INCOMING_MESSAGE_BYTES (1 MiB) `ws` closes the connection unread.
      maxMessageBytes: Type.Integer({ minimum: 256, maximum: MAX_INCOMING_MESSAGE_BYTES, default: MAX_CONTROL_MESSAGE_BYTES }),
    }),
    /** The MQTT publisher (docs/mqtt.md); null = off. */
    mqtt: Nullable(MqttSection),
    /** The Kafka sink (docs/kafka.md); null = off. */
    kafka: Nullable(KafkaSection),
    /** The runtime control API under /api/ (daemon/api). */
    api: Section({
      /**
       * Write what the API changes (streams, model) back to this file, atomically (temp file +
       * rename), so it outlasts a restart; false: it lasts until the daemon restarts.
       */
      persist: Type.Boolean({ default: false }),
    }),
    /** Where file streams may come from (docs/security.md). */
    sources: Section({
      /**
       * Directories file streams may be read from, besides the config file's own directory and the
       * bundled samples (always allowed); relative ones resolve against the config file's directory.
       */
      allowedDirs: Type.Array(Type.String({ minLength: 1 }), { maxItems: 64, default: [] }),
    }),
    // Bounded: stream ids become metric label values.
    streams: Type.Array(StreamConfigSchema, { minItems: 1, maxItems: MAX_STREAMS }),
  },
  { additionalProperties: false },
);

/** A validated config with every default applied and every relative path made absolute (load.ts). */
export type SegdConfig = Static<typeof configSchema>;

/** The `mqtt` section when configured. */
export type MqttConfig = NonNullable<SegdConfig['mqtt']>;

/** The `kafka` section when configured. */
export type KafkaConfig = NonNullable<SegdConfig['kafka']>;
