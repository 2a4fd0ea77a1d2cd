/**
 * `npm run bench:scaling` (a benchmark, not a test): how the daemon's cost grows with cameras.
 *
 * 1. Scaling: the daemon on 1, 2, 4, 8, 16 copies of the clip (--streams), paced at the clip's 10 fps and
 *    unpaced (--modes), each point a fresh daemon process (bench-daemon.ts) in interleaved rounds (odd rounds
 *    in reverse order): masks/s, per-stream min/max, CPU ms per mask, RSS and PSS in total and per added stream
 *    (the difference to the previous point over the streams added), p50/p99 capture→receive, drops by reason.
 * 2. Cameras per box: for each rate of --cameras-fps (10, 5, 2), cameras at that `maxFps`, the largest count
 *    the machine holds: p99 ≤ 2 frame intervals and no stream starved (each received at least
 *    --starve-fraction of its frames in the window, less one for the window's edges). Found by doubling
 *    from 1 until a count fails, then bisecting; one window per probe, so noise can move the edge by a probe.
 *
 * Writes --out.json (every round of every point, and the searches' probes) and --out.png (the plot: masks/s,
 * CPU per mask, RSS and p50/p99 against streams; scripts/plot-scaling.py, matplotlib from the training venv).
 * A run takes about rounds × points × (warm-up + seconds + ~3 s start/stop) plus the searches' probes ×
 * (warm-up + cameras-seconds + ~3 s); the defaults come to ~10 minutes on a 2-core machine; printed first.
 *
 * Flags: --config FILE --model FILE --clip FILE --batch N (as bench.ts) --streams LIST (1,2,4,8,16)
 *        --modes LIST (paced,unpaced) --rounds N (2) --seconds N (5) --warmup N (2) --warmup-per-stream S (0.25:
 *        16 streams warm up 2 + 4 s; with 2 s, 16 paced streams had not settled on a loaded 2-core machine)
 *        --cameras-fps LIST (10,5,2; '' = no search) --cameras-seconds N (10) --cameras-max N (64)
 *        --starve-fraction F (0.9) --out PATH (docs/performance-scaling: .json and .png) --no-plot
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { clipPath, loadBenchConfig } from './bench-config.js';
import { daemonPhase, type DaemonParams, type DaemonRound } from './bench-daemon.js';
import { median } from './bench-stats.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('npm run bench:scaling --', {
  config: { type: 'string', default: 'config/default.yaml' },
  model: { type: 'string' },
  clip: { type: 'string' },
  batch: { type: 'string' },
  streams: { type: 'string', default: '1,2,4,8,16' },
  modes: { type: 'string', default: 'paced,unpaced' },
  rounds: { type: 'string', default: '2' },
  seconds: { type: 'string', default: '5' },
  warmup: { type: 'string', default: '2' },
  'warmup-per-stream': { type: 'string', default: '0.25' },
  'cameras-fps': { type: 'string', default: '10,5,2' },
  'cameras-seconds': { type: 'string', default: '10' },
  'cameras-max': { type: 'string', default: '64' },
  'starve-fraction': { type: 'string', default: '0.9' },
  out: { type: 'string', default: 'docs/performance-scaling' },
  'no-plot': { type: 'boolean', default: false },
});

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
/** The clip's native rate: the pace of paced streams. */
const CLIP_FPS = 10;
/** Start, stop and connect of one daemon process, roughly (for the time estimate only). */
const OVERHEAD_S = 3;

type Mode = 'paced' | 'unpaced';

function list(text: string, what: string): number[] {
  if (text.trim() === '') return [];
  const xs = text.split(',').map((x) => Number(x.trim()));
  for (const x of xs) if (!(x > 0)) throw new Error(`bench-scaling: --${what}: expected positive numbers separated by commas, got '${text}'`);
  return xs;
}

function positive(text: string, what: string): number {
  const x = Number(text);
  if (!(x > 0)) throw new Error(`bench-scaling: --${what}: expected a positive number, got '${text}'`);
  return x;
}

function fmt(x: number, digits = 1): string {
  return Number.isFinite(x) ? x.toFixed(digits) : 'n/a';
}

interface PointSummary {
  mode: Mode;
  streams: number;
  masksPerS: number;
  streamMinPerS: number;
  streamMaxPerS: number;
  cpuMsPerMask: number;
  rssMb: number;
  /** (RSS − the previous point's) / streams added; for the first point, (RSS − idle process) / streams. */
  rssPerAddedStreamMb: number;
  /** The same in PSS: the ffmpeg binary's shared text counted once, not once a stream. */
  pssMb: number;
  pssPerAddedStreamMb: number;
  p50: number;
  p99: number;
  drops: Record<string, number>;
  meanBatch: number;
  rounds: DaemonRound[];
}

interface Probe {
  cameras: number;
  holds: boolean;
  p99: number;
  streamMinPerS: number;
  masksPerS: number;
  drops: Record<string, number>;
}

interface CameraSearch {
  fps: number;
  p99LimitMs: number;
  minFramesPerStream: number;
  /** Most cameras that held (0: not even one). */
  cameras: number;
  probes: Probe[];
}

async function main(): Promise<void> {
  const cfg = loadBenchConfig(flags.config, flags.model);
  const clip = clipPath(cfg, flags.clip);
  const maxBatch = flags.batch ? positive(flags.batch, 'batch') : cfg.batching.maxBatch;
  const streams = list(flags.streams, 'streams').sort((a, b) => a - b);
  const modes = flags.modes.split(',').map((m) => m.trim());
  for (const m of modes) if (m !== 'paced' && m !== 'unpaced') throw new Error(`bench-scaling: --modes: unknown mode '${m}' (known: paced, unpaced)`);
  const rounds = positive(flags.rounds, 'rounds');
  const seconds = positive(flags.seconds, 'seconds');
  const warmupS = Number(flags.warmup);
  const warmupPerStream = Number(flags['warmup-per-stream']);
  if (!(warmupS >= 0) || !(warmupPerStream >= 0)) throw new Error('bench-scaling: --warmup and --warmup-per-stream: expected numbers >= 0');
  // Many streams take longer to reach a steady state (ffmpeg starts, first frames, queues filling).
  const warm = (n: number): number => warmupS + warmupPerStream * n;
  const camFps = list(flags['cameras-fps'], 'cameras-fps');
  const camSeconds = positive(flags['cameras-seconds'], 'cameras-seconds');
  const camMax = positive(flags['cameras-max'], 'cameras-max');
  const starve = positive(flags['starve-fraction'], 'starve-fraction');
  const base: Omit<DaemonParams, 'streams' | 'realtime' | 'maxFps' | 'seconds' | 'warmupS'> = {
    config: flags.config,
    ...(flags.model ? { model: flags.model } : {}),
    clip,
    maxBatch,
  };

  const points = modes.length * streams.length;
  const probesGuess = camFps.length * (Math.ceil(Math.log2(camMax)) + 3);
  const meanStreams = streams.reduce((a, b) => a + b, 0) / streams.length;
  const estimateS = rounds * points * (warm(meanStreams) + seconds + OVERHEAD_S) + probesGuess * (warm(camMax / 4) + camSeconds + OVERHEAD_S);
  console.log(
    `scaling: ${modes.join(', ')} x streams ${streams.join(', ')}, ${rounds} rounds of ${seconds} s (+${warmupS} s warm-up + ${warmupPerStream} s a stream); ` +
      `cameras per box at ${camFps.join(', ') || 'no'} fps, ${camSeconds} s a probe | about ${Math.round(estimateS / 60)} min | load1 ${fmt(loadavg()[0] as number, 2)}`,
  );

  // 1. Scaling, interleaved: every point once per round, the order reversed every other round.
  const order = modes.flatMap((mode) => streams.map((n) => ({ mode: mode as Mode, n })));
  const byPoint = new Map<string, DaemonRound[]>(order.map((p) => [`${p.mode}:${p.n}`, []]));
  for (let r = 0; r < rounds; r++) {
    for (const p of r % 2 === 0 ? order : [...order].reverse()) {
      const round = await daemonPhase({ ...base, streams: p.n, realtime: p.mode === 'paced', maxFps: null, seconds, warmupS: warm(p.n) });
      (byPoint.get(`${p.mode}:${p.n}`) as DaemonRound[]).push(round);
      console.log(`  round ${r + 1}: ${p.mode} ${p.n} streams: ${fmt(round.masksPerS)} masks/s, p99 ${fmt(round.p99, 0)} ms, RSS ${fmt(round.rssMb, 0)} MB`);
    }
  }
  const summary: PointSummary[] = [];
  for (const mode of modes as Mode[]) {
    let prev: { n: number; rss: number; pss: number } | null = null;
    for (const n of streams) {
      const rs = byPoint.get(`${mode}:${n}`) as DaemonRound[];
      const rss = median(rs.map((x) => x.rssMb));
      const drops: Record<string, number> = {};
      for (const x of rs) for (const [k, v] of Object.entries(x.drops)) drops[k] = (drops[k] ?? 0) + v;
      const perAdded = prev === null ? (rss - median(rs.map((x) => x.rssIdleMb))) / n : (rss - prev.rss) / (n - prev.n);
      const pss = median(rs.map((x) => x.pssMb));
      const pssPerAdded = prev === null ? (pss - median(rs.map((x) => x.pssIdleMb))) / n : (pss - prev.pss) / (n - prev.n);
      summary.push({
        mode,
        streams: n,
        masksPerS: median(rs.map((x) => x.masksPerS)),
        streamMinPerS: median(rs.map((x) => x.streamMinPerS)),
        streamMaxPerS: median(rs.map((x) => x.streamMaxPerS)),
        cpuMsPerMask: median(rs.map((x) => x.cpuMsPerMask)),
        rssMb: rss,
        rssPerAddedStreamMb: perAdded,
        pssMb: pss,
        pssPerAddedStreamMb: pssPerAdded,
        p50: median(rs.map((x) => x.p50)),
        p99: median(rs.map((x) => x.p99)),
        drops,
        meanBatch: median(rs.map((x) => x.meanBatch)),
        rounds: rs,
      });
      prev = { n, rss, pss };
    }
  }
  console.log(`\nscaling (medians over ${rounds} rounds; drops summed over the rounds' windows)`);
  console.log('| mode | streams | masks/s | per stream min–max | CPU ms/mask | RSS MB | RSS MB per added stream (first row: over the idle process, model included) | PSS MB | PSS MB per added stream | p50 ms | p99 ms | drops |');
  console.log('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  for (const p of summary) {
    const drops = Object.entries(p.drops).map(([k, v]) => `${k} ${v}`).join(', ') || '0';
    console.log(
      `| ${p.mode === 'paced' ? `${CLIP_FPS} fps` : 'unpaced'} | ${p.streams} | ${fmt(p.masksPerS)} | ${fmt(p.streamMinPerS)}–${fmt(p.streamMaxPerS)} | ${fmt(p.cpuMsPerMask, 2)} | ` +
        `${fmt(p.rssMb, 0)} | ${fmt(p.rssPerAddedStreamMb, 1)} | ${fmt(p.pssMb, 0)} | ${fmt(p.pssPerAddedStreamMb, 1)} | ${fmt(p.p50, 0)} | ${fmt(p.p99, 0)} | ${drops} |`,
    );
  }

  // 2. Cameras per box.
  const searches: CameraSearch[] = [];
  for (const fps of camFps) {
    const limit = 2000 / fps;
    const minFrames = fps * camSeconds * starve - 1;
    const probes: Probe[] = [];
    const probe = async (n: number): Promise<boolean> => {
      const r = await daemonPhase({ ...base, streams: n, realtime: true, maxFps: fps, seconds: camSeconds, warmupS: warm(n) });
      const holds = r.p99 <= limit && r.streamMinPerS * camSeconds >= minFrames;
      probes.push({ cameras: n, holds, p99: r.p99, streamMinPerS: r.streamMinPerS, masksPerS: r.masksPerS, drops: r.drops });
      console.log(`  ${fps} fps x ${n} cameras: p99 ${fmt(r.p99, 0)} ms (limit ${fmt(limit, 0)}), least stream ${fmt(r.streamMinPerS, 2)}/s: ${holds ? 'holds' : 'does not hold'}`);
      return holds;
    };
    let good = 0;
    let bad = camMax + 1;
    for (let n = 1; n <= camMax; n *= 2) {
      if (await probe(n)) good = n;
      else {
        bad = n;
        break;
      }
    }
    if (bad > camMax && good < camMax) {
      if (await probe(camMax)) good = camMax;
      else bad = camMax;
    }
    while (bad - good > 1) {
      const mid = Math.floor((good + bad) / 2);
      if (await probe(mid)) good = mid;
      else bad = mid;
    }
    searches.push({ fps, p99LimitMs: limit, minFramesPerStream: minFrames, cameras: good, probes });
  }
  if (searches.length > 0) {
    console.log(`\ncameras per box (maxFps; p99 ≤ 2 frame intervals; every stream ≥ ${starve} of its frames)`);
    console.log('| camera fps | cameras held | p99 at that count, ms | masks/s |');
    console.log('|---:|---:|---:|---:|');
    for (const s of searches) {
      const at = s.probes.filter((p) => p.cameras === s.cameras).at(-1);
      console.log(`| ${s.fps} | ${s.cameras} | ${fmt(at?.p99 ?? Number.NaN, 0)} | ${fmt(at?.masksPerS ?? Number.NaN)} |`);
    }
  }

  const out = resolve(flags.out);
  mkdirSync(dirname(out), { recursive: true });
  const result = {
    when: new Date().toISOString(),
    model: cfg.model.path,
    clip,
    maxBatch,
    settings: { ...cfg.model.cpu, maxDelayMs: cfg.batching.maxDelayMs, ffmpegThreads: cfg.ffmpeg.threads },
    rounds,
    seconds,
    warmupS,
    warmupPerStreamS: warmupPerStream,
    clipFps: CLIP_FPS,
    load1After: loadavg(),
    scaling: summary,
    camerasPerBox: { seconds: camSeconds, starveFraction: starve, searches },
  };
  writeFileSync(`${out}.json`, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nwrote ${out}.json`);
  if (!flags['no-plot']) {
    const venv = spawnSync('bash', [join(REPO, 'training', 'setup_env.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
    if (venv.status !== 0) throw new Error('bench-scaling: training/setup_env.sh failed (matplotlib comes from the training venv)');
    const plot = spawnSync(join(venv.stdout.trim(), 'bin', 'python'), [join(REPO, 'scripts', 'plot-scaling.py'), `${out}.json`, `${out}.png`], { stdio: 'inherit' });
    if (plot.status !== 0) throw new Error(`bench-scaling: scripts/plot-scaling.py exited with ${plot.status}`);
    console.log(`wrote ${out}.png`);
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exitCode = 1;
});
