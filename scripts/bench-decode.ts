/**
 * Bare decode, the floor's other half beside bare inference: the daemon's ffmpeg, with the daemon's own command
 * line (buildFfmpegArgs: same decoder threads, scale to the model's size, rgb24 to a pipe), on the clip looped
 * and unpaced, its output read and thrown away here. CPU ms per frame = the ffmpeg process's CPU (/proc) over
 * frames written inside the window; nothing else (no cutting, batching or inference).
 */
import { spawn } from 'node:child_process';
import { buildFfmpegArgs, parseSourceUrl } from '../pipeline/sources/index.js';
import { at } from './bench-child.js';
import { pidCpuMs } from './bench-cpu.js';

export interface DecodeParams {
  readonly ffmpeg: string;
  readonly clip: string;
  readonly width: number;
  readonly height: number;
  readonly threads: number;
  readonly warmupS: number;
  readonly seconds: number;
}

export interface DecodeRound {
  framesPerS: number;
  cpuMsPerFrame: number;
}

export async function decodePhase(p: DecodeParams): Promise<DecodeRound> {
  const args = buildFfmpegArgs({
    source: parseSourceUrl(p.clip),
    loop: true,
    realtime: false,
    rtspTransport: 'tcp',
    width: p.width,
    height: p.height,
    maxFps: null,
    showinfo: false,
    ioTimeoutMs: 10_000,
    threads: p.threads,
  });
  const child = spawn(p.ffmpeg, args, { stdio: ['ignore', 'pipe', 'inherit'] });
  let bytes = 0;
  child.stdout.on('data', (d: Buffer) => (bytes += d.length));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  try {
    const sample = (): { bytes: number; cpuMs: number } => ({ bytes, cpuMs: pidCpuMs(child.pid as number) ?? Number.NaN });
    const start = Date.now() + p.warmupS * 1000;
    const s0 = await at(start, sample);
    const s1 = await at(start + p.seconds * 1000, sample);
    if (child.exitCode !== null) throw new Error(`bench: bare decode: ffmpeg exited (${child.exitCode}) inside the window`);
    const frames = (s1.bytes - s0.bytes) / (p.width * p.height * 3);
    return { framesPerS: frames / p.seconds, cpuMsPerFrame: (s1.cpuMs - s0.cpuMs) / frames };
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
}
