/** The benchmarks' streams: `n` copies of one clip, looped, ids `<prefix>0…`, every other setting at its default. */
import type { StreamConfig } from '../pipeline/core/stream-config.js';

export function clipStreams(n: number, clip: string, opts: { realtime: boolean; prefix?: string; zones?: StreamConfig['zones']; maxFps?: number | null }): StreamConfig[] {
  return Array.from({ length: n }, (_, i) => ({
    id: `${opts.prefix ?? 'bench'}${i}`,
    url: clip,
    loop: true,
    realtime: opts.realtime,
    rtspTransport: 'tcp' as const,
    expectedFps: 10,
    maxFps: opts.maxFps ?? null,
    queueDepth: 1,
    zones: opts.zones ?? [],
  }));
}

// Sky covers 27–37 % of the top fifth of the val clip's labelled frames (median 32 %): a threshold at the median
// makes the zone enter and exit several times a loop, so the sink benches have events to time.
export const BENCH_ZONE = { name: 'top', polygon: [[0, 0], [1, 0], [1, 0.2], [0, 0.2]], classes: ['sky'], threshold: 0.32, hysteresis: 0.02, minDurationMs: 0 };

/** Frames inferred so far, summed over streams, from the daemon's metrics text. */
export async function framesInferred(metricsText: Promise<string>): Promise<number> {
  let sum = 0;
  for (const line of (await metricsText).split('\n')) if (line.startsWith('segd_frames_inferred_total{')) sum += Number(line.split(' ').at(-1));
  return sum;
}
