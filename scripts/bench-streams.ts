/** The benchmarks' streams: `n` copies of one clip, looped, ids `<prefix>0…`, every other setting at its default. */
import type { StreamConfig } from '../pipeline/core/stream-config.js';

export function clipStreams(n: number, clip: string, opts: { realtime: boolean; prefix?: string; zones?: StreamConfig['zones'] }): StreamConfig[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${opts.prefix ?? 'bench'}${i}`,
    url: clip,
    loop: true,
    realtime: opts.realtime,
    rtspTransport: 'tcp' as const,
    expectedFps: 10,
    maxFps: null,
    queueDepth: 1,
    zones: opts.zones ?? [],
  }));
}
