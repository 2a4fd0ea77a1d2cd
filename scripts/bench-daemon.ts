/**
 * One daemon phase of the bench, in a fresh child process (`node bench-daemon.js JSON`): the whole daemon
 * (startDaemon) on N looped copies of the clip, measured inside a window by the client (bench-client.ts) and by
 * CPU, metrics and RSS samples taken here. A fresh process per phase, as the peers get, so that RSS is the
 * daemon's own and not what earlier phases left in a long-lived heap.
 */
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { startDaemon } from '../daemon/app.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { at, runChild } from './bench-child.js';
import { measureClient } from './bench-client.js';
import { loadBenchConfig } from './bench-config.js';
import { cpuBetween, daemonMemoryMb, sampleCpu, type CpuSample } from './bench-cpu.js';
import { metricsBetween, snapshotMetrics, type MetricsSnapshot } from './bench-metrics.js';
import { percentile } from './bench-stats.js';
import { clipStreams } from './bench-streams.js';

export interface DaemonParams {
  readonly config: string;
  readonly model?: string;
  readonly clip: string;
  readonly maxBatch: number;
  readonly streams: number;
  /** Paced at the clip's native rate (-re), as cameras. */
  readonly realtime: boolean;
  /** Per-stream maxFps (null = the clip's rate). */
  readonly maxFps: number | null;
  readonly warmupS: number;
  readonly seconds: number;
}

/** One phase's figures (a round). Latencies in ms, rates per second, CPU per mask published. */
export interface DaemonRound {
  masksPerS: number;
  cpuMsPerMask: number;
  ffmpegMsPerMask: number;
  mainMsPerMask: number;
  otherMsPerMask: number;
  p50: number;
  p99: number;
  drops: Record<string, number>;
  /** Least and most masks/s of one stream (starvation shows as a low minimum). */
  streamMinPerS: number;
  streamMaxPerS: number;
  stageMs: Record<string, number>;
  meanBatch: number;
  ffmpegUnpaired: number;
  /** This process + its ffmpeg children at the window's end, MB; `rssIdleMb`: this process before the daemon started. */
  rssMb: number;
  rssIdleMb: number;
  /** The same as PSS (shared pages counted once across the processes: bench-cpu.ts). */
  pssMb: number;
  pssIdleMb: number;
}

/** Runs one phase in a child process. */
export function daemonPhase(p: DaemonParams): Promise<DaemonRound> {
  return runChild<DaemonRound>(fileURLToPath(import.meta.url), [JSON.stringify(p)], `daemon phase (${p.streams} streams)`);
}

async function run(p: DaemonParams): Promise<DaemonRound> {
  const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });
  const cfg = loadBenchConfig(p.config, p.model);
  const config: SegdConfig = {
    ...cfg,
    server: { ...cfg.server, host: '127.0.0.1', port: 0, token: null, tokenFile: null },
    batching: { ...cfg.batching, maxBatch: p.maxBatch },
    streams: clipStreams(p.streams, p.clip, { realtime: p.realtime, maxFps: p.maxFps }),
  };
  const idle = daemonMemoryMb();
  const daemon = await startDaemon(config, logger);
  try {
    const url = `ws://127.0.0.1:${daemon.address.port}/ws`;
    const start = Date.now() + p.warmupS * 1000;
    const end = start + p.seconds * 1000;
    const reg = daemon.metrics.registry;
    const sample = async (): Promise<[CpuSample, MetricsSnapshot]> => {
      const cpu = sampleCpu(); // first: the metrics read below costs CPU of its own
      return [cpu, await snapshotMetrics(reg)];
    };
    const clientDone = measureClient(url, start, end);
    const [c0, m0] = await at(start, sample);
    const [c1, m1] = await at(end, sample);
    const mem = daemonMemoryMb();
    const client = await clientDone;
    const cpu = cpuBetween(c0, c1);
    const metrics = metricsBetween(m0, m1);
    const lat = [...client.latencyMs].sort((a, b) => a - b);
    const perStream = Array.from({ length: p.streams }, (_, i) => (client.perStream[`bench${i}`] ?? 0) / p.seconds);
    const pub = metrics.published;
    return {
      masksPerS: lat.length / p.seconds,
      cpuMsPerMask: (cpu.processMs + cpu.ffmpegMs) / pub,
      ffmpegMsPerMask: cpu.ffmpegMs / pub,
      mainMsPerMask: cpu.mainMs / pub,
      otherMsPerMask: cpu.otherThreadsMs / pub,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      drops: { ...metrics.drops },
      streamMinPerS: Math.min(...perStream),
      streamMaxPerS: Math.max(...perStream),
      stageMs: { ...metrics.stageMeanMs },
      meanBatch: metrics.meanBatch,
      ffmpegUnpaired: cpu.ffmpegUnpaired,
      rssMb: mem.rss,
      rssIdleMb: idle.rss,
      pssMb: mem.pss,
      pssIdleMb: idle.pss,
    };
  } finally {
    await daemon.stop();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  run(JSON.parse(String(process.argv[2])) as DaemonParams).then(
    // Exit once the line is out: a stopped daemon should leave nothing behind, but a phase must not hang on it.
    (r) => process.stdout.write(JSON.stringify(r) + '\n', () => process.exit(0)),
    (err: unknown) => {
      console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
      process.exitCode = 1;
    },
  );
}
