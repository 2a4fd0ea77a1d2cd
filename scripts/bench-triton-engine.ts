/**
 * segd's own Triton client: TritonEngine.run(2) round trips against a running Triton, beside
 * Triton's own compute and queue time for the same requests (its Prometheus endpoint), so
 * mean round trip − mean compute = what the RPC hop costs segd (transfer, (de)serialisation, Triton's queue).
 *
 *   node dist/scripts/bench-triton-engine.js --url grpc://127.0.0.1:18001 --model seg --metrics http://127.0.0.1:18002/metrics [--n 30]
 *
 * The server: test/helpers/triton-server.py (the card in its model config). Frames: the sample clip.
 */
import { parseArgs } from 'node:util';
import { pino } from 'pino';
import { TritonEngine } from '../pipeline/engine/index.js';
import { firstClipFrames } from '../test/helpers/clip-frames.js';

async function tritonTotals(url: string, model: string): Promise<Record<string, number>> {
  const text = await (await fetch(url)).text();
  const out: Record<string, number> = {};
  for (const k of ['queue', 'compute_infer', 'request']) {
    const m = new RegExp(`^nv_inference_${k}_duration_us\\{model="${model}",[^}]*\\} (\\S+)$`, 'm').exec(text);
    out[k] = m ? Number(m[1]) : 0;
  }
  return out;
}

const { values } = parseArgs({ options: { url: { type: 'string' }, model: { type: 'string' }, metrics: { type: 'string' }, n: { type: 'string', default: '30' } } });
const { url, model, metrics } = values;
if (url === undefined || model === undefined || metrics === undefined) throw new Error('usage: --url grpc://host:port --model NAME --metrics http://host:port/metrics [--n N]');
const n = Number(values.n);
const engine = await TritonEngine.create({
  url,
  model,
  version: '',
  timeoutMs: 30_000,
  tls: { ca: null, cert: null, key: null },
  headers: {},
  cardPath: null,
  maxBatch: 2,
  reconnect: { minMs: 500, maxMs: 5000 },
  logger: pino({ level: 'silent' }),
});
const frames = firstClipFrames(2);
const fill = (): void => {
  const input = engine.acquireInput();
  frames.forEach((f, i) => input.set(f, i * f.length));
};
for (let i = 0; i < 5; i++) {
  fill();
  await engine.run(2);
}
const before = await tritonTotals(metrics, model);
const rtt: number[] = [];
for (let i = 0; i < n; i++) {
  fill();
  const t0 = performance.now();
  await engine.run(2);
  rtt.push(performance.now() - t0);
}
const after = await tritonTotals(metrics, model);
await engine.close();
rtt.sort((a, b) => a - b);
const per = (k: string): number => ((after[k] ?? 0) - (before[k] ?? 0)) / n / 1000;
const median = rtt[Math.floor(n / 2)] ?? NaN;
// Means on both sides: Triton's counters give sums over the same requests, so mean − mean is per request.
const mean = rtt.reduce((a, b) => a + b, 0) / n;
const out = {
  batch: 2,
  requests: n,
  rtt_ms_median: +median.toFixed(2),
  rtt_ms_p90: +(rtt[Math.floor(n * 0.9)] ?? NaN).toFixed(2),
  triton_ms_mean: { queue: +per('queue').toFixed(2), compute_infer: +per('compute_infer').toFixed(2), request: +per('request').toFixed(2) },
  rtt_ms_mean: +mean.toFixed(2),
  // What the hop costs: the round trip minus Triton's compute (transfer, (de)serialisation, Triton's queue).
  overhead_ms_mean: +(mean - per('compute_infer')).toFixed(2),
  // Outside Triton altogether: the round trip minus Triton's whole request time (network and client).
  outside_triton_ms_mean: +(mean - per('request')).toFixed(2),
};
console.log(JSON.stringify(out, null, 1));
