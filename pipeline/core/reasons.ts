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
