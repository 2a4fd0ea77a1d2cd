/**
 * The config file's shape: one JSON Schema, built with TypeBox, that ajv validates (every
 * violation at once, defaults applied, load.ts) and that the TypeScript type is derived from.
 * Every default lives here, once; config/default.yaml spells them out and a unit test
 * (test/unit/config-defaults.test.ts) holds the two together.
 */
import { Type, type Static, type TProperties } from '@sinclair/typebox';
import { PROVIDER_NAMES } from '../../pipeline/core/reasons.js';
import { Nullable, StringEnum } from '../../pipeline/core/schema-builders.js';
import { StreamConfigSchema } from '../../pipeline/core/stream-config.js';
import { MAX_CONTROL_MESSAGE_BYTES, MAX_INCOMING_MESSAGE_BYTES } from '../../pipeline/publish/protocol.js';
import { DEFAULT_MAX_BUFFERED_BYTES, DEFAULT_MAX_CLIENTS, DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT } from '../../pipeline/publish/ws-publisher.js';

/** Streams one daemon serves (config file and API alike): stream ids become metric label values. */
export const MAX_STREAMS = 64;

export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** A top-level mapping: may be left out (then every key takes its default); unknown keys are errors. */
function Section<T extends TProperties>(properties: T) {
  return Type.Object(properties, { additionalProperties: false, default: {} });
}

export const configSchema = Type.Object(
  {
    server: Section({
      host: Type.String({ minLength: 1, default: '127.0.0.1' }),
      port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
      /** Bearer token for HTTP and WebSocket (daemon/auth.ts); null = open. Resolved by config/token.ts. */
      token: Nullable(Type.String({ minLength: 1, default: null })),
      /** File holding the token (null once resolved). */
      tokenFile: Nullable(Type.String({ minLength: 1, default: null })),
    }),
    log: Section({ level: StringEnum(LOG_LEVELS, { default: 'info' }) }),
    /** null = the bundled @ffmpeg-installer binary. */
    ffmpeg: Section({ path: Nullable(Type.String({ minLength: 1, default: null })) }),
    model: Section({
      path: Type.String({ minLength: 1, default: 'models/sctnet-s-camvid.onnx' }),
      /** null = the model path with its extension replaced by .json. */
      card: Nullable(Type.String({ minLength: 1, default: null })),
      providers: Type.Array(StringEnum(PROVIDER_NAMES), { minItems: 1, uniqueItems: true, default: [...PROVIDER_NAMES] }),
      /** Applied through ORT_TENSORRT_* environment variables (pipeline/engine/tensorrt-env.ts). */
      tensorrt: Section({
        fp16: Type.Boolean({ default: true }),
        engineCacheDir: Nullable(Type.String({ minLength: 1, default: null })),
      }),
      cpu: Section({
        // 0 lets ONNX Runtime pick (one thread per core).
        intraOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 2 }),
        interOpThreads: Type.Integer({ minimum: 0, maximum: 256, default: 1 }),
      }),
      warmupRuns: Type.Integer({ minimum: 0, maximum: 100, default: 2 }),
    }),
    batching: Section({
      maxBatch: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
      maxDelayMs: Type.Number({ minimum: 0, maximum: 1000, default: 15 }),
      perStreamCap: Type.Integer({ minimum: 1, maximum: 64, default: 1 }),
    }),
    // The publisher's own defaults (pipeline/publish), so a config that omits them behaves as the publisher alone.
    publish: Section({
      maxBufferedBytes: Type.Integer({ minimum: 1024, maximum: 1073741824, default: DEFAULT_MAX_BUFFERED_BYTES }),
      maxClients: Type.Integer({ minimum: 1, maximum: 10000, default: DEFAULT_MAX_CLIENTS }),
      maxSubscriptionsPerClient: Type.Integer({ minimum: 1, maximum: 64, default: DEFAULT_MAX_SUBSCRIPTIONS_PER_CLIENT }),
      // Control messages are small JSON; above MAX_INCOMING_MESSAGE_BYTES (1 MiB) `ws` closes the connection unread.
      maxMessageBytes: Type.Integer({ minimum: 256, maximum: MAX_INCOMING_MESSAGE_BYTES, default: MAX_CONTROL_MESSAGE_BYTES }),
    }),
    /** The runtime control API under /api/ (daemon/api). */
    api: Section({
      /**
       * Write what the API changes (streams, model) back to this file, atomically (temp file +
       * rename), so it outlasts a restart; false: it lasts until the daemon restarts.
       */
      persist: Type.Boolean({ default: false }),
    }),
    // Bounded: stream ids become metric label values.
    streams: Type.Array(StreamConfigSchema, { minItems: 1, maxItems: MAX_STREAMS }),
  },
  { additionalProperties: false },
);

/** A validated config with every default applied and every relative path made absolute (load.ts). */
export type SegdConfig = Static<typeof configSchema>;
