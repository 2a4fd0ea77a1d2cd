/**
 * The Kafka sink as the config asks for it (null when `kafka` is not configured): TLS files read,
 * the node name and client id defaulted, metrics hooked. The SASL password never leaves here
 * except into the client's authentication.
 */
import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { StreamAnalyzer } from '../pipeline/analysis/frame-analysis.js';
import { KafkaSink, type KafkaModelInfo } from '../pipeline/publish/kafka-sink.js';
import type { KafkaConfig } from './config/schema.js';
import type { SegdMetrics } from './metrics.js';
import { defaultNodeName } from './mqtt-wiring.js';

export function createKafkaSink(
  k: KafkaConfig | null,
  deps: { model: KafkaModelInfo; analyzers: readonly StreamAnalyzer[]; logger: Logger; metrics: SegdMetrics },
): KafkaSink | null {
  if (k === null) return null;
  const node = k.node ?? defaultNodeName();
  const file = (p: string | null): Buffer | undefined => (p === null ? undefined : readFileSync(p));
  const sasl = k.sasl;
  return new KafkaSink({
    brokers: k.brokers,
    clientId: k.clientId ?? `segd-${node}`,
    node,
    topicPrefix: k.topicPrefix,
    topics: k.topics,
    acks: k.acks,
    idempotent: k.idempotent,
    compression: k.compression,
    areasIntervalMs: k.areasIntervalMs,
    masks: k.masks,
    statusIntervalMs: k.statusIntervalMs,
    buffer: k.buffer,
    batchMessages: k.batchMessages,
    lingerMs: k.lingerMs,
    tls: k.tls.enabled ? { ca: file(k.tls.ca), cert: file(k.tls.cert), key: file(k.tls.key), rejectUnauthorized: k.tls.rejectUnauthorized } : null,
    // resolveKafkaSecrets (config/kafka-secrets.ts) guarantees a password once sasl is set.
    sasl: sasl === null ? null : { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password ?? '' },
    connectTimeoutMs: k.connectTimeoutMs,
    requestTimeoutMs: k.requestTimeoutMs,
    reconnect: k.reconnect,
    closeTimeoutMs: k.closeTimeoutMs,
    model: deps.model,
    streams: deps.analyzers,
    logger: deps.logger,
    hooks: deps.metrics.kafkaHooks(),
  });
}
