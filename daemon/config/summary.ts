/** The human summary `segd check-config` prints for a valid file. URLs are redacted. */
import { redactUrl } from '../../pipeline/core/redact.js';
import type { SegdConfig } from './schema.js';

export function summarizeConfig(cfg: SegdConfig): string[] {
  const m = cfg.model;
  const b = cfg.batching;
  const lines = [
    `server: ${cfg.server.host}:${cfg.server.port} (${serverAuth(cfg.server)})`,
    `model: ${m.path} (card ${m.card ?? 'beside the model'}; providers ${m.providers.join(' > ')}; warm-up runs ${m.warmupRuns})`,
    `batching: up to ${b.maxBatch} frame(s), wait at most ${b.maxDelayMs} ms, at most ${b.perStreamCap} per stream`,
    `ffmpeg: ${cfg.ffmpeg.path ?? 'bundled'}`,
    `log level: ${cfg.log.level}`,
    mqttLine(cfg),
    kafkaLine(cfg),
    `streams (${cfg.streams.length}):`,
  ];
  for (const s of cfg.streams) {
    const opts = [`loop ${s.loop}`, `realtime ${s.realtime}`, `queue ${s.queueDepth}`];
    if (s.maxFps !== null) opts.push(`max ${s.maxFps} fps`);
    lines.push(`  ${s.id}: ${redactUrl(s.url)} (${opts.join(', ')})`);
    for (const z of s.zones) {
      lines.push(`    zone ${z.name}: ${z.polygon.length} points, classes ${z.classes.join(', ')}, threshold ${z.threshold} (clears below ${+(z.threshold - z.hysteresis).toFixed(6)}), min ${z.minDurationMs} ms`);
    }
  }
  return lines;
}

function serverAuth(s: SegdConfig['server']): string {
  if (s.token !== null || s.tokenFile !== null) return 'bearer token required';
  return s.allowUnauthenticated ? 'no token: open to anyone who can reach it (server.allowUnauthenticated)' : 'no token';
}

/** Never the password: whether one is set. */
function mqttLine(cfg: SegdConfig): string {
  const m = cfg.mqtt;
  if (m === null) return 'mqtt: off';
  const auth = m.username === null ? 'no credentials' : `user ${m.username}${m.password !== null ? ', password set' : ''}`;
  const tls = m.tls.ca !== null || m.tls.cert !== null ? ', TLS files given' : '';
  const masks = m.masks.enabled ? `, masks every ${m.masks.intervalMs} ms` : '';
  return `mqtt: ${redactUrl(m.url)} (${auth}${tls}; prefix ${m.topicPrefix}; node ${m.node ?? 'host name'}; stats every ${m.statsIntervalMs} ms${masks})`;
}

/** Never the password: whether one is set. */
function kafkaLine(cfg: SegdConfig): string {
  const k = cfg.kafka;
  if (k === null) return 'kafka: off';
  const sasl = k.sasl === null ? 'no SASL' : `SASL ${k.sasl.mechanism} user ${k.sasl.username}${k.sasl.password !== null || k.sasl.passwordFile !== null ? ', password set' : ''}`;
  const masks = k.masks.enabled ? `, masks every ${k.masks.intervalMs} ms` : '';
  return `kafka: ${k.brokers.join(',')} (${sasl}${k.tls.enabled ? ', TLS' : ''}; topics ${k.topicPrefix}.*; acks ${k.acks}${k.idempotent ? ', idempotent' : ''}; ${k.compression}; buffer ${k.buffer.messages} messages${masks})`;
}
