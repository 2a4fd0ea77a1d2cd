/**
 * `npm run bench:kafka` (not a test; beside `npm run bench:mqtt`): the cost of the Kafka sink, in one
 * interleaved run.
 *
 *  1. the daemon (startDaemon) with N unpaced file streams, each with one zone, Kafka off, and
 *  2. the same with Kafka on (class areas every frame, zone states and events, status; a single-node
 *     Kafka broker started here, as the tests start it: scripts/setup.sh --test provisions it),
 *     alternating off/on for --rounds rounds: masks/s each, and the median of on ÷ off per round
 *     pair — the goal is ≥ 0.98;
 *  3. in the "on" runs, a WebSocket client and a Kafka consumer of `<prefix>.events` in this process:
 *     for every zone event, its arrival minus the arrival of the WebSocket mask of the same stream and
 *     seq, p50/p99 — the goal is p99 ≤ 100 ms.
 *
 * Flags: --config FILE (default config/default.yaml) --seconds N (per run, 10) --warmup N (3)
 *        --streams N (4) --rounds N (3) --clip FILE (default: the config's first stream)
 *        --linger MS, --compression none|gzip (default: the config schema's kafka defaults)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { stringify } from 'yaml';
import { WebSocket } from 'ws';
import { decodeMaskMessage } from '../clients/ts/protocol-client.js';
import { startDaemon } from '../daemon/app.js';
import { loadConfigFile, parseConfigText } from '../daemon/config/load.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { startKafka } from '../test/helpers/kafka-broker.js';
import { TopicReader } from '../test/helpers/kafka-consumer.js';
import { cpuBetween, pidCpuMs, sampleCpu } from './bench-cpu.js';
import { median, percentile } from './bench-stats.js';
import { BENCH_ZONE as ZONE, clipStreams, framesInferred as inferred } from './bench-streams.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('npm run bench:kafka --', {
  config: { type: 'string', default: 'config/default.yaml' },
  seconds: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '3' },
  streams: { type: 'string', default: '4' },
  rounds: { type: 'string', default: '3' },
  clip: { type: 'string' },
  linger: { type: 'string' },
  compression: { type: 'string' },
});
const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));



/** The kafka section with every default filled in by the config schema itself. */
function kafkaSection(bootstrap: string, clip: string): SegdConfig['kafka'] {
  // A config needs a stream to validate; only its kafka section is taken.
  const over = { ...(flags.linger !== undefined ? { lingerMs: Number(flags.linger) } : {}), ...(flags.compression !== undefined ? { compression: flags.compression } : {}) };
  const text = stringify({ kafka: { brokers: [bootstrap], node: 'bench', topics: { partitions: 1 }, ...over }, streams: [{ id: 'x', url: clip }] });
  return parseConfigText(text, { baseDir: dirname(clip), source: 'bench-kafka' }).kafka;
}

async function run(base: SegdConfig, clip: string, bootstrap: string | null, brokerPid: number, n: number, warmupS: number, seconds: number) {
  const config: SegdConfig = {
    ...base,
    server: { ...base.server, host: '127.0.0.1', port: 0, token: null, tokenFile: null },
    mqtt: null,
    kafka: bootstrap === null ? null : kafkaSection(bootstrap, clip),
    streams: clipStreams(n, clip, { realtime: false, zones: [ZONE] }),
  };
  const daemon = await startDaemon(config, logger);
  const maskAt = new Map<string, number>();
  const ws = new WebSocket(`ws://127.0.0.1:${daemon.address.port}/ws`);
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const m = decodeMaskMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
    maskAt.set(`${m.streamId}#${m.seq}`, performance.now());
    if (maskAt.size > 10_000) maskAt.clear();
  });
  // The sink creates its topics on connect; a consumer subscribing before that is refused.
  while (bootstrap !== null && !/^segd_kafka_connected 1$/m.test(await daemon.metrics.render())) await sleep(100);
  const reader = bootstrap === null ? null : await TopicReader.start(bootstrap, ['segd.events']);
  let measuring = false;
  const delays: number[] = [];
  let seen = 0;
  const poll = setInterval(() => {
    // TopicReader keeps every message in arrival order; each is timed when noticed here (≤ 5 ms late).
    const messages = reader?.messages ?? [];
    for (; seen < messages.length; seen++) {
      const value = messages[seen]?.value;
      if (!measuring || value === null || value === undefined) continue;
      const e = JSON.parse(value.toString('utf8')) as { stream: string; after: { seq: number } };
      const at = maskAt.get(`${e.stream}#${e.after.seq}`);
      if (at !== undefined) delays.push(performance.now() - at);
    }
  }, 5);
  try {
    await sleep(warmupS * 1000);
    measuring = true;
    const f0 = await inferred(daemon.metrics.render());
    const c0 = sampleCpu();
    const b0 = pidCpuMs(brokerPid) ?? Number.NaN;
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const f1 = await inferred(daemon.metrics.render());
    const c1 = sampleCpu();
    const b1 = pidCpuMs(brokerPid) ?? Number.NaN;
    const t1 = performance.now();
    const masks = f1 - f0;
    const cpu = cpuBetween(c0, c1);
    // Per mask: where the cores went. The broker runs on this machine only because the bench needs one;
    // its share is what a remote cluster would take off this box.
    const perMask = { main: cpu.mainMs / masks, other: cpu.otherThreadsMs / masks, ffmpeg: cpu.ffmpegMs / masks, broker: (b1 - b0) / masks };
    return { masksPerS: masks / ((t1 - t0) / 1000), delays, perMask };
  } finally {
    clearInterval(poll);
    ws.terminate();
    await reader?.close();
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const seconds = Number(flags.seconds);
  const warmupS = Number(flags.warmup);
  const n = Number(flags.streams);
  const rounds = Number(flags.rounds);
  const cfg = loadConfigFile(flags.config);
  const clip = flags.clip ?? cfg.streams[0]?.url;
  if (clip === undefined) throw new Error('no clip: pass --clip FILE');
  const dir = mkdtempSync(join(tmpdir(), 'segd-bench-kafka-'));
  const broker = await startKafka({ dir });
  try {
    const load0 = loadavg()[0] as number;
    const off: number[] = [];
    const on: number[] = [];
    const delays: number[] = [];
    type PerMask = Awaited<ReturnType<typeof run>>['perMask'];
    const cpuOff: PerMask[] = [];
    const cpuOn: PerMask[] = [];
    const fmt = (c: PerMask): string => `main ${c.main.toFixed(2)} · other threads ${c.other.toFixed(2)} · ffmpeg ${c.ffmpeg.toFixed(2)} · broker ${c.broker.toFixed(2)}`;
    for (let r = 0; r < rounds; r++) {
      const o = await run(cfg, clip, null, broker.pid, n, warmupS, seconds);
      off.push(o.masksPerS);
      cpuOff.push(o.perMask);
      const k = await run(cfg, clip, broker.bootstrap, broker.pid, n, warmupS, seconds);
      on.push(k.masksPerS);
      cpuOn.push(k.perMask);
      delays.push(...k.delays);
      console.log(`  round ${r + 1}/${rounds}: off ${off[r]?.toFixed(2)} · on ${on[r]?.toFixed(2)} masks/s`);
      console.log(`    CPU ms per mask off: ${fmt(o.perMask)}`);
      console.log(`    CPU ms per mask on:  ${fmt(k.perMask)}`);
    }
    const medianOf = (xs: PerMask[]): PerMask => ({
      main: +median(xs.map((x) => x.main)).toFixed(2),
      other: +median(xs.map((x) => x.other)).toFixed(2),
      ffmpeg: +median(xs.map((x) => x.ffmpeg)).toFixed(2),
      broker: +median(xs.map((x) => x.broker)).toFixed(2),
    });
    delays.sort((a, b) => a - b);
    const ratios = on.map((x, i) => x / (off[i] as number));
    const result = {
      streams: n,
      seconds,
      rounds,
      masksPerSOff: +median(off).toFixed(2),
      masksPerSOn: +median(on).toFixed(2),
      ratio: +median(ratios).toFixed(4),
      ratios: ratios.map((x) => +x.toFixed(4)),
      ratioGoal: 0.98,
      events: delays.length,
      eventAfterMaskMsP50: +percentile(delays, 50).toFixed(1),
      eventAfterMaskMsP99: +percentile(delays, 99).toFixed(1),
      eventGoalMs: 100,
      cpuMsPerMaskOff: medianOf(cpuOff),
      cpuMsPerMaskOn: medianOf(cpuOn),
      loadAverage: [+load0.toFixed(2), +(loadavg()[0] as number).toFixed(2)],
    };
    console.log(`Kafka off: ${result.masksPerSOff} masks/s · on: ${result.masksPerSOn} masks/s · median ratio ${result.ratio} (goal ≥ 0.98)`);
    console.log(`events: ${delays.length}, arrival after their WebSocket mask p50 ${result.eventAfterMaskMsP50} ms, p99 ${result.eventAfterMaskMsP99} ms (goal ≤ 100 ms)`);
    console.log(JSON.stringify(result));
  } finally {
    await broker.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
