/**
 * `npm run bench:mqtt` (not a test; beside `npm run bench`): the cost of MQTT, in one run.
 *
 *  1. the daemon (daemon/app.ts startDaemon) with N unpaced file streams (realtime false), each
 *     with one zone, MQTT off: masks/s = frames inferred per second (segd_frames_inferred_total
 *     over the measured window);
 *  2. the same with MQTT on (stats every frame, zones, events; a `mosquitto` started here on a
 *     free port): masks/s, and the ratio to (1) — the goal is ≥ 0.98;
 *  3. in run (2), a WebSocket client and an MQTT subscriber in this process: for every zone event,
 *     its arrival minus the arrival of the WebSocket mask of the same stream and seq, p50/p99 — the
 *     goal is p99 within one frame interval (100 ms at the clip's 10 fps).
 *
 * Flags: --config FILE (default config/default.yaml) --seconds N (per run, 10) --warmup N (3)
 *        --streams N (4) --clip FILE (default: the config's first stream)
 * Needs /usr/sbin/mosquitto (scripts/setup.sh --test installs it).
 */
import { loadavg } from 'node:os';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { WebSocket } from 'ws';
import { decodeMaskMessage } from '../clients/ts/protocol-client.js';
import { startDaemon } from '../daemon/app.js';
import { loadConfigFile } from '../daemon/config/load.js';
import type { SegdConfig } from '../daemon/config/schema.js';
import { startBroker } from '../test/helpers/mosquitto.js';
import { Subscriber } from '../test/helpers/mqtt-subscriber.js';
import { percentile } from './bench-stats.js';
import { BENCH_ZONE as ZONE, clipStreams, framesInferred as inferred } from './bench-streams.js';
import { parseFlags } from './flags.js';

const flags = parseFlags('npm run bench:mqtt --', {
  config: { type: 'string', default: 'config/default.yaml' },
  seconds: { type: 'string', default: '10' },
  warmup: { type: 'string', default: '3' },
  streams: { type: 'string', default: '4' },
  clip: { type: 'string' },
});
const logger = pino({ level: process.env['BENCH_LOG'] ?? 'warn' });
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));



interface RunResult {
  readonly masksPerS: number;
  readonly eventDelayMs: readonly number[];
}

async function run(base: SegdConfig, clip: string, mqttUrl: string | null, n: number, warmupS: number, seconds: number): Promise<RunResult> {
  const config: SegdConfig = {
    ...base,
    server: { ...base.server, host: '127.0.0.1', port: 0, token: null, tokenFile: null },
    mqtt:
      mqttUrl === null
        ? null
        : {
            url: mqttUrl,
            node: 'bench',
            clientId: null,
            username: null,
            password: null,
            passwordFile: null,
            tls: { ca: null, cert: null, key: null, rejectUnauthorized: true },
            topicPrefix: 'segd',
            statsIntervalMs: 0,
            masks: { enabled: false, intervalMs: 1000, expirySeconds: 10 },
            offlineQueue: 1000,
            keepaliveSeconds: 30,
            connectTimeoutMs: 10_000,
            reconnect: { minMs: 1000, maxMs: 30_000 },
            // Discovery and snapshots on (the defaults): what a Home Assistant user runs.
            homeAssistant: { discovery: true, prefix: 'homeassistant', classes: [], snapshots: { enabled: true, minIntervalMs: 2000, opacity: 0.5, quality: 80 } },
          },
    streams: clipStreams(n, clip, { realtime: false, zones: [ZONE] }),
  };
  const daemon = await startDaemon(config, logger);
  const maskAt = new Map<string, number>();
  const delays: number[] = [];
  const ws = new WebSocket(`ws://127.0.0.1:${daemon.address.port}/ws`);
  ws.on('message', (data, isBinary) => {
    if (!isBinary) return;
    const m = decodeMaskMessage(Buffer.isBuffer(data) ? data : Buffer.concat(data as Buffer[]));
    maskAt.set(`${m.streamId}#${m.seq}`, performance.now());
    if (maskAt.size > 10_000) maskAt.clear();
  });
  const sub = mqttUrl === null ? null : await Subscriber.connect(mqttUrl, 'segd/+/events');
  let measuring = false;
  sub?.client.on('message', (_topic, payload: Buffer) => {
    if (!measuring) return;
    const e = JSON.parse(payload.toString('utf8')) as { stream: string; after: { seq: number } };
    const at = maskAt.get(`${e.stream}#${e.after.seq}`);
    if (at !== undefined) delays.push(performance.now() - at);
  });
  try {
    await sleep(warmupS * 1000);
    measuring = true;
    const f0 = await inferred(daemon.metrics.render());
    const t0 = performance.now();
    await sleep(seconds * 1000);
    const f1 = await inferred(daemon.metrics.render());
    const t1 = performance.now();
    return { masksPerS: (f1 - f0) / ((t1 - t0) / 1000), eventDelayMs: delays.sort((a, b) => a - b) };
  } finally {
    ws.terminate();
    await sub?.close();
    await daemon.stop();
  }
}

async function main(): Promise<void> {
  const seconds = Number(flags.seconds);
  const warmupS = Number(flags.warmup);
  const n = Number(flags.streams);
  const cfg = loadConfigFile(flags.config);
  const clip = flags.clip ?? cfg.streams[0]?.url;
  if (clip === undefined) throw new Error('no clip: pass --clip FILE');
  const dir = mkdtempSync(join(tmpdir(), 'segd-bench-mqtt-'));
  const broker = await startBroker({ dir });
  try {
    const load0 = loadavg()[0] as number;
    const off = await run(cfg, clip, null, n, warmupS, seconds);
    const on = await run(cfg, clip, broker.url, n, warmupS, seconds);
    const d = on.eventDelayMs;
    const result = {
      streams: n,
      seconds,
      masksPerSOff: +off.masksPerS.toFixed(2),
      masksPerSOn: +on.masksPerS.toFixed(2),
      ratio: +(on.masksPerS / off.masksPerS).toFixed(4),
      ratioGoal: 0.98,
      events: d.length,
      eventAfterMaskMsP50: +percentile(d, 50).toFixed(1),
      eventAfterMaskMsP99: +percentile(d, 99).toFixed(1),
      eventGoalMs: 100,
      loadAverage: [+load0.toFixed(2), +(loadavg()[0] as number).toFixed(2)],
    };
    console.log(`MQTT off: ${result.masksPerSOff} masks/s · on: ${result.masksPerSOn} masks/s · ratio ${result.ratio} (goal ≥ 0.98)`);
    console.log(`events: ${d.length}, arrival after their WebSocket mask p50 ${result.eventAfterMaskMsP50} ms, p99 ${result.eventAfterMaskMsP99} ms (goal ≤ 100 ms)`);
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
