/** The human summary `segd check-config` prints for a valid file. URLs are redacted. */
import { redactUrl } from '../../pipeline/core/redact.js';
import type { SegdConfig } from './schema.js';

export function summarizeConfig(cfg: SegdConfig): string[] {
  const m = cfg.model;
  const b = cfg.batching;
  const lines = [
    `server: ${cfg.server.host}:${cfg.server.port} (${cfg.server.token !== null || cfg.server.tokenFile !== null ? 'bearer token required' : 'no token'})`,
    `model: ${m.path} (card ${m.card ?? 'beside the model'}; providers ${m.providers.join(' > ')}; warm-up runs ${m.warmupRuns})`,
    `batching: up to ${b.maxBatch} frame(s), wait at most ${b.maxDelayMs} ms, at most ${b.perStreamCap} per stream`,
    `ffmpeg: ${cfg.ffmpeg.path ?? 'bundled'}`,
    `log level: ${cfg.log.level}`,
    `streams (${cfg.streams.length}):`,
  ];
  for (const s of cfg.streams) {
    const opts = [`loop ${s.loop}`, `realtime ${s.realtime}`, `queue ${s.queueDepth}`];
    if (s.maxFps !== null) opts.push(`max ${s.maxFps} fps`);
    lines.push(`  ${s.id}: ${redactUrl(s.url)} (${opts.join(', ')})`);
  }
  return lines;
}
