/**
 * `npm run bench` (not a test): throughput, CPU time and latency on one model, in interleaved
 * rounds so that load drifting on a shared machine hits every phase alike.
 *
 * Phases, each round (odd rounds in reverse order):
 *  - bare: bare ONNX Runtime at the configured batch on one session, one batch of real clip frames
 *    run back to back (the engine's provider selection and session options). In a child process
 *    (this script with --bare), so ONNX Runtime never loads on this process's main thread beside
 *    the daemon's worker (several threads using onnxruntime-node is known to crash:
 *    microsoft/onnxruntime#24486). Reports frames/s, one batch's p50, CPU ms per frame;
 *  - decode: bare decode (bench-decode.ts): the daemon's ffmpeg and command line (decoder threads, scale to
 *    the model's size, rgb24 to a pipe) on the clip, unpaced: CPU ms per frame. With bare, the floor;
 *  - unpaced: the whole daemon (bench-daemon.ts: a fresh child process per phase) on N file streams unpaced:
 *    masks/s received by a client, its ratio to bare (same round), CPU ms per mask published as decode
 *    (ffmpeg) + inference (worker and ORT pool) + own (main thread), minus the floor, and the inference
 *    stage per batch against bare's;
 *  - under / over: the daemon on 2 and on N streams paced at the clip's native 10 fps
 *    (meant under and over capacity; the report says which regime each really was, from bare's
 *    frames/s: raise --streams for a faster model): p50/p99 capture→receive, drops, per-stream masks/s;
 *  - pyav, gst (unpaced) and pyav-paced, gst-paced (N streams x 10 fps, against 'over'): the peers
 *    (bench-peers.ts, scripts/peers/) on the same clip, model, batch, threads and streams: masks/s, CPU ms
 *    per mask, p50/p99, RSS, and segd's ratios to them in the same rounds.
 * Every daemon and peer phase reports RSS (process + ffmpeg children) at its window's end.
 *
 * CPU per mask = (the daemon process, every thread + its ffmpeg children) / masks published, inside the
 * measuring window (scripts/bench-cpu.ts: process.cpuUsage and /proc). The stage histograms
 * (daemon/metrics.ts) give where a mask's wall time goes.
 *
 * The client (bench-client.ts: a plain ws client decoding segd's binary header) runs in a child process
 * with its own loop. Latency = client receive time − the mask header's captureTimeMs (same machine, same
 * clock): decode hand-over, queue, batching, inference, encode and send. The peers stamp their frames the
 * same way (when the RGB frame is ready) and send the same header.
 *
 * Flags: --config FILE (default config/default.yaml) --rounds N (3) --seconds N (per phase, 5)
 *        --warmup N (2) --streams N (4) --under-streams N (2) --clip FILE (default: the config's
 *        first file stream) --batch N (override) --model FILE (override the config's model; its
 *        card is the .json beside it) --phases LIST (bare,decode,unpaced,under,over; also pyav, gst,
 *        pyav-paced, gst-paced) --peers (adds bare, decode, unpaced, over and the four peer phases)
 *        --json FILE (the result object, also printed as the last line)
 *        --bare-only: bare ORT once, printed as one JSON line (model, batch, frames/s, batch
 *        p50/p99 ms, CPU ms/frame, provider, threads, load average before/after): the models/README.md table.
 */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import type { SegdConfig } from '../daemon/config/schema.js';
import { STAGES } from '../daemon/metrics.js';
import { readModelCard, sessionOptionsFor } from '../pipeline/engine/index.js';
import { runChild } from './bench-child.js';
import { benchFfmpeg, cardPath, clipPath, loadBenchConfig, modelInput } from './bench-config.js';
import { daemonPhase, type DaemonRound } from './bench-daemon.js';
import { decodePhase, type DecodeRound } from './bench-decode.js';
import { peerPhase, peersPython, type PeerName, type PeerRound } from './bench-peers.js';
import { median, percentile, summarize, type Summary } from './bench-stats.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('npm run bench --', {
  config: { type: 'string', default: 'config/default.yaml' },
  rounds: { type: 'string', default: '3' },
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '2' },
  streams: { type: 'string', default: '4' },
  'under-streams': { type: 'string', default: '2' },
  phases: { type: 'string', default: 'bare,decode,unpaced,under,over' },
  peers: { type: 'boolean', default: false },
  json: { type: 'string' },
  clip: { type: 'string' },
  batch: { type: 'string' },
  model: { type: 'string' },
  'bare-only': { type: 'boolean', default: false },
  bare: { type: 'boolean', default: false }, // internal: run the bare ONNX Runtime phase, print JSON
}, ['bare']);

const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });

/** The clips' native rate, the pace of the under/over phases. */
const CLIP_FPS = 10;

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

/** `n` consecutive clip frames as one NHWC batch, decoded and scaled by the daemon's ffmpeg. */
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
  /** CPU time of the whole process (every ORT thread) per frame, ms. */
  cpuMsPerFrame: number;
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
  const card = await readModelCard(cardPath(cfg));
  const { height: h, width: w } = card.input;
  const probe = await openSession(cfg.model.path, cfg.model.providers, cfg.model, logger);
  const provider = probe.provider;
  await probe.session.release();
  const input = decodeBatch(benchFfmpeg(cfg), clip, maxBatch, w, h);
  const session = await InferenceSession.create(cfg.model.path, sessionOptionsFor(provider, cfg.model));
  try {
    const feeds = { frames: new Tensor('uint8', input, [maxBatch, h, w, 3]) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    const times: number[] = [];
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    while (performance.now() - t0 < seconds * 1000) {
      const t = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t);
    }
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const sorted = [...times].sort((a, b) => a - b);
    const frames = times.length * maxBatch;
    const result: BareResult = {
      provider,
      framesPerS: frames / elapsed,
      batchMsP50: percentile(sorted, 50),
      batchMsP99: percentile(sorted, 99),
      cpuMsPerFrame: (cpu.user + cpu.system) / 1000 / frames,
      runs: times.length,
    };
    process.stdout.write(JSON.stringify(result) + '\n');
  } finally {
    await session.release();
  }
}

/**
 * Bare ONNX Runtime as the daemon's engine runs it: model.sessions sessions side by side (each its own
 * process here: onnxruntime-node runs a session on the calling thread), each with the config's threads.
 * Frames/s add up; CPU per frame is over all of them; batch times are the sessions' medians (p50) and worst (p99).
 */
async function benchBare(maxBatch: number, clip: string, seconds: number, sessions: number): Promise<BareResult> {
  const args = ['--bare', '--config', flags.config, '--clip', clip, '--batch', String(maxBatch), '--seconds', String(seconds)];
  if (flags.model) args.push('--model', flags.model);
  const each = await Promise.all(Array.from({ length: sessions }, () => runChild<BareResult>(fileURLToPath(import.meta.url), args, 'bare ONNX Runtime phase')));
  const frames = each.reduce((sum, b) => sum + b.runs * maxBatch, 0);
  return {
    provider: (each[0] as BareResult).provider,
    framesPerS: each.reduce((sum, b) => sum + b.framesPerS, 0),
    batchMsP50: median(each.map((b) => b.batchMsP50)),
    batchMsP99: Math.max(...each.map((b) => b.batchMsP99)),
    cpuMsPerFrame: each.reduce((sum, b) => sum + b.cpuMsPerFrame * b.runs * maxBatch, 0) / frames,
    runs: each.reduce((sum, b) => sum + b.runs, 0),
  };
}

type DaemonPhaseName = 'unpaced' | 'under' | 'over';
type PeerPhaseName = 'pyav' | 'gst' | 'pyav-paced' | 'gst-paced';
type PhaseName = 'bare' | 'decode' | DaemonPhaseName | PeerPhaseName;
const PHASES: readonly PhaseName[] = ['bare', 'decode', 'unpaced', 'under', 'over', 'pyav', 'gst', 'pyav-paced', 'gst-paced'];
const PEER_PHASES: readonly PeerPhaseName[] = ['pyav', 'gst', 'pyav-paced', 'gst-paced'];
/** What --peers adds: the floor's decode half and every peer, unpaced and paced. */
const WITH_PEERS: readonly PhaseName[] = ['bare', 'decode', 'unpaced', 'over', ...PEER_PHASES];

function peerOf(phase: PeerPhaseName): { name: PeerName; realtime: boolean } {
  return { name: phase.startsWith('pyav') ? 'pyav' : 'gst', realtime: phase.endsWith('-paced') };
}

function load1(): number {
  return loadavg()[0] as number;
}

function s(x: Summary, digits = 1): string {
  return `${fmt(x.median, digits)} (spread ${fmt(x.spread * 100, 0)}%)`;
}

function goal(ok: boolean): string {
  return ok ? 'met' : 'NOT met';
}

/** One round of a measured phase, daemon or peer: the daemon's rounds carry the same figures as a peer's. */
type PhaseRound = PeerRound;

function dropTotals(rs: readonly PhaseRound[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of rs) for (const [k, v] of Object.entries(r.drops)) out[k] = (out[k] ?? 0) + v;
  return out;
}

function common(rs: readonly PhaseRound[]): Record<string, unknown> {
  return {
    masksPerS: summarize(rs.map((r) => r.masksPerS)),
    cpuMsPerMask: summarize(rs.map((r) => r.cpuMsPerMask)),
    latencyMs: { p50: summarize(rs.map((r) => r.p50)), p99: summarize(rs.map((r) => r.p99)) },
    dropsInWindows: dropTotals(rs),
    streamMasksPerS: { min: summarize(rs.map((r) => r.streamMinPerS)), max: summarize(rs.map((r) => r.streamMaxPerS)) },
    meanBatch: median(rs.map((r) => r.meanBatch)),
    rssMb: summarize(rs.map((r) => r.rssMb)),
  };
}

function printCommon(rs: readonly PhaseRound[]): void {
  const m = (f: (r: PhaseRound) => number): Summary => summarize(rs.map(f));
  console.log(
    `  ${s(m((r) => r.masksPerS))} masks/s received; per stream min ${fmt(median(rs.map((r) => r.streamMinPerS)))} / max ${fmt(median(rs.map((r) => r.streamMaxPerS)))}; ` +
      `mean batch ${fmt(median(rs.map((r) => r.meanBatch)), 2)}; RSS ${s(m((r) => r.rssMb), 0)} MB`,
  );
  console.log(`  capture→receive p50 ${s(m((r) => r.p50))} ms, p99 ${s(m((r) => r.p99))} ms | drops in windows ${JSON.stringify(dropTotals(rs))}`);
}

async function main(): Promise<void> {
  const seconds = Number(flags.seconds);
  const warmupS = Number(flags.warmup);
  const cfg = loadBenchConfig(flags.config, flags.model);
  const maxBatch = flags.batch ? Number(flags.batch) : cfg.batching.maxBatch;
  const nStreams = Number(flags.streams);
  const underStreams = Number(flags['under-streams']);
  const clip = clipPath(cfg, flags.clip);

  if (flags.bare) return runBare(cfg, clip, maxBatch, seconds);

  const loadBefore = loadavg();
  if (flags['bare-only']) {
    const bare = await benchBare(maxBatch, clip, seconds, cfg.model.sessions);
    const { intraOpThreads, interOpThreads } = cfg.model.cpu;
    const line = {
      model: cfg.model.path,
      batch: maxBatch,
      framesPerS: bare.framesPerS,
      batchMsP50: bare.batchMsP50,
      batchMsP99: bare.batchMsP99,
      cpuMsPerFrame: bare.cpuMsPerFrame,
      runs: bare.runs,
      seconds,
      provider: bare.provider,
      threads: { intraOp: intraOpThreads, interOp: interOpThreads },
      sessions: cfg.model.sessions,
      // The machine may be shared: the figure means little without the load it was taken under.
      load1: { before: loadBefore[0], after: load1() },
    };
    console.log(JSON.stringify(line));
    return;
  }

  const rounds = Number(flags.rounds);
  const wanted = new Set(flags.phases.split(',').map((p) => p.trim()));
  if (flags.peers) for (const p of WITH_PEERS) wanted.add(p);
  for (const p of wanted) if (!PHASES.includes(p as PhaseName)) throw new Error(`bench: --phases: unknown phase '${p}' (known: ${PHASES.join(', ')})`);
  const phases = PHASES.filter((p) => wanted.has(p));
  const { intraOpThreads, interOpThreads, allowSpinning } = cfg.model.cpu;
  const input = await modelInput(cfg);
  const python = phases.some((p) => (PEER_PHASES as readonly string[]).includes(p)) ? peersPython() : '';
  console.log(
    `model ${cfg.model.path} | batch ${maxBatch} | ${cfg.model.sessions} session(s) x intra-op ${intraOpThreads}, inter-op ${interOpThreads} threads, spinning ${allowSpinning ? 'on' : 'off'} | ` +
      `maxDelayMs ${cfg.batching.maxDelayMs} | ffmpeg threads ${cfg.ffmpeg.threads} | ` +
      `${rounds} rounds x ${phases.join(', ')} (${seconds} s each, ${warmupS} s warm-up) | load1/5/15 before ${loadBefore.map((x) => fmt(x, 2)).join(' ')}`,
  );

  const bare: BareResult[] = [];
  const decode: DecodeRound[] = [];
  const runs: Record<DaemonPhaseName, DaemonRound[]> = { unpaced: [], under: [], over: [] };
  const peerRuns: Record<PeerPhaseName, PeerRound[]> = { pyav: [], gst: [], 'pyav-paced': [], 'gst-paced': [] };
  const roundLoads: number[] = [];
  let provider = 'n/a';
  for (let round = 0; round < rounds; round++) {
    // Alternate the order so drift in the machine's load does not always favour the same phase.
    const order = round % 2 === 0 ? phases : [...phases].reverse();
    for (const phase of order) {
      if (phase === 'bare') {
        const b = await benchBare(maxBatch, clip, seconds, cfg.model.sessions);
        provider = b.provider;
        bare.push(b);
      } else if (phase === 'decode') {
        decode.push(await decodePhase({ ffmpeg: benchFfmpeg(cfg), clip, width: input.width, height: input.height, threads: cfg.ffmpeg.threads, warmupS, seconds }));
      } else if (phase === 'unpaced' || phase === 'under' || phase === 'over') {
        const streams = phase === 'under' ? underStreams : nStreams;
        runs[phase].push(
          await daemonPhase({ config: flags.config, ...(flags.model ? { model: flags.model } : {}), clip, maxBatch, streams, realtime: phase !== 'unpaced', maxFps: null, warmupS, seconds }),
        );
      } else {
        const { name, realtime } = peerOf(phase);
        peerRuns[phase].push(
          await peerPhase(name, {
            python,
            model: cfg.model.path,
            card: cardPath(cfg),
            clip,
            streams: nStreams,
            maxBatch,
            realtime,
            // A peer runs one session, as its author would: with all the threads segd's sessions have together.
            intraOpThreads: intraOpThreads * cfg.model.sessions,
            interOpThreads,
            allowSpinning,
            decoderThreads: cfg.ffmpeg.threads,
            warmupS,
            seconds,
          }),
        );
      }
    }
    roundLoads.push(load1());
    console.log(`  round ${round + 1}/${rounds} done (load1 ${fmt(load1(), 2)})`);
  }
  const loadAfter = loadavg();

  const bareFps = summarize(bare.map((b) => b.framesPerS));
  const bareBatch = summarize(bare.map((b) => b.batchMsP50));
  const bareCpu = summarize(bare.map((b) => b.cpuMsPerFrame));
  const decodeCpu = summarize(decode.map((d) => d.cpuMsPerFrame));
  // Ratios per round: each figure against the same round's reference.
  const perRound = <T>(xs: readonly number[], refs: readonly T[], f: (x: number, ref: T) => number): Summary =>
    summarize(xs.map((x, i) => (refs[i] !== undefined ? f(x, refs[i] as T) : Number.NaN)));
  const out: Record<string, unknown> = {
    provider,
    maxBatch,
    streams: nStreams,
    underStreams,
    rounds,
    seconds,
    settings: { sessions: cfg.model.sessions, intraOpThreads, interOpThreads, allowSpinning, maxDelayMs: cfg.batching.maxDelayMs, ffmpegThreads: cfg.ffmpeg.threads },
    load1: { before: loadBefore, after: loadAfter, afterEachRound: roundLoads },
  };
  console.log(`provider ${provider} | load1/5/15 after ${loadAfter.map((x) => fmt(x, 2)).join(' ')} | figures: median (spread = (max-min)/median over ${rounds} rounds)`);
  if (bare.length > 0) {
    console.log(`bare onnxruntime:   ${s(bareFps)} frames/s | one batch of ${maxBatch}: p50 ${s(bareBatch)} ms | CPU ${s(bareCpu)} ms/frame`);
    out['bare'] = { framesPerS: bareFps, batchMsP50: bareBatch, cpuMsPerFrame: bareCpu };
  }
  if (decode.length > 0) {
    const fps = summarize(decode.map((d) => d.framesPerS));
    console.log(`bare decode (ffmpeg → rgb24 ${input.width}x${input.height}, ${cfg.ffmpeg.threads} thread(s)): ${s(fps)} frames/s | CPU ${s(decodeCpu, 2)} ms/frame`);
    out['decode'] = { framesPerS: fps, cpuMsPerFrame: decodeCpu };
  }
  for (const phase of ['unpaced', 'under', 'over'] as const) {
    const rs = runs[phase];
    if (rs.length === 0) continue;
    const streams = phase === 'under' ? underStreams : nStreams;
    // Which regime a paced phase really measured: "over" means over capacity only if the frames
    // asked for exceed what bare ONNX Runtime does (the int8 model does 4 x 10 fps with room).
    const asked = streams * CLIP_FPS;
    const regime = phase === 'unpaced' || bare.length === 0 ? null : asked > bareFps.median ? 'over' : 'under';
    const label =
      phase === 'unpaced'
        ? `${streams} streams unpaced`
        : `${streams} streams x ${CLIP_FPS} fps (meant ${phase} capacity` +
          (regime === null ? ')' : `; ${asked} fps asked vs bare ${fmt(bareFps.median)}: ${regime === phase ? 'it is' : `it is NOT: ${regime} capacity`})`);
    const cpu = summarize(rs.map((r) => r.cpuMsPerMask));
    const ff = summarize(rs.map((r) => r.ffmpegMsPerMask));
    const main = summarize(rs.map((r) => r.mainMsPerMask));
    const other = summarize(rs.map((r) => r.otherMsPerMask));
    const stage = Object.fromEntries(STAGES.map((st) => [st, median(rs.map((r) => r.stageMs[st] ?? Number.NaN))]));
    const phaseOut: Record<string, unknown> = {
      ...(regime === null ? {} : { regime }),
      ...common(rs),
      cpuSplitMsPerMask: { ffmpeg: ff, mainThread: main, otherThreads: other },
      stageMeanMs: stage,
      rssIdleMb: median(rs.map((r) => r.rssIdleMb)),
    };
    console.log(`daemon, ${label}:`);
    printCommon(rs);
    console.log(
      `  CPU ${s(cpu, 2)} ms/mask = decode (ffmpeg) ${fmt(ff.median, 2)} + inference (worker, ORT pool) ${fmt(other.median, 2)} + own (main thread) ${fmt(main.median, 2)}` +
        (bare.length > 0 ? ` | over bare inference's ${fmt(bareCpu.median, 2)}: ${fmt(cpu.median - bareCpu.median, 2)} ms/mask` : ''),
    );
    console.log(`  stage means (ms): ${STAGES.map((st) => `${st} ${fmt(stage[st] as number, 1)}`).join(', ')} (inference per batch)`);
    if (rs.some((r) => r.ffmpegUnpaired > 0)) console.log('  note: an ffmpeg child started or ended inside a window; its CPU is not counted');
    if (bare.length > 0) {
      if (phase === 'unpaced') {
        const ratio = perRound(rs.map((r) => r.masksPerS), bare, (x, b) => x / b.framesPerS);
        const cpuRatio = perRound(rs.map((r) => r.cpuMsPerMask), bare, (x, b) => x / b.cpuMsPerFrame);
        const inferRatio = perRound(rs.map((r) => r.stageMs['inference'] ?? Number.NaN), bare, (x, b) => x / b.batchMsP50);
        console.log(`  daemon ÷ bare frames/s ${s(ratio, 3)} | daemon CPU/mask ÷ bare CPU/frame ${s(cpuRatio, 3)}`);
        console.log(
          `  inference per batch inside the daemon ÷ bare batch p50 ${s(inferRatio, 3)} (daemon mean batch ${fmt(median(rs.map((r) => r.meanBatch)), 2)} vs bare ${maxBatch}): goal <= 1.08: ${goal(inferRatio.median <= 1.08)}`,
        );
        phaseOut['ratioToBare'] = ratio;
        phaseOut['cpuRatioToBare'] = cpuRatio;
        phaseOut['inferenceBatchRatioToBare'] = inferRatio;
        if (decode.length > 0) {
          // The floor: what decoding and inference cost alone; above it is segd's own overhead.
          const over = perRound(rs.map((r) => r.cpuMsPerMask), bare.map((b, i) => b.cpuMsPerFrame + (decode[i]?.cpuMsPerFrame ?? Number.NaN)), (x, floor) => x - floor);
          console.log(
            `  floor = bare decode ${fmt(decodeCpu.median, 2)} + bare inference ${fmt(bareCpu.median, 2)} = ${fmt(decodeCpu.median + bareCpu.median, 2)} ms/mask; ` +
              `daemon − floor ${s(over, 2)} ms/mask: goal <= 2.0: ${goal(over.median <= 2.0)} ` +
              `(decode ${fmt(ff.median - decodeCpu.median, 2)} and inference ${fmt(other.median - bareCpu.median, 2)} over their bare figures, own ${fmt(main.median, 2)})`,
          );
          phaseOut['cpuOverFloorMsPerMask'] = over;
        }
      } else {
        const limit = phase === 'under' ? 1.5 : 2.5;
        const ratio = perRound(rs.map((r) => r.p99), bare, (x, b) => x / b.batchMsP50);
        console.log(`  p99 ÷ one batch's inference ${s(ratio, 2)}: goal <= ${limit}: ${goal(ratio.median <= limit)}`);
        phaseOut['p99ToBatch'] = ratio;
      }
    }
    out[phase] = phaseOut;
  }
  for (const phase of PEER_PHASES) {
    const rs = peerRuns[phase];
    if (rs.length === 0) continue;
    const { name, realtime } = peerOf(phase);
    const cpu = summarize(rs.map((r) => r.cpuMsPerMask));
    console.log(`peer ${name} (${name === 'pyav' ? 'PyAV' : 'GStreamer appsink'} + onnxruntime + websockets), ${nStreams} streams ${realtime ? `x ${CLIP_FPS} fps` : 'unpaced'}:`);
    printCommon(rs);
    console.log(`  CPU ${s(cpu, 2)} ms/mask (the peer's process, every thread)`);
    if (provider !== 'cpu' && provider !== 'n/a') console.log(`  note: the peers run onnxruntime's CPU provider; segd ran ${provider}`);
    const phaseOut: Record<string, unknown> = common(rs);
    // segd against the peer on the same work in the same rounds: unpaced against unpaced, paced against 'over' (N x 10 fps).
    const segd = realtime ? runs.over : runs.unpaced;
    if (segd.length > 0) {
      const ratio = perRound(segd.map((r) => r.masksPerS), rs, (x, peer) => x / peer.masksPerS);
      const cpuRatio = perRound(segd.map((r) => r.cpuMsPerMask), rs, (x, peer) => x / peer.cpuMsPerMask);
      const rssRatio = perRound(segd.map((r) => r.rssMb), rs, (x, peer) => x / peer.rssMb);
      const target = name === 'pyav' ? 1.3 : 1.1;
      console.log(
        `  segd ÷ ${name}: masks/s ${s(ratio, 3)}` +
          (realtime ? '' : `: goal >= ${target}: ${goal(ratio.median >= target)}`) +
          ` | CPU/mask ${s(cpuRatio, 3)} | RSS ${s(rssRatio, 2)}`,
      );
      phaseOut['segdRatio'] = { masksPerS: ratio, cpuMsPerMask: cpuRatio, rssMb: rssRatio };
    }
    out[phase] = phaseOut;
  }
  console.log(JSON.stringify(out));
  if (flags.json) writeFileSync(flags.json, JSON.stringify(out, null, 2) + '\n');
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exitCode = 1;
});
