/**
 * CPU time of this process, split by thread, and of its ffmpeg children, read from /proc (Linux).
 * The benchmark's noise-proof figure: on a shared machine wall-clock rates move with the
 * neighbours' load, CPU time spent per mask barely does.
 *
 * Threads: the main thread (tid = pid) runs cutting, batching, the hand-over to the worker,
 * encoding, sending and metrics; every other thread is the inference worker, ONNX Runtime's
 * intra-op pool, and V8/libuv helpers (GC, thread pool).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's utime/stime (almost always 100). */
const CLK_TCK = ((): number => {
  const r = spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' });
  const n = Number(r.stdout.trim());
  return Number.isInteger(n) && n > 0 ? n : 100;
})();

interface ProcStat {
  readonly comm: string;
  readonly ppid: number;
  /** utime + stime, in ms. */
  readonly cpuMs: number;
}

/** /proc/<path>/stat, or null once the process/thread is gone. */
function readStat(path: string): ProcStat | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${path}/stat`, 'utf8');
  } catch {
    return null;
  }
  // comm is in parentheses and may contain spaces: fields are counted after the last ')'.
  const close = text.lastIndexOf(')');
  const comm = text.slice(text.indexOf('(') + 1, close);
  const f = text.slice(close + 2).split(' '); // f[0] = state (field 3)
  const utime = Number(f[11]); // field 14
  const stime = Number(f[12]); // field 15
  return { comm, ppid: Number(f[1]), cpuMs: ((utime + stime) * 1000) / CLK_TCK };
}

export interface CpuSample {
  /** Whole process (process.cpuUsage: µs precision), ms. */
  readonly processMs: number;
  /** The main thread, ms. */
  readonly mainMs: number;
  /** ffmpeg children by pid, ms. */
  readonly ffmpegMs: ReadonlyMap<number, number>;
}

/** ffmpeg children of this process (the daemon's sources spawn them directly). */
function ffmpegChildren(): Map<number, number> {
  const out = new Map<number, number>();
  for (const pid of childPids(process.pid, 'ffmpeg')) {
    const st = readStat(String(pid));
    if (st !== null) out.set(pid, st.cpuMs);
  }
  return out;
}

/** Pids of the children of `parent` whose command is `comm`. */
export function childPids(parent: number, comm: string): number[] {
  const out: number[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const st = readStat(name);
    if (st !== null && st.ppid === parent && st.comm === comm) out.push(Number(name));
  }
  return out;
}

/** CPU time of another process (all its threads), ms; null once it is gone. */
export function pidCpuMs(pid: number): number | null {
  return readStat(String(pid))?.cpuMs ?? null;
}

/** A "Name:   N kB" field of a /proc file, in MB; NaN once the process is gone. */
function procMb(path: string, field: string): number {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return Number.NaN;
  }
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  return m === null ? Number.NaN : Number(m[1]) / 1024;
}

/** Resident set size of a process in MB (VmRSS), NaN once it is gone. */
export function rssMb(pid: number): number {
  return procMb(`/proc/${pid}/status`, 'VmRSS');
}

/**
 * Proportional set size in MB (smaps_rollup's Pss): private pages plus each shared page divided by
 * the processes sharing it. N ffmpeg children share one binary's text (~13 MB here), which RSS counts
 * N times and PSS once; summed over processes, PSS is what they take from the machine. NaN once gone.
 */
export function pssMb(pid: number): number {
  return procMb(`/proc/${pid}/smaps_rollup`, 'Pss');
}

/** RSS and PSS of this process plus its ffmpeg children, MB: the daemon's whole footprint. */
export function daemonMemoryMb(): { rss: number; pss: number } {
  const pids = [process.pid, ...childPids(process.pid, 'ffmpeg')];
  return { rss: pids.reduce((sum, pid) => sum + rssMb(pid), 0), pss: pids.reduce((sum, pid) => sum + pssMb(pid), 0) };
}

export function sampleCpu(): CpuSample {
  const u = process.cpuUsage();
  return {
    processMs: (u.user + u.system) / 1000,
    mainMs: readStat(`self/task/${process.pid}`)?.cpuMs ?? Number.NaN,
    ffmpegMs: ffmpegChildren(),
  };
}

export interface CpuSplit {
  /** Every thread of this process, ms. */
  readonly processMs: number;
  readonly mainMs: number;
  /** processMs − mainMs: inference worker, ORT pool, GC and libuv helpers. */
  readonly otherThreadsMs: number;
  /** ffmpeg children alive at both samples (decode, scale, pixel-format conversion), ms. */
  readonly ffmpegMs: number;
  /** ffmpeg children seen at only one sample (a restart inside the window would hide CPU). */
  readonly ffmpegUnpaired: number;
}

export function cpuBetween(a: CpuSample, b: CpuSample): CpuSplit {
  let ffmpegMs = 0;
  let unpaired = 0;
  for (const [pid, ms] of b.ffmpegMs) {
    const before = a.ffmpegMs.get(pid);
    if (before === undefined) unpaired++;
    else ffmpegMs += ms - before;
  }
  for (const pid of a.ffmpegMs.keys()) if (!b.ffmpegMs.has(pid)) unpaired++;
  const processMs = b.processMs - a.processMs;
  const mainMs = b.mainMs - a.mainMs;
  return { processMs, mainMs, otherThreadsMs: processMs - mainMs, ffmpegMs, ffmpegUnpaired: unpaired };
}
