/**
 * Shared pieces of the fault tests (test/faults-*.test.ts): finding the daemon's ffmpeg children
 * through /proc, reading restart counters by reason, and asserting that the healthy streams keep
 * publishing while one is broken.
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { E2eClient } from './e2e-client.js';
import { metricValue } from './e2e-client.js';

/** Direct children of `pid` with their command lines (Linux /proc). */
export function childProcesses(pid: number): { pid: number; cmdline: string[] }[] {
  const out: { pid: number; cmdline: string[] }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Field 4 of /proc/PID/stat is the parent pid; the command (field 2) may contain spaces, so split after ')'.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== pid) continue;
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').filter((s) => s !== '');
      out.push({ pid: Number(entry), cmdline });
    } catch {
      // the process ended while we looked
    }
  }
  return out;
}

/** The pid of the daemon's ffmpeg child whose arguments include `needle` (e.g. the stream's file path). */
export function ffmpegChildOf(daemonPid: number, needle: string): number | undefined {
  return childProcesses(daemonPid).find((c) => c.cmdline.some((a) => a.includes(needle)) && c.cmdline.some((a) => a.includes('ffmpeg')))?.pid;
}

/** segd_stream_restarts_total{stream, reason}; 0 when absent. */
export function restarts(text: string, stream: string, reason: 'stalled' | 'exited' | 'spawn_failed'): number {
  return metricValue(text, 'segd_stream_restarts_total', { stream, reason }) ?? 0;
}

/** Waits until each of `streams` delivered `more` masks beyond what the client has counted now. */
export async function keepsPublishing(client: E2eClient, streams: readonly string[], more = 5, timeoutMs = 60000): Promise<void> {
  const base = new Map(streams.map((s) => [s, client.count(s)]));
  await client.waitUntil(
    () => streams.every((s) => client.count(s) >= (base.get(s) ?? 0) + more),
    `${more} more masks from each of ${streams.join(', ')}`,
    timeoutMs,
  );
}
