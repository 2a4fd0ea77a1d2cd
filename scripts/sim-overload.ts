/**
 * `node dist/scripts/sim-overload.js` (not a test, not a benchmark): a discrete-event model of the
 * batcher over capacity, to compare dispatch rules without the noise of a shared machine.
 *
 * S cameras at `fps`, each frame jittered by up to 3 ms, newest-wins queue of depth 1 per camera,
 * one batch in flight, a batch of n frames taking `fixedMs + perFrameMs × n`. Two rules:
 *  - rotation (the batcher's): the next streams after the last one served that have a frame;
 *  - freshest: the most recently captured waiting frames first.
 * Prints p50/p99 capture→done and the least and most masks/s a stream got, for cameras whose frame
 * phases are spread at random and for cameras in phase. docs/performance.md → Latency.
 *
 * Flags: --streams N (8) --fps N (10) --batch N (2) --per-frame-ms N (15.5, the int8 default here)
 *        --fixed-ms N (0) --seconds N (60) --seed N (1)
 */
import { percentile } from './bench-stats.js';
import { parseFlags } from './flags.js';

const f = parseFlags('node dist/scripts/sim-overload.js', {
  streams: { type: 'string', default: '8' },
  fps: { type: 'string', default: '10' },
  batch: { type: 'string', default: '2' },
  'per-frame-ms': { type: 'string', default: '15.5' },
  'fixed-ms': { type: 'string', default: '0' },
  seconds: { type: 'string', default: '60' },
  seed: { type: 'string', default: '1' },
});
const S = Number(f.streams);
const FPS = Number(f.fps);
const B = Number(f.batch);
const PER_FRAME = Number(f['per-frame-ms']) / 1000;
const FIXED = Number(f['fixed-ms']) / 1000;
const T = Number(f.seconds);
const WARMUP = 5;

/** mulberry32: a seeded generator, so every run of the model gives the same figures. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Rule = 'rotation' | 'freshest';

function simulate(rule: Rule, inPhase: boolean, seed: number): { p50: number; p99: number; minRate: number; maxRate: number } {
  const random = rng(seed);
  const arrivals: [number, number][] = [];
  for (let s = 0; s < S; s++) {
    const phase = inPhase ? 0 : random() / FPS;
    for (let t = phase; t < T; t += 1 / FPS) arrivals.push([t + random() * 0.003, s]);
  }
  arrivals.sort((a, b) => a[0] - b[0]);
  const queued: (number | null)[] = new Array<number | null>(S).fill(null);
  const served = new Array<number>(S).fill(0);
  const latencies: number[] = [];
  let next = 0;
  let now = 0;
  let rr = 0;
  for (;;) {
    while (next < arrivals.length && (arrivals[next] as [number, number])[0] <= now) {
      const [t, s] = arrivals[next++] as [number, number];
      queued[s] = t; // newest wins
    }
    const waiting = [...queued.keys()].filter((s) => queued[s] !== null);
    if (waiting.length === 0) {
      if (next >= arrivals.length) break;
      now = (arrivals[next] as [number, number])[0];
      continue;
    }
    let pick: number[];
    if (rule === 'rotation') {
      pick = [];
      for (let k = 0; k < S && pick.length < B; k++) if (queued[(rr + k) % S] !== null) pick.push((rr + k) % S);
      rr = ((pick[pick.length - 1] as number) + 1) % S;
    } else {
      pick = waiting.sort((a, b) => (queued[b] as number) - (queued[a] as number)).slice(0, B);
    }
    const done = now + FIXED + PER_FRAME * pick.length;
    for (const s of pick) {
      if (now > WARMUP) {
        latencies.push((done - (queued[s] as number)) * 1000);
        served[s] = (served[s] as number) + 1;
      }
      queued[s] = null;
    }
    now = done;
  }
  latencies.sort((a, b) => a - b);
  const rates = served.map((n) => n / (T - WARMUP));
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), minRate: Math.min(...rates), maxRate: Math.max(...rates) };
}

console.log(`${S} cameras × ${FPS} fps, batch ${B}, a batch of n takes ${FIXED * 1000} + ${PER_FRAME * 1000} × n ms`);
for (const inPhase of [false, true]) {
  for (const rule of ['rotation', 'freshest'] as const) {
    const r = simulate(rule, inPhase, Number(f.seed));
    console.log(
      `${inPhase ? 'in phase' : 'spread  '}  ${rule.padEnd(8)}  p50 ${r.p50.toFixed(0)} ms  p99 ${r.p99.toFixed(0)} ms  ` +
        `masks/s per stream ${r.minRate.toFixed(1)}–${r.maxRate.toFixed(1)}`,
    );
  }
}
