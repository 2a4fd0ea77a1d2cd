/**
 * The daemon's own counters and stage histograms, read in process at the edges of a benchmark
 * window: masks published, drops by reason, and the time a mask spends in each stage.
 */
import type { Registry } from 'prom-client';
import { STAGES, type Stage } from '../daemon/metrics.js';

export interface MetricsSnapshot {
  readonly published: number;
  readonly drops: Readonly<Record<string, number>>;
  /** Stage histogram _sum (s) and _count per stage. */
  readonly stageSum: Readonly<Record<Stage, number>>;
  readonly stageCount: Readonly<Record<Stage, number>>;
  readonly batches: number;
  readonly batchFrames: number;
}

interface Value {
  readonly labels: Readonly<Record<string, string | number | undefined>>;
  readonly value: number;
  readonly metricName?: string;
}

async function values(reg: Registry, name: string): Promise<readonly Value[]> {
  const m = reg.getSingleMetric(name);
  if (m === undefined) throw new Error(`bench: metric ${name} is not registered`);
  return (await m.get()).values as readonly Value[];
}

export async function snapshotMetrics(reg: Registry): Promise<MetricsSnapshot> {
  let published = 0;
  for (const v of await values(reg, 'segd_frames_published_total')) published += v.value;
  const drops: Record<string, number> = {};
  for (const v of await values(reg, 'segd_frames_dropped_total')) {
    const r = String(v.labels['reason']);
    drops[r] = (drops[r] ?? 0) + v.value;
  }
  const stageSum = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  const stageCount = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>;
  for (const v of await values(reg, 'segd_stage_latency_seconds')) {
    const stage = v.labels['stage'] as Stage;
    if (v.metricName === 'segd_stage_latency_seconds_sum') stageSum[stage] = v.value;
    if (v.metricName === 'segd_stage_latency_seconds_count') stageCount[stage] = v.value;
  }
  let batches = 0;
  let batchFrames = 0;
  for (const v of await values(reg, 'segd_batch_size')) {
    if (v.metricName === 'segd_batch_size_count') batches = v.value;
    if (v.metricName === 'segd_batch_size_sum') batchFrames = v.value;
  }
  return { published, drops, stageSum, stageCount, batches, batchFrames };
}

export interface MetricsDelta {
  readonly published: number;
  readonly drops: Readonly<Record<string, number>>;
  /** Mean ms per observation of each stage inside the window (inference: per batch). */
  readonly stageMeanMs: Readonly<Record<Stage, number>>;
  readonly batches: number;
  readonly meanBatch: number;
}

export function metricsBetween(a: MetricsSnapshot, b: MetricsSnapshot): MetricsDelta {
  const drops: Record<string, number> = {};
  for (const [r, n] of Object.entries(b.drops)) {
    const d = n - (a.drops[r] ?? 0);
    if (d > 0) drops[r] = d;
  }
  const stageMeanMs = Object.fromEntries(
    STAGES.map((s) => {
      const n = b.stageCount[s] - a.stageCount[s];
      return [s, n > 0 ? ((b.stageSum[s] - a.stageSum[s]) * 1000) / n : Number.NaN];
    }),
  ) as Record<Stage, number>;
  const batches = b.batches - a.batches;
  return { published: b.published - a.published, drops, stageMeanMs, batches, meanBatch: batches > 0 ? (b.batchFrames - a.batchFrames) / batches : Number.NaN };
}
