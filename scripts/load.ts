/**
 * `npm run load -- --streams 8 --minutes 30 --out load-report` (a soak test, not a CI test): runs
 * the daemon as a child process (so the memory measured is the daemon's alone) with N file streams
 * paced at their native rate, keeps one WebSocket client subscribed to everything, and samples every
 * --interval seconds: RSS, V8 heap, event-loop lag (p99 and max), capture→send p99 (the daemon's
 * histogram, per interval), capture→receive p99 seen by the client, masks/s, drops/s, restarts and
 * warn/error log lines. Writes OUT.csv (one row per sample) and OUT.md (the table and a comparison
 * of the first and last quarter of the run: flat means no growth).
 *
 * Runtime stream add/remove is not supported by the daemon (streams come from the config at start),
 * so the churn phase (--churn N) churns what can come and go at run time: WebSocket clients. N
 * clients connect, subscribe and disconnect one after another; memory is sampled before and after.
 *
 * Flags: --streams N (8) --minutes M (30) --interval S (10) --out PATH (load-report)
 *        --config FILE (config/default.yaml: model and batching settings) --churn N (0)
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import WebSocket from 'ws';
import { stringify } from 'yaml';
import { loadConfigFile } from '../daemon/config/load.js';
import { decodeMaskHeader } from '../pipeline/publish/protocol.js';

const REPO = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const USAGE = `usage: npm run load -- [--streams N (8)] [--minutes M (30)] [--interval S (10)] [--out PATH (load-report)]
                     [--config FILE (config/default.yaml)] [--churn N (0)]`;
let parsed;
try {
  parsed = parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      streams: { type: 'string', default: '8' },
      minutes: { type: 'string', default: '30' },
      interval: { type: 'string', default: '10' },
      out: { type: 'string', default: 'load-report' },
      config: { type: 'string', default: join(REPO, 'config', 'default.yaml') },
      churn: { type: 'string', default: '0' },
    },
  });
} catch (err) {
  console.error(`load: ${(err as Error).message}\n${USAGE}`);
  process.exit(2);
}
const flags = parsed.values;
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}
for (const k of ['streams', 'minutes', 'interval', 'churn'] as const) {
  if (!(Number(flags[k]) >= 0)) {
    console.error(`load: --${k} expects a non-negative number, got ${JSON.stringify(flags[k])}\n${USAGE}`);
    process.exit(2);
  }
}
const STREAMS = Number(flags.streams);
const MINUTES = Number(flags.minutes);
const INTERVAL_S = Number(flags.interval);
const CHURN = Number(flags.churn);
const OUT = resolve(flags.out);

interface Sample {
  t: number;
  rssMiB: number;
  heapMiB: number;
  lagP99Ms: number;
  lagMaxMs: number;
  sendP99Ms: number;
  recvP99Ms: number;
  masksPerS: number;
  dropsPerS: number;
  restarts: number;
  warnLines: number;
}

/** Sum of every sample of `name` (all label sets) in a Prometheus text scrape. */
function sum(text: string, name: string): number {
  let total = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name) || (line[name.length] !== '{' && line[name.length] !== ' ')) continue;
    total += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return total;
}

/** Cumulative bucket counts of a histogram without labels: [le, count][]. */
function buckets(text: string, name: string): [number, number][] {
  const out: [number, number][] = [];
  for (const m of text.matchAll(new RegExp(`^${name}_bucket\\{le="([^"]+)"\\} (\\S+)$`, 'gm'))) out.push([Number(m[1]), Number(m[2])]);
  return out;
}

/** p99 of the observations between two scrapes, as the upper bound of its bucket (ms). */
function p99Between(prev: [number, number][], cur: [number, number][]): number {
  const total = (cur.at(-1)?.[1] ?? 0) - (prev.at(-1)?.[1] ?? 0);
  if (total <= 0) return Number.NaN;
  for (let i = 0; i < cur.length; i++) {
    const [le, c] = cur[i] as [number, number];
    if (c - (prev[i]?.[1] ?? 0) >= 0.99 * total) return le * 1000;
  }
  return Number.POSITIVE_INFINITY;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function main(): Promise<void> {
  const base = loadConfigFile(flags.config);
  const clips = base.streams.filter((s) => s.url.startsWith('/') || s.url.startsWith('file:')).map((s) => s.url);
  const clip = clips[0];
  if (clip === undefined) throw new Error(`${flags.config}: needs a file stream to copy`);
  const tmp = mkdtempSync(join(tmpdir(), 'segd-load-'));
  const cfgPath = join(tmp, 'load.yaml');
  writeFileSync(
    cfgPath,
    stringify({
      ...base,
      server: { ...base.server, host: '127.0.0.1', port: 0 },
      log: { level: 'info' },
      streams: Array.from({ length: STREAMS }, (_, i) => ({ ...base.streams[0], id: `load${i}`, url: clip, loop: true, realtime: true })),
    }),
  );

  const child = spawn(process.execPath, [join(REPO, 'dist', 'daemon', 'cli.js'), 'run', '--config', cfgPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  let port = 0;
  let warnLines = 0;
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      if (line.includes('"level":"warn"') || line.includes('"level":"error"') || line.includes('"level":"fatal"')) warnLines++;
      if (port === 0 && line.includes('"msg":"listening"')) port = (JSON.parse(line) as { port: number }).port;
    }
  });
  const stop = (): void => {
    child.kill('SIGTERM');
    rmSync(tmp, { recursive: true, force: true });
  };
  process.once('SIGINT', () => {
    stop();
    process.exit(130);
  });
  try {
    while (port === 0) {
      if (child.exitCode !== null) throw new Error(`daemon exited (${child.exitCode}) before listening`);
      await sleep(100);
    }
    const http = `http://127.0.0.1:${port}`;
    while ((await fetch(`${http}/readyz`).catch(() => null))?.status !== 200) await sleep(250);
    const scrape = async (): Promise<string> => (await fetch(`${http}/metrics`)).text();

    // The measuring client: every stream, raw; latency = receive time − the header's capture time.
    const latencies: number[] = [];
    let masks = 0;
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    ws.on('message', (data: Buffer, isBinary: boolean) => {
      if (!isBinary) return;
      masks++;
      latencies.push(Date.now() - decodeMaskHeader(data).captureTimeMs);
    });
    await new Promise((r) => ws.once('open', r));

    const samples: Sample[] = [];
    const t0 = Date.now();
    let prevText = await scrape();
    let prevAt = Date.now();
    const end = t0 + MINUTES * 60_000;
    process.stderr.write(`load: ${STREAMS} streams for ${MINUTES} min, sampling every ${INTERVAL_S} s → ${OUT}.{csv,md}\n`);
    while (Date.now() < end) {
      await sleep(Math.min(INTERVAL_S * 1000, end - Date.now()));
      const text = await scrape();
      const now = Date.now();
      const dt = (now - prevAt) / 1000;
      const s: Sample = {
        t: Math.round((now - t0) / 1000),
        rssMiB: sum(text, 'process_resident_memory_bytes') / 2 ** 20,
        heapMiB: sum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20,
        lagP99Ms: sum(text, 'nodejs_eventloop_lag_p99_seconds') * 1000,
        lagMaxMs: sum(text, 'nodejs_eventloop_lag_max_seconds') * 1000,
        sendP99Ms: p99Between(buckets(prevText, 'segd_capture_to_send_seconds'), buckets(text, 'segd_capture_to_send_seconds')),
        recvP99Ms: percentile(latencies, 99),
        masksPerS: masks / dt,
        dropsPerS: (sum(text, 'segd_frames_dropped_total') - sum(prevText, 'segd_frames_dropped_total')) / dt,
        restarts: sum(text, 'segd_stream_restarts_total'),
        warnLines,
      };
      samples.push(s);
      process.stderr.write(`${JSON.stringify(s)}\n`);
      latencies.length = 0;
      masks = 0;
      prevText = text;
      prevAt = now;
    }
    ws.close();

    const churn = CHURN > 0 ? await churnClients(port, CHURN, scrape) : null;
    writeReport(samples, churn);
  } finally {
    stop();
  }
}

interface ChurnResult {
  cycles: number;
  before: { rssMiB: number; heapMiB: number };
  after: { rssMiB: number; heapMiB: number };
}

async function churnClients(port: number, cycles: number, scrape: () => Promise<string>): Promise<ChurnResult> {
  const mem = async (): Promise<{ rssMiB: number; heapMiB: number }> => {
    const text = await scrape();
    return { rssMiB: sum(text, 'process_resident_memory_bytes') / 2 ** 20, heapMiB: sum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20 };
  };
  const before = await mem();
  for (let i = 0; i < cycles; i++) {
    const ws = new WebSocket(`ws://127.0.0.1:${port}/ws`);
    await new Promise<void>((resolveOne, reject) => {
      ws.once('error', reject);
      // hello → subscribe → the subscription reply → close (masks that arrive meanwhile are taken too).
      ws.on('message', (d: Buffer, isBinary: boolean) => {
        if (isBinary) return;
        const type = (JSON.parse(d.toString('utf8')) as { type?: string }).type;
        if (type === 'hello') ws.send(JSON.stringify({ type: 'subscribe', streams: [`load${i % STREAMS}`] }));
        else ws.close();
      });
      ws.once('close', () => resolveOne());
    });
    if ((i + 1) % 100 === 0) process.stderr.write(`churn: ${i + 1}/${cycles}\n`);
  }
  await sleep(5000); // let the daemon's heap settle (GC) before the second reading
  return { cycles, before, after: await mem() };
}

const COLUMNS: (keyof Sample)[] = ['t', 'rssMiB', 'heapMiB', 'lagP99Ms', 'lagMaxMs', 'sendP99Ms', 'recvP99Ms', 'masksPerS', 'dropsPerS', 'restarts', 'warnLines'];

function fmt(x: number): string {
  return Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(1)) : String(x);
}

function writeReport(samples: Sample[], churn: ChurnResult | null): void {
  writeFileSync(`${OUT}.csv`, `${COLUMNS.join(',')}\n${samples.map((s) => COLUMNS.map((c) => s[c]).join(',')).join('\n')}\n`);
  const q = Math.max(1, Math.floor(samples.length / 4));
  const mean = (rows: Sample[], c: keyof Sample): number => rows.reduce((a, s) => a + s[c], 0) / rows.length;
  const first = samples.slice(0, q);
  const last = samples.slice(-q);
  const lines = [
    `# segd load report`,
    '',
    `${STREAMS} file streams at native rate for ${MINUTES} min, one client subscribed to all, a sample every ${INTERVAL_S} s.`,
    `Latencies: sendP99 = the daemon's capture→send histogram p99 over the interval (bucket upper bound);`,
    `recvP99 = capture→receive p99 measured by the client. Lag: nodejs_eventloop_lag_{p99,max}_seconds.`,
    '',
    '```',
    COLUMNS.map((c) => c.padStart(10)).join(' '),
    ...samples.map((s) => COLUMNS.map((c) => fmt(s[c]).padStart(10)).join(' ')),
    '```',
    '',
    `## First quarter vs last quarter (${q} sample(s) each)`,
    '',
    '```',
    `${'metric'.padEnd(10)} ${'first'.padStart(10)} ${'last'.padStart(10)} ${'change'.padStart(10)}`,
    ...(['rssMiB', 'heapMiB', 'lagP99Ms', 'sendP99Ms', 'recvP99Ms', 'masksPerS', 'dropsPerS'] as const).map((c) => {
      const a = mean(first, c);
      const b = mean(last, c);
      return `${c.padEnd(10)} ${fmt(a).padStart(10)} ${fmt(b).padStart(10)} ${`${fmt(((b - a) / a) * 100)}%`.padStart(10)}`;
    }),
    '```',
  ];
  if (churn) {
    lines.push(
      '',
      `## Client churn: ${churn.cycles} connect/subscribe/disconnect cycles`,
      '',
      '```',
      `rss  ${fmt(churn.before.rssMiB)} MiB → ${fmt(churn.after.rssMiB)} MiB`,
      `heap ${fmt(churn.before.heapMiB)} MiB → ${fmt(churn.after.heapMiB)} MiB`,
      '```',
    );
  }
  lines.push('', 'Runtime stream add/remove is not supported by the daemon (streams are fixed at start), so stream churn is not measured.', '');
  writeFileSync(`${OUT}.md`, lines.join('\n'));
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`load: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
