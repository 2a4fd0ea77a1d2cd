/**
 * The test's side of a leak check against a daemon process: readings from its leak probe
 * (leak-probe.ts, loaded into the daemon) and the statistics that turn them into a verdict.
 */
import type { ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { ProbeReply } from './leak-probe.js';
import { REPO_ROOT } from './paths.js';

export type { ProbeReply } from './leak-probe.js';

/** Node options that load the probe into a daemon process (spawn it with `ipc: true` too). */
export const LEAK_PROBE_NODE_ARGS: readonly string[] = ['--import', join(REPO_ROOT, 'dist', 'test', 'helpers', 'leak-probe.js')];

let nextId = 0;

/** Asks the probe in `child` for a reading (taken after its forced collections). */
export function leakProbe(child: ChildProcess): Promise<ProbeReply> {
  const id = nextId++;
  return new Promise((resolve, reject) => {
    const onMessage = (m: unknown): void => {
      const r = m as ProbeReply;
      if (r?.type !== 'leak-probe' || r.id !== id) return;
      child.off('message', onMessage);
      child.off('exit', onExit);
      resolve(r);
    };
    const onExit = (): void => reject(new Error('the daemon exited before the leak probe answered'));
    child.on('message', onMessage);
    child.once('exit', onExit);
    if (!child.send({ type: 'leak-probe', id })) reject(new Error('the daemon has no IPC channel (spawn it with ipc: true)'));
  });
}

/**
 * Theil–Sen slope of y over x: the median of the slopes between every pair of points. One
 * outlier (a collection that freed late, a burst of frames in flight) moves it little, where
 * least squares would follow it; a steady leak moves every pair, so the median too.
 */
export function theilSenSlope(xs: readonly number[], ys: readonly number[]): number {
  const slopes: number[] = [];
  for (let i = 0; i < xs.length; i++) {
    for (let j = i + 1; j < xs.length; j++) {
      const dx = (xs[j] as number) - (xs[i] as number);
      if (dx !== 0) slopes.push(((ys[j] as number) - (ys[i] as number)) / dx);
    }
  }
  if (slopes.length === 0) throw new RangeError('theilSenSlope: need two points with different x');
  slopes.sort((a, b) => a - b);
  const mid = slopes.length >> 1;
  return slopes.length % 2 === 1 ? (slopes[mid] as number) : ((slopes[mid - 1] as number) + (slopes[mid] as number)) / 2;
}

/** Per resource type, the fewest seen over several readings (what persists, not what was in flight). */
export function resourceFloor(readings: readonly ProbeReply[]): Record<string, number> {
  const types = new Set(readings.flatMap((r) => Object.keys(r.resources)));
  const floor: Record<string, number> = {};
  for (const t of types) floor[t] = Math.min(...readings.map((r) => r.resources[t] ?? 0));
  return floor;
}
