/**
 * The bench's peers (scripts/peers/): what a user who did not pick segd would write, on the same clip, model,
 * batch, threads and stream count. `pyav`: PyAV decoding in a thread per stream; `gst`: a GStreamer pipeline
 * per stream ending in an appsink. Both feed one onnxruntime session (the same session options as segd's)
 * and send every mask in segd's binary format to the same counting client (bench-client.ts).
 *
 * A peer runs in its own process; CPU is that process's (every thread: decode, inference, server), RSS its
 * VmRSS at the window's end, masks published and drops its own counters, read on SIGUSR1 at the window's edges.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { at } from './bench-child.js';
import { measureClient } from './bench-client.js';
import { pidCpuMs, rssMb } from './bench-cpu.js';
import { percentile } from './bench-stats.js';

export const PEERS = ['pyav', 'gst'] as const;
export type PeerName = (typeof PEERS)[number];

/** scripts/peers/ in the source tree (this file runs from dist/scripts/). */
export const PEERS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '../../scripts/peers');

/** The peers' venv python (scripts/peers/setup_env.sh builds or reuses it). */
export function peersPython(): string {
  const r = spawnSync('bash', [join(PEERS_DIR, 'setup_env.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  if (r.status !== 0) throw new Error(`bench: scripts/peers/setup_env.sh failed (exit ${r.status})`);
  return join(r.stdout.trim(), 'bin', 'python');
}

export interface PeerParams {
  readonly python: string;
  readonly model: string;
  readonly card: string;
  readonly clip: string;
  readonly streams: number;
  readonly maxBatch: number;
  readonly realtime: boolean;
  readonly intraOpThreads: number;
  readonly interOpThreads: number;
  readonly allowSpinning: boolean;
  readonly decoderThreads: number;
  readonly warmupS: number;
  readonly seconds: number;
}

export interface PeerRound {
  masksPerS: number;
  cpuMsPerMask: number;
  p50: number;
  p99: number;
  drops: Record<string, number>;
  streamMinPerS: number;
  streamMaxPerS: number;
  meanBatch: number;
  rssMb: number;
}

interface Counters {
  readonly decoded: number;
  readonly published: number;
  readonly batches: number;
  readonly dropped: Record<string, number>;
}

/** A plain absolute path: the peers run in scripts/peers/, and GStreamer's filesrc knows no ffmpeg `file:` prefix. */
function plainPath(path: string): string {
  return resolve(path.startsWith('file:') ? path.slice('file:'.length) : path);
}

/** The command line of peer `name` (also used by the peers' integration test). */
export function peerArgs(name: PeerName, p: Omit<PeerParams, 'python' | 'warmupS' | 'seconds'>): string[] {
  return [
    join(PEERS_DIR, `peer_${name}.py`),
    '--model', plainPath(p.model),
    '--card', plainPath(p.card),
    '--clip', plainPath(p.clip),
    '--streams', String(p.streams),
    '--batch', String(p.maxBatch),
    '--intra-op-threads', String(p.intraOpThreads),
    '--inter-op-threads', String(p.interOpThreads),
    '--decoder-threads', String(p.decoderThreads),
    ...(p.allowSpinning ? ['--allow-spinning'] : []),
    ...(p.realtime ? ['--realtime'] : []),
  ];
}

/** Reads a child's stdout as JSON lines: the next one on demand. */
export class JsonLines {
  private readonly lines: unknown[] = [];
  private waiter: ((line: unknown) => void) | null = null;
  private ended = false;

  constructor(
    private readonly child: ChildProcess,
    private readonly what: string,
  ) {
    const rl = createInterface({ input: child.stdout as NodeJS.ReadableStream });
    rl.on('line', (text) => {
      let line: unknown;
      try {
        line = JSON.parse(text);
      } catch {
        return; // not ours (a library's print)
      }
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = null;
        w(line);
      } else this.lines.push(line);
    });
    rl.on('close', () => (this.ended = true));
  }

  next(timeoutMs: number): Promise<unknown> {
    if (this.lines.length > 0) return Promise.resolve(this.lines.shift());
    return new Promise((resolve, reject) => {
      if (this.ended) return reject(new Error(`bench: ${this.what} ended its output`));
      const timer = setTimeout(() => reject(new Error(`bench: ${this.what}: no line within ${timeoutMs} ms`)), timeoutMs);
      const onExit = (code: number | null): void => reject(new Error(`bench: ${this.what} exited (${code}) before answering`));
      this.child.once('exit', onExit);
      this.waiter = (line) => {
        clearTimeout(timer);
        this.child.off('exit', onExit);
        resolve(line);
      };
    });
  }
}

/** Starts peer `name` and resolves once its server listens, with its port. */
export async function startPeer(name: PeerName, python: string, args: readonly string[]): Promise<{ child: ChildProcess; lines: JsonLines; port: number }> {
  const child = spawn(python, [...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd: PEERS_DIR });
  const lines = new JsonLines(child, `peer ${name}`);
  try {
    const ready = (await lines.next(120_000)) as { ready?: boolean; port?: number };
    if (ready.ready !== true || typeof ready.port !== 'number') throw new Error(`bench: peer ${name}: expected its ready line, got ${JSON.stringify(ready)}`);
    return { child, lines, port: ready.port };
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
}

/** Stops a peer (SIGTERM, then SIGKILL after 10 s). */
export async function stopPeer(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  await exited;
  clearTimeout(timer);
}

export async function peerPhase(name: PeerName, p: PeerParams): Promise<PeerRound> {
  const { child, lines, port } = await startPeer(name, p.python, peerArgs(name, p));
  const pid = child.pid as number;
  try {
    const start = Date.now() + p.warmupS * 1000;
    const end = start + p.seconds * 1000;
    const clientDone = measureClient(`ws://127.0.0.1:${port}/`, start, end);
    const sample = async (): Promise<{ cpuMs: number; counters: Counters }> => {
      const cpuMs = pidCpuMs(pid) ?? Number.NaN; // first: answering the signal costs CPU of its own
      child.kill('SIGUSR1');
      return { cpuMs, counters: (await lines.next(10_000)) as Counters };
    };
    const s0 = await at(start, sample);
    const [rss, s1] = await at(end, async () => [rssMb(pid), await sample()] as const);
    const client = await clientDone;
    const lat = [...client.latencyMs].sort((a, b) => a - b);
    const perStream = Array.from({ length: p.streams }, (_, i) => (client.perStream[`bench${i}`] ?? 0) / p.seconds);
    const published = s1.counters.published - s0.counters.published;
    const batches = s1.counters.batches - s0.counters.batches;
    const drops: Record<string, number> = {};
    for (const [k, v] of Object.entries(s1.counters.dropped)) if (v - (s0.counters.dropped[k] ?? 0) > 0) drops[k] = v - (s0.counters.dropped[k] ?? 0);
    return {
      masksPerS: lat.length / p.seconds,
      cpuMsPerMask: (s1.cpuMs - s0.cpuMs) / published,
      p50: percentile(lat, 50),
      p99: percentile(lat, 99),
      drops,
      streamMinPerS: Math.min(...perStream),
      streamMaxPerS: Math.max(...perStream),
      meanBatch: batches > 0 ? published / batches : Number.NaN,
      rssMb: rss,
    };
  } finally {
    await stopPeer(child);
  }
}
