/**
 * `npm run load -- --streams 8 --minutes 30 --out load-report` (a soak test, not a CI test): runs
 * the daemon as a child process (so the memory measured is the daemon's alone) with N file streams
 * paced at their native rate, keeps one WebSocket client subscribed to everything, and samples every
 * --interval seconds: RSS, V8 heap, event-loop lag (p99 and max), capture→send p99 (the daemon's
 * histogram, per interval), capture→receive p99 seen by the client, masks/s, drops/s, restarts and
 * warn/error log lines. Writes OUT.csv (one row per sample) and OUT.md (the table and a comparison
 * of the first and last quarter of the run: flat means no growth).
 *
 * The daemon is started and watched with the test helpers (test/helpers/daemon.ts: the built CLI,
 * its JSON log lines, /readyz), and the clients are the reference client (clients/ts SegdClient).
 *
 * Runtime stream add/remove is not supported by the daemon (streams come from the config at start),
 * so the churn phase (--churn N) churns what can come and go at run time: WebSocket clients. N
 * clients connect, subscribe and disconnect one after another; memory is sampled before and after.
 *
 * Flags: --streams N (8) --minutes M (30) --interval S (10) --out PATH (load-report)
 *        --config FILE (config/default.yaml: model and batching settings) --churn N (0)
 */
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { SegdClient } from '../clients/ts/segd-client.js';
import { loadConfigFile } from '../daemon/config/load.js';
import { makeTempDir, startDaemonProcess, writeConfig, type DaemonProcess } from '../test/helpers/daemon.js';
import { scrape as scrapeMetrics } from '../test/helpers/e2e-client.js';
import { REPO_ROOT as REPO } from '../test/helpers/paths.js';
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
  const tmp = makeTempDir('segd-load-');
  const config = {
    ...base,
    server: { ...base.server, host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    streams: Array.from({ length: STREAMS }, (_, i) => ({ ...base.streams[0], id: `load${i}`, url: clip, loop: true, realtime: true })),
  };
  const cfgPath = writeConfig(tmp.dir, config, 'load.yaml');

  let daemon: DaemonProcess | null = null;
  const stop = async (): Promise<void> => {
    await daemon?.stop();
    tmp.cleanup();
  };
  process.once('SIGINT', () => {
    void stop().finally(() => process.exit(130));
  });
  try {
    daemon = await startDaemonProcess({ args: ['run', '--config', cfgPath] });
    // Model load and warm-up: however long it takes (the daemon's own log says why it is slow).
    await daemon.waitForReady(3_600_000);
    const logs = daemon.logs;
    const warnLines = (): number => logs.filter((r) => r.level === 'warn' || r.level === 'error' || r.level === 'fatal').length;
    const scrape = (): Promise<string> => scrapeMetrics((daemon as DaemonProcess).httpUrl);

    // The measuring client: every stream, raw; latency = receive time − the header's capture time.
    const latencies: number[] = [];
    let masks = 0;
    const client = await SegdClient.connect(daemon.wsUrl, { encoding: 'raw' });
    client.onMask = (m) => {
      masks++;
      latencies.push(Date.now() - m.captureTimeMs);
    };

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
        warnLines: warnLines(),
      };
      samples.push(s);
      process.stderr.write(`${JSON.stringify(s)}\n`);
      latencies.length = 0;
      masks = 0;
      prevText = text;
      prevAt = now;
    }
    await client.close();

    const churn = CHURN > 0 ? await churnClients(daemon.wsUrl, CHURN, scrape) : null;
    writeReport(samples, churn);
  } finally {
    await stop();
  }
}

interface ChurnResult {
  cycles: number;
  before: { rssMiB: number; heapMiB: number };
  after: { rssMiB: number; heapMiB: number };
}

async function churnClients(wsUrl: string, cycles: number, scrape: () => Promise<string>): Promise<ChurnResult> {
  const mem = async (): Promise<{ rssMiB: number; heapMiB: number }> => {
    const text = await scrape();
    return { rssMiB: sum(text, 'process_resident_memory_bytes') / 2 ** 20, heapMiB: sum(text, 'nodejs_heap_size_used_bytes') / 2 ** 20 };
  };
  const before = await mem();
  for (let i = 0; i < cycles; i++) {
    // connect (hello) → subscribe (and the model card: the client is ready after its reply) → close.
    const client = await SegdClient.connect(wsUrl, { encoding: 'raw', streams: [`load${i % STREAMS}`] });
    await client.close();
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
