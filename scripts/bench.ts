/**
 * `npm run bench` (not a test): throughput and latency on one model, in one run.
 *
 *  1. bare ONNX Runtime frames/s at the configured batch: one session on the calling thread (the
 *     provider the engine's selection picks, the same thread settings), one batch of real clip
 *     frames, run back to back. It runs in a child process (this script with --bare), so ONNX
 *     Runtime is never loaded on this process's main thread beside the daemon's inference worker
 *     (several threads using onnxruntime-node is known to crash: microsoft/onnxruntime#24486);
 *  2. the whole daemon (daemon/app.ts startDaemon) with N file streams unpaced (realtime false):
 *     masks/s received by a WebSocket client, and the ratio to (1);
 *  3. the daemon with N streams paced at the clip's native rate: p50/p99 capture→receive latency.
 *
 * The client (clients/ts SegdClient, raw masks) runs in a child process (this script with
 * --client), so its receive is timed by a loop of its own, not the daemon's. Latency =
 * client receive time − the mask header's captureTimeMs (same machine, same clock), so it covers
 * decode hand-over, queue, batching, inference, encode and send.
 *
 * Flags: --config FILE (default config/default.yaml) --seconds N (per phase, 10) --warmup N (3)
 *        --streams N (4) --clip FILE (default: the config's first file stream) --batch N (override)
 *        --model FILE (override the config's model; its card is the .json beside it)
 *        --bare-only: phase (1) only, printed as one JSON line (model, batch, frames/s, batch
 *        p50/p99 ms, provider, threads, load average before/after): the models/README.md table.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { SegdClient } from '../clients/ts/segd-client.js';
import { startDaemon } from '../daemon/app.js';
import { loadConfigFile } from '../daemon/config/load.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { defaultCardPath, readModelCard, sessionOptionsFor } from '../pipeline/engine/index.js';
import { parseSourceUrl } from '../pipeline/sources/index.js';

const { values: flags } = parseArgs({
  options: {
    config: { type: 'string', default: 'config/default.yaml' },
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '3' },
    streams: { type: 'string', default: '4' },
    clip: { type: 'string' },
    batch: { type: 'string' },
    model: { type: 'string' },
    'bare-only': { type: 'boolean', default: false },
    client: { type: 'string' }, // internal: run as the measuring WebSocket client of this URL
    bare: { type: 'boolean', default: false }, // internal: run the bare ONNX Runtime phase, print JSON
  },
});

const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

interface ClientReport {
  masks: number;
  seconds: number;
  latencyMs: number[];
}

/** Child-process role: count masks and their capture→receive latency inside the window. */
async function runClient(url: string, warmupS: number, seconds: number): Promise<void> {
  const client = await SegdClient.connect(url, { encoding: 'raw' });
  const latencyMs: number[] = [];
  const start = Date.now() + warmupS * 1000;
  const end = start + seconds * 1000;
  client.onMask = (mask) => {
    const now = Date.now();
    if (now >= start && now < end) latencyMs.push(now - mask.captureTimeMs);
  };
  await new Promise((resolve) => setTimeout(resolve, end - Date.now()));
  await client.close();
  const report: ClientReport = { masks: latencyMs.length, seconds, latencyMs };
  process.stdout.write(JSON.stringify(report) + '\n');
}

/** The config with --model FILE (resolved against the working directory) in place of its model. */
function withModel(cfg: SegdConfig): SegdConfig {
  if (!flags.model) return cfg;
  if (!existsSync(flags.model)) throw new Error(`bench: --model ${flags.model}: no such file (expected an .onnx with its card beside it)`);
  return { ...cfg, model: { ...cfg.model, path: resolve(flags.model), card: null } };
}

function ffmpegPath(cfg: SegdConfig): string {
  return cfg.ffmpeg.path ?? (createRequire(import.meta.url)('@ffmpeg-installer/ffmpeg') as { path: string }).path;
}

/** The clip to play: --clip, else the config's first file stream. */
function clipPath(cfg: SegdConfig): string {
  if (flags.clip) return flags.clip;
  for (const s of cfg.streams) {
    const parsed = parseSourceUrl(s.url);
    if (parsed.kind === 'file') return parsed.input;
  }
  throw new Error('bench: no file stream in the config; pass --clip FILE');
}

/** `n` consecutive clip frames as one NHWC batch, decoded and scaled by the real ffmpeg. */
function decodeBatch(ffmpeg: string, clip: string, n: number, w: number, h: number): Uint8Array {
  const bytes = n * w * h * 3;
  const args = ['-nostdin', '-v', 'error', '-i', clip, '-frames:v', String(n), '-vf', `scale=${w}:${h}`, '-f', 'rawvideo', '-pix_fmt', 'rgb24', 'pipe:1'];
  const r = spawnSync(ffmpeg, args, { maxBuffer: bytes + 1024 });
  if (r.status !== 0 || r.stdout.length !== bytes) throw new Error(`bench: ffmpeg decode of ${clip} failed: ${r.stderr.toString()}`);
  return new Uint8Array(r.stdout.buffer, r.stdout.byteOffset, bytes);
}

interface BareResult {
  provider: string;
  framesPerS: number;
  batchMsP50: number;
  batchMsP99: number;
  runs: number;
}

/**
 * Child-process role (--bare): bare ONNX Runtime on this thread, with the provider the engine's
 * selection (providers.ts) picks. ONNX Runtime is imported here only, so the parent never loads it.
 */
async function runBare(cfg: SegdConfig, clip: string, maxBatch: number, seconds: number): Promise<void> {
  const { openSession } = await import('../pipeline/engine/providers.js');
  const { env, InferenceSession, Tensor } = await import('onnxruntime-node');
  env.logLevel = 'fatal'; // as the engine's worker does: skipped providers are logged once by openSession
  const card = await readModelCard(cfg.model.card ?? defaultCardPath(cfg.model.path));
  const { height: h, width: w } = card.input;
  const probe = await openSession(cfg.model.path, cfg.model.providers, cfg.model, logger);
  const provider = probe.provider;
  await probe.session.release();
  const input = decodeBatch(ffmpegPath(cfg), clip, maxBatch, w, h);
  const session = await InferenceSession.create(cfg.model.path, sessionOptionsFor(provider, cfg.model));
  try {
    const feeds = { frames: new Tensor('uint8', input, [maxBatch, h, w, 3]) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const times: number[] = [];
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    const elapsed = (performance.now() - t0) / 1000;
    const sorted = [...times].sort((a, b) => a - b);
    const result: BareResult = {
      provider,
      framesPerS: (times.length * maxBatch) / elapsed,
      batchMsP50: percentile(sorted, 50),
      batchMsP99: percentile(sorted, 99),
      runs: times.length,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await session.release();
  }
}

function lastLine(text: string): string {
  return text.trimEnd().split('\n').pop() ?? '';
}

/** Runs this script with --bare in a child process and reads its result. */
async function benchBare(maxBatch: number, clip: string, seconds: number): Promise<BareResult> {
  const self = fileURLToPath(import.meta.url);
  const args = [self, '--bare', '--config', flags.config, '--clip', clip, '--batch', String(maxBatch), '--seconds', String(seconds)];
  if (flags.model) args.push('--model', flags.model);
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  if (code !== 0) throw new Error(`bench: bare ONNX Runtime phase exited with ${code}`);
  return JSON.parse(lastLine(out)) as BareResult; // earlier lines: the phase's pino log lines
}

/** The daemon on N copies of the clip, measured by a client in a child process. */
async function benchDaemon(cfg: SegdConfig, maxBatch: number, p: { streams: number; realtime: boolean; clip: string; warmupS: number; seconds: number }): Promise<ClientReport> {
  const config: SegdConfig = {
    ...cfg,
    server: { ...cfg.server, host: '127.0.0.1', port: 0, token: null, tokenFile: null },
    batching: { ...cfg.batching, maxBatch },
    streams: Array.from({ length: p.streams }, (_, i) => ({
      id: `bench${i}`,
      url: p.clip,
      loop: true,
      realtime: p.realtime,
      rtspTransport: 'tcp' as const,
      expectedFps: 10,
      maxFps: null,
      queueDepth: 1,
      zones: [],
    })),
  };
  const daemon = await startDaemon(config, logger);
  try {
    const url = `ws://127.0.0.1:${daemon.address.port}/ws`;
    const self = fileURLToPath(import.meta.url);
    const child = spawn(process.execPath, [self, '--client', url, '--warmup', String(p.warmupS), '--seconds', String(p.seconds)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    if (code !== 0) throw new Error(`bench client exited with ${code}`);
    return JSON.parse(out) as ClientReport;
  } finally {
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const seconds = Number(flags.seconds);
  const warmupS = Number(flags.warmup);
  if (flags.client) return runClient(flags.client, warmupS, seconds);

  const cfg = withModel(loadConfigFile(flags.config));
  const maxBatch = flags.batch ? Number(flags.batch) : cfg.batching.maxBatch;
  const nStreams = Number(flags.streams);
  const clip = clipPath(cfg);

  if (flags.bare) return runBare(cfg, clip, maxBatch, seconds);

  const load1Before = loadavg()[0] as number;
  const bare = await benchBare(maxBatch, clip, seconds);
  if (flags['bare-only']) {
    const { intraOpThreads, interOpThreads } = cfg.model.cpu;
    const line = {
      model: cfg.model.path,
      batch: maxBatch,
      framesPerS: bare.framesPerS,
      batchMsP50: bare.batchMsP50,
      batchMsP99: bare.batchMsP99,
      runs: bare.runs,
      seconds,
      provider: bare.provider,
      threads: { intraOp: intraOpThreads, interOp: interOpThreads },
      // The machine may be shared: the figure means little without the load it was taken under.
      load1: { before: load1Before, after: loadavg()[0] as number },
    };
    console.log(JSON.stringify(line));
    return;
  }
  console.log(`model ${cfg.model.path} | provider ${bare.provider} | batch ${maxBatch} | intra-op threads ${cfg.model.cpu.intraOpThreads} | ${seconds} s per phase`);
  console.log(`bare onnxruntime:           ${fmt(bare.framesPerS)} frames/s (one batch of ${maxBatch}: p50 ${fmt(bare.batchMsP50)} ms)`);

  const unpaced = await benchDaemon(cfg, maxBatch, { streams: nStreams, realtime: false, clip, warmupS, seconds });
  const e2eFps = unpaced.masks / unpaced.seconds;
  const ratio = e2eFps / bare.framesPerS;
  console.log(`daemon, ${nStreams} streams unpaced:  ${fmt(e2eFps)} masks/s received | ratio to bare ${fmt(ratio, 3)} (goal >= 0.95)`);

  const paced = await benchDaemon(cfg, maxBatch, { streams: nStreams, realtime: true, clip, warmupS, seconds });
  const lat = [...paced.latencyMs].sort((a, b) => a - b);
  const p50 = percentile(lat, 50);
  const p99 = percentile(lat, 99);
  console.log(
    `daemon, ${nStreams} streams paced:    ${fmt(paced.masks / paced.seconds)} masks/s | capture→receive p50 ${fmt(p50)} ms, p99 ${fmt(p99)} ms (${lat.length} masks) | p99 / one batch's inference = ${fmt(p99 / bare.batchMsP50, 2)} (goal <= 1.5)`,
  );
  console.log(
    JSON.stringify({
      provider: bare.provider,
      maxBatch,
      streams: nStreams,
      seconds,
      bareFramesPerS: bare.framesPerS,
      bareBatchMsP50: bare.batchMsP50,
      daemonUnpacedMasksPerS: e2eFps,
      ratio,
      daemonPacedMasksPerS: paced.masks / paced.seconds,
      latencyMsP50: p50,
      latencyMsP99: p99,
    }),
  );
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exitCode = 1;
});
