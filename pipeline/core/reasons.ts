/**
 * The bounded vocabularies of the pipeline, each declared once as a tuple: the tuple gives the
 * union type, the metric label values (daemon/metrics.ts pre-initialises one series per value)
 * and the JSON Schema enums (daemon/config/schema.ts).
 */

/** Why a frame did not make it to a publish (`segd_frames_dropped_total{reason}`). */
export const DROP_REASONS = [
  'queue_full', // newest-wins queue replaced an older frame
  'pool_exhausted', // no free frame buffer in the source's pool
  'shutdown', // daemon stopping
  'inference_error', // the batch it was in failed
  'inference_unavailable', // the remote inference server (triton engine) was unreachable or its model not ready
  'slow_client', // a WebSocket client was over its buffered-bytes limit (per client)
  'reconfigured', // its stream was removed or changed at run time, or the model's input size changed under it
] as const;
export type DropReason = (typeof DROP_REASONS)[number];

/** Why a source's ffmpeg child was replaced (`segd_stream_restarts_total{reason}`). */
export const RESTART_REASONS = [
  'stalled', // no frame in time: killed by the watchdog
  'exited', // ffmpeg quit (network error, corrupt input, killed)
  'spawn_failed',
] as const;
export type RestartReason = (typeof RESTART_REASONS)[number];

/**
 * What the WebSocket publisher refuses. `slow_reader`: a client whose unsent control replies pile
 * up (it sends requests but never reads) is cut off, so no buffer grows unbounded.
 */
export const WS_REFUSALS = ['too_many_clients', 'too_many_subscriptions', 'message_too_large', 'bad_message', 'slow_reader'] as const;
export type WsRefusal = (typeof WS_REFUSALS)[number];

/** Every refused request, connection or control message (`segd_requests_refused_total{reason}`): 401s plus the publisher's. */
export const REFUSAL_REASONS = ['unauthorized', ...WS_REFUSALS] as const;
export type RefusalReason = (typeof REFUSAL_REASONS)[number];

/** ONNX Runtime execution providers segd can use, in the default order of preference. */
export const PROVIDER_NAMES = ['tensorrt', 'cuda', 'cpu'] as const;
export type ExecutionProviderName = (typeof PROVIDER_NAMES)[number];

/** Where inference runs: in process (ONNX Runtime) or on a Triton server (KServe v2 over HTTP or gRPC). */
export const ENGINE_KINDS = ['local', 'triton'] as const;
export type EngineKind = (typeof ENGINE_KINDS)[number];

/** What serves the masks (`segd_model_info{provider}`): an ONNX Runtime provider, or `triton`. */
export type EngineProviderName = ExecutionProviderName | 'triton';

/** The Triton engine's RPCs (`segd_triton_rpc_*{method}`). */
export const TRITON_RPC_METHODS = ['ServerLive', 'ModelReady', 'ModelMetadata', 'ModelConfig', 'ModelInfer'] as const;
export type TritonRpcMethod = (typeof TRITON_RPC_METHODS)[number];

/** gRPC status names (`segd_triton_rpc_errors_total{code}`): grpc-js's Status enum, by name; the HTTP transport maps statuses onto them. */
export const GRPC_STATUS_NAMES = [
  'CANCELLED',
  'UNKNOWN',
  'INVALID_ARGUMENT',
  'DEADLINE_EXCEEDED',
  'NOT_FOUND',
  'ALREADY_EXISTS',
  'PERMISSION_DENIED',
  'RESOURCE_EXHAUSTED',
  'FAILED_PRECONDITION',
  'ABORTED',
  'OUT_OF_RANGE',
  'UNIMPLEMENTED',
  'INTERNAL',
  'UNAVAILABLE',
  'DATA_LOSS',
  'UNAUTHENTICATED',
] as const;
export type GrpcStatusName = (typeof GRPC_STATUS_NAMES)[number];

/** A source's state, as /readyz, `list_streams` and the logs report it. */
export const STREAM_STATES = ['connecting', 'streaming', 'stalled', 'backoff', 'stopped'] as const;
export type StreamState = (typeof STREAM_STATES)[number];

/** What the MQTT publisher sends (`segd_mqtt_messages_total{kind}`); docs/mqtt.md has the topics. */
export const MQTT_MESSAGE_KINDS = ['status', 'stats', 'zone_state', 'event', 'mask', 'discovery', 'snapshot'] as const;
export type MqttMessageKind = (typeof MQTT_MESSAGE_KINDS)[number];

/**
 * Why an MQTT message was not sent (`segd_mqtt_dropped_total{reason}`): `disconnected` = a QoS 0
 * stats or mask message while the broker is unreachable (stale by the time it would arrive: never
 * queued); `offline_queue_full` = the oldest queued QoS 1 event made room for a newer one;
 * `slow_broker` = a QoS 0 message while the socket still held more than its limit of unsent bytes.
 */
export const MQTT_DROP_REASONS = ['disconnected', 'offline_queue_full', 'slow_broker'] as const;
export type MqttDropReason = (typeof MQTT_DROP_REASONS)[number];

/**
 * Why a snapshot was not made or not sent (`segd_snapshots_dropped_total{reason}`): `rate_limited`
 * = a zone entered within mqtt.homeAssistant.snapshots.minIntervalMs of the camera's last one;
 * `encoder_busy` = the snapshot worker already held its jobs (frames never wait for it);
 * `disconnected` = encoded while the broker was unreachable or slow; `failed` = the encode threw.
 */
export const SNAPSHOT_DROP_REASONS = ['rate_limited', 'encoder_busy', 'disconnected', 'failed'] as const;
export type SnapshotDropReason = (typeof SNAPSHOT_DROP_REASONS)[number];

/** How the stream list changed (runtime control, the `streams` update of docs/protocol.md). */
export const STREAM_CHANGES = ['added', 'changed', 'removed'] as const;
export type StreamChange = (typeof STREAM_CHANGES)[number];

/** What the Kafka sink sends (`segd_kafka_messages_total{kind}`, once acknowledged); docs/kafka.md has the topics. */
export const KAFKA_MESSAGE_KINDS = ['areas', 'zone_states', 'event', 'status', 'mask'] as const;
export type KafkaMessageKind = (typeof KAFKA_MESSAGE_KINDS)[number];

/**
 * Why a Kafka message was not delivered (`segd_kafka_dropped_total{reason}`): `buffer_full` = the
 * oldest buffered message made room for a newer one (brokers away or slower than the frames);
 * `rejected` = the brokers refused it for good (too large, invalid); `shutdown` = still buffered
 * when the daemon stopped and close's deadline passed.
 */
export const KAFKA_DROP_REASONS = ['buffer_full', 'rejected', 'shutdown'] as const;
export type KafkaDropReason = (typeof KAFKA_DROP_REASONS)[number];

/** The Kafka acks setting (`all` = -1, `leader` = 1, `none` = 0). */
export const KAFKA_ACKS = ['all', 'leader', 'none'] as const;
export type KafkaAcks = (typeof KAFKA_ACKS)[number];

/** Compression codecs the Kafka client has built in. */
export const KAFKA_COMPRESSIONS = ['none', 'gzip'] as const;
export type KafkaCompression = (typeof KAFKA_COMPRESSIONS)[number];

/** SASL mechanisms for the Kafka sink. */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;
export type KafkaSaslMechanism = (typeof KAFKA_SASL_MECHANISMS)[number];
