/**
 * The config file's shape: one JSON Schema (validated by ajv with defaults applied) and the
 * TypeScript type it produces. Not typed with ajv's `JSONSchemaType`: it cannot express
 * `default: {}` for nested objects or required nullable fields; test/config-defaults checks
 * instead that an all-defaults file yields every field of `SegdConfig`.
 */
import type { SchemaObject } from 'ajv';
import { PROVIDER_NAMES, type ExecutionProviderName } from '../../pipeline/core/reasons.js';
import type { StreamConfig } from '../../pipeline/core/stream-config.js';

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
export const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** A validated config with every default applied and every relative path made absolute. */
export interface SegdConfig {
  readonly server: {
    readonly host: string;
    readonly port: number;
    /** Bearer token for HTTP and WebSocket (daemon/auth.ts); null = open. Resolved by config/token.ts. */
    readonly token: string | null;
    /** File holding the token (null once resolved). */
    readonly tokenFile: string | null;
  };
  readonly log: { readonly level: LogLevel };
  /** null = the bundled @ffmpeg-installer binary. */
  readonly ffmpeg: { readonly path: string | null };
  readonly model: {
    readonly path: string;
    /** null = the model path with its extension replaced by .json. */
    readonly card: string | null;
    readonly providers: ExecutionProviderName[];
    readonly tensorrt: { readonly fp16: boolean; readonly engineCacheDir: string | null };
    readonly cpu: { readonly intraOpThreads: number; readonly interOpThreads: number };
    readonly warmupRuns: number;
  };
  readonly batching: { readonly maxBatch: number; readonly maxDelayMs: number; readonly perStreamCap: number };
  readonly publish: {
    readonly maxBufferedBytes: number;
    readonly maxClients: number;
    readonly maxSubscriptionsPerClient: number;
    readonly maxMessageBytes: number;
  };
  readonly streams: StreamConfig[];
}

/** Ids end up in metric labels, log fields and the wire protocol: keep them plain. */
export const STREAM_ID_PATTERN = '^[A-Za-z0-9_-]{1,64}$';

const streamSchema: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['id', 'url', 'loop', 'realtime', 'rtspTransport', 'expectedFps', 'maxFps', 'queueDepth'],
  properties: {
    id: { type: 'string', pattern: STREAM_ID_PATTERN },
    url: { type: 'string', minLength: 1 },
    loop: { type: 'boolean', default: true },
    realtime: { type: 'boolean', default: true },
    rtspTransport: { type: 'string', enum: ['tcp', 'udp'], default: 'tcp' },
    expectedFps: { type: 'number', exclusiveMinimum: 0, maximum: 240, default: 10 },
    maxFps: { type: 'number', nullable: true, exclusiveMinimum: 0, maximum: 240, default: null },
    queueDepth: { type: 'integer', minimum: 1, maximum: 16, default: 1 },
  },
};

export const configSchema: SchemaObject = {
  type: 'object',
  additionalProperties: false,
  required: ['server', 'log', 'ffmpeg', 'model', 'batching', 'publish', 'streams'],
  properties: {
    server: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['host', 'port', 'token', 'tokenFile'],
      properties: {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { type: 'integer', minimum: 0, maximum: 65535, default: 8080 },
        token: { type: 'string', nullable: true, minLength: 1, default: null },
        tokenFile: { type: 'string', nullable: true, minLength: 1, default: null },
      },
    },
    log: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['level'],
      properties: { level: { type: 'string', enum: [...LOG_LEVELS], default: 'info' } },
    },
    ffmpeg: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['path'],
      properties: { path: { type: 'string', nullable: true, minLength: 1, default: null } },
    },
    model: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['path', 'card', 'providers', 'tensorrt', 'cpu', 'warmupRuns'],
      properties: {
        path: { type: 'string', minLength: 1, default: 'models/sctnet-s-camvid.onnx' },
        card: { type: 'string', nullable: true, minLength: 1, default: null },
        providers: {
          type: 'array',
          items: { type: 'string', enum: [...PROVIDER_NAMES] },
          minItems: 1,
          uniqueItems: true,
          default: [...PROVIDER_NAMES],
        },
        tensorrt: {
          type: 'object',
          default: {},
          additionalProperties: false,
          required: ['fp16', 'engineCacheDir'],
          properties: {
            fp16: { type: 'boolean', default: true },
            engineCacheDir: { type: 'string', nullable: true, minLength: 1, default: null },
          },
        },
        cpu: {
          type: 'object',
          default: {},
          additionalProperties: false,
          required: ['intraOpThreads', 'interOpThreads'],
          properties: {
            // 0 lets ONNX Runtime pick (one thread per core).
            intraOpThreads: { type: 'integer', minimum: 0, maximum: 256, default: 2 },
            interOpThreads: { type: 'integer', minimum: 0, maximum: 256, default: 1 },
          },
        },
        warmupRuns: { type: 'integer', minimum: 0, maximum: 100, default: 2 },
      },
    },
    batching: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['maxBatch', 'maxDelayMs', 'perStreamCap'],
      properties: {
        maxBatch: { type: 'integer', minimum: 1, maximum: 64, default: 2 },
        maxDelayMs: { type: 'number', minimum: 0, maximum: 1000, default: 15 },
        perStreamCap: { type: 'integer', minimum: 1, maximum: 64, default: 1 },
      },
    },
    publish: {
      type: 'object',
      default: {},
      additionalProperties: false,
      required: ['maxBufferedBytes', 'maxClients', 'maxSubscriptionsPerClient', 'maxMessageBytes'],
      properties: {
        maxBufferedBytes: { type: 'integer', minimum: 1024, maximum: 1073741824, default: 4194304 },
        maxClients: { type: 'integer', minimum: 1, maximum: 10000, default: 64 },
        maxSubscriptionsPerClient: { type: 'integer', minimum: 1, maximum: 64, default: 64 },
        // Control messages are small JSON; 1 MiB is the size above which `ws` closes the connection unread.
        maxMessageBytes: { type: 'integer', minimum: 256, maximum: 1048576, default: 65536 },
      },
    },
    // Bounded: stream ids become metric label values.
    streams: { type: 'array', items: streamSchema, minItems: 1, maxItems: 64 },
  },
};
