/**
 * `npm run bench:swap` (a benchmark, not a test; issue 15's goal): a model hot-swap under N paced
 * streams (default 4, the clip at its native rate). The daemon runs in this process; a WebSocket
 * client in a child process (this script with --client) stamps every mask's receive time. After a
 * steady-state window, the swap is asked for through `PUT /api/model` and timed until it answers
 * (the new model loaded and warmed up beside the serving one, then switched between batches);
 * measuring goes on for --after seconds past that.
 *
 * Reported: capture→receive p50/p99 in the steady state and in the swap window (from the request
 * to --after seconds past the answer), their ratio (goal: swap p99 <= 2 × steady p99: warm-up of
 * the new model must not stall the serving one's batches), and masks lost: seq gaps per window
 * (paced streams are newest-wins, so the steady state may have some under load; compare) and the
 * drops the swap itself caused (`reconfigured`, `inference_error`; goal: 0), from /metrics.
 *
 * Flags: --config FILE (default config/default.yaml) --to FILE (the model to swap to; default:
 *        the config's own model, loaded again) --streams N (4) --warmup S (3) --steady S (10)
 *        --after S (5) --clip FILE (default: the config's first file stream)
 */
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { decodeMessage } from '../clients/ts/protocol-client.js';
import { startDaemon } from '../daemon/app.js';
import { loadConfigFile } from '../daemon/config/load.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { parseSourceUrl } from '../pipeline/sources/index.js';
import { clipStreams } from './bench-streams.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('npm run bench:swap --', {
  config: { type: 'string', default: 'config/default.yaml' },
  to: { type: 'string' },
  streams: { type: 'string', default: '4' },
  warmup: { type: 'string', default: '3' },
  steady: { type: 'string', default: '10' },
  after: { type: 'string', default: '5' },
  clip: { type: 'string' },
  client: { type: 'string' }, // internal: run as the recording WebSocket client of this URL
});

const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });

/** One received mask: stream, seq, capture time, receive time (epoch ms), model id. */
type Row = [string, number, number, number, string];

/** Child-process role: record every mask until stdin closes, then print the rows as JSON. */
async function runClient(url: string): Promise<void> {
  const rows: Row[] = [];
  const ws = new WebSocket(url);
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const now = Date.now();
    const m = decodeMessage(Buffer.isBuffer(data) ? data : Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data));
    if (m.kind === 'mask') rows.push([m.streamId, m.seq, m.captureTimeMs, now, m.modelId]);
  });
  await new Promise<void>((res, rej) => {
    ws.once('open', () => res());
    ws.once('error', rej);
  });
  process.stdout.write('ready\n');
  process.stdin.resume();
  await new Promise<void>((res) => process.stdin.once('end', () => res()));
  ws.terminate();
  process.stdout.write(`${JSON.stringify(rows)}\n`);
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

function clipOf(cfg: SegdConfig): string {
  if (flags.clip) return flags.clip;
  for (const s of cfg.streams) {
    const parsed = parseSourceUrl(s.url);
    if (parsed.kind === 'file') return parsed.input.replace(/^file:/, '');
  }
  throw new Error('bench-swap: no file stream in the config; pass --clip FILE');
}

/** Latency percentiles and seq gaps of the masks received in [from, to). */
function windowStats(rows: readonly Row[], from: number, to: number): { masks: number; p50: number; p99: number; gaps: number } {
  const inWindow = rows.filter((r) => r[3] >= from && r[3] < to);
  const lat = inWindow.map((r) => r[3] - r[2]).sort((a, b) => a - b);
  let gaps = 0;
  const last = new Map<string, number>();
  for (const r of inWindow) {
    const prev = last.get(r[0]);
    if (prev !== undefined && r[1] > prev + 1) gaps += r[1] - prev - 1;
    last.set(r[0], r[1]);
  }
  return { masks: inWindow.length, p50: percentile(lat, 50), p99: percentile(lat, 99), gaps };
}

async function dropsOf(base: string, reasons: readonly string[]): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    const m = /^segd_frames_dropped_total\{[^}]*reason="([a-z_]+)"[^}]*\} (\S+)$/.exec(line);
    if (m !== null && reasons.includes(m[1] ?? '')) sum += Number(m[2]);
  }
  return sum;
}

const sleep = (s: number): Promise<void> => new Promise((r) => setTimeout(r, s * 1000));

async function main(): Promise<void> {
  if (flags.client) return runClient(flags.client);
  const cfg = loadConfigFile(flags.config);
  const clip = clipOf(cfg);
  const n = Number(flags.streams);
  const to = resolve(flags.to ?? cfg.model.path);
  const config: SegdConfig = {
    ...cfg,
    server: { ...cfg.server, host: '127.0.0.1', port: 0, token: null, tokenFile: null },
    streams: clipStreams(n, clip, { realtime: true, prefix: 'swap' }),
  };
  const daemon = await startDaemon(config, logger);
  const base = `http://127.0.0.1:${daemon.address.port}`;
  try {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url), '--client', `ws://127.0.0.1:${daemon.address.port}/ws`], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!out.includes('ready\n')) await sleep(0.05);
    await sleep(Number(flags.warmup));
    const steadyFrom = Date.now();
    await sleep(Number(flags.steady));
    const swapDrops = ['reconfigured', 'inference_error', 'shutdown'];
    const dropsBefore = await dropsOf(base, swapDrops);
    const t0 = Date.now();
    const res = await fetch(`${base}/api/model`, { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: to }) });
    const body = (await res.json()) as Record<string, unknown>;
    const t1 = Date.now();
    if (res.status !== 200) throw new Error(`bench-swap: PUT /api/model → ${res.status} ${JSON.stringify(body)}`);
    await sleep(Number(flags.after));
    const tEnd = Date.now();
    const dropsAfter = await dropsOf(base, swapDrops);
    child.stdin.end();
    await new Promise<void>((r) => child.once('exit', () => r()));
    const rows = JSON.parse(out.slice(out.indexOf('ready\n') + 6).trim()) as Row[];

    const steady = windowStats(rows, steadyFrom, t0);
    const swap = windowStats(rows, t0, tEnd);
    const newId = (body['model'] as { name: string }).name;
    const oldId = rows.find((r) => r[3] < t0)?.[4];
    // Swapping to the same model (the default) keeps the id: the switch is then not visible in the masks.
    const switchedAt = newId === oldId ? Number.NaN : (rows.find((r) => r[4] === newId && r[3] >= t0)?.[3] ?? Number.NaN);
    const ratio = swap.p99 / steady.p99;
    const lostToSwap = dropsAfter - dropsBefore;
    console.log(`model swap to ${to} under ${n} paced streams: request answered in ${t1 - t0} ms; ${Number.isNaN(switchedAt) ? `same model id ${newId} (pass --to another model to see the switch)` : `first mask of ${newId} ${switchedAt - t0} ms after the request`}`);
    console.log(`steady state (${((t0 - steadyFrom) / 1000).toFixed(1)} s): ${steady.masks} masks, capture→receive p50 ${steady.p50} ms, p99 ${steady.p99} ms, seq gaps ${steady.gaps}`);
    console.log(`swap window  (${((tEnd - t0) / 1000).toFixed(1)} s): ${swap.masks} masks, capture→receive p50 ${swap.p50} ms, p99 ${swap.p99} ms, seq gaps ${swap.gaps}`);
    console.log(`p99 swap / steady = ${ratio.toFixed(2)} (goal <= 2) | frames dropped by the swap (reconfigured, inference_error, shutdown): ${lostToSwap} (goal 0)`);
    console.log(JSON.stringify({ streams: n, to, swapMs: t1 - t0, steady, swap, p99Ratio: ratio, droppedBySwap: lostToSwap }));
  } finally {
    await daemon.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
  process.exitCode = 1;
});
