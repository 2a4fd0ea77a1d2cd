/**
 * The MQTT publisher as the config asks for it (null when `mqtt` is not configured): TLS files
 * read, the node name and client id defaulted, metrics hooked. The password never leaves here
 * except into MQTT.js's CONNECT.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Logger } from 'pino';
import type { StreamAnalyzer } from '../pipeline/analysis/frame-analysis.js';
import { MqttPublisher, mqttStreamInfo } from '../pipeline/publish/mqtt-publisher.js';
import type { MqttConfig } from './config/schema.js';
import type { SegdMetrics } from './metrics.js';
import { segdVersion } from './version.js';

/** The host name as one topic level: [A-Za-z0-9_-], at most 64 characters. */
export function defaultNodeName(host: string = hostname()): string {
  const name = host.split('.')[0]?.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 64) ?? '';
  return name === '' ? 'segd' : name;
}

export function createMqttPublisher(
  m: MqttConfig | null,
  deps: { modelId: string; classNames: readonly string[]; analyzers: readonly StreamAnalyzer[]; logger: Logger; metrics: SegdMetrics },
): MqttPublisher | null {
  if (m === null) return null;
  const node = m.node ?? defaultNodeName();
  const file = (p: string | null): Buffer | undefined => (p === null ? undefined : readFileSync(p));
  return new MqttPublisher({
    url: m.url,
    clientId: m.clientId ?? `segd-${node}`,
    node,
    username: m.username,
    password: m.password,
    tls: { ca: file(m.tls.ca), cert: file(m.tls.cert), key: file(m.tls.key), rejectUnauthorized: m.tls.rejectUnauthorized },
    topicPrefix: m.topicPrefix,
    statsIntervalMs: m.statsIntervalMs,
    masks: m.masks,
    offlineQueue: m.offlineQueue,
    keepaliveSeconds: m.keepaliveSeconds,
    connectTimeoutMs: m.connectTimeoutMs,
    reconnect: m.reconnect,
    modelId: deps.modelId,
    classNames: deps.classNames,
    streams: deps.analyzers.map(mqttStreamInfo),
    homeAssistant: m.homeAssistant.discovery ? { prefix: m.homeAssistant.prefix, classes: m.homeAssistant.classes, swVersion: segdVersion() } : null,
    snapshots: m.homeAssistant.snapshots.enabled,
    logger: deps.logger,
    hooks: deps.metrics.mqttHooks(),
  });
}
