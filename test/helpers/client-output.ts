/**
 * For the reference-client tests: runs a client program to completion, parses its per-frame lines
 * (`cam1 seq=12 road=0.3120 sky=0.2011 …`) and checks them against the model card.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { makeTempDir, startDaemonProcess, testConfig, writeConfig, type DaemonProcess } from './daemon.js';
import { E2eClient } from './e2e-client.js';
import { REPO_ROOT, SAMPLE_CLIP_TRAIN, SAMPLE_CLIP_VAL } from './paths.js';

export const CARD = JSON.parse(readFileSync(join(REPO_ROOT, 'models', 'sctnet-s-camvid.json'), 'utf8')) as {
  classes: { id: number; name: string; color: [number, number, number] }[];
};

export interface FrameLine {
  readonly streamId: string;
  readonly seq: number;
  readonly fractions: ReadonlyMap<string, number>;
}

export interface ProgramResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `cmd args` (cwd = repo root); SIGKILL after timeoutMs (a hang guard). */
export function runProgram(cmd: string, args: readonly string[], timeoutMs = 60_000): Promise<ProgramResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: REPO_ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const onExit = (): void => void child.kill('SIGKILL');
    process.once('exit', onExit);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      process.off('exit', onExit);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Parses and checks every line: known class names, fractions in [0, 1] that sum to ~1. */
export function parseFrameLines(stdout: string): FrameLine[] {
  const names = new Set(CARD.classes.map((c) => c.name));
  const lines = stdout.split('\n').filter((l) => l.length > 0);
  return lines.map((line) => {
    const m = /^(\S+) seq=(\d+) (.+)$/.exec(line);
    assert.ok(m, `line ${JSON.stringify(line)}: expected "<stream> seq=<n> <class>=<fraction> …"`);
    const fractions = new Map<string, number>();
    for (const part of (m[3] as string).split(' ')) {
      const [name, value] = part.split('=');
      assert.ok(name !== undefined && names.has(name), `class ${JSON.stringify(name)} is in the model card (line ${line})`);
      const v = Number(value);
      assert.ok(v >= 0 && v <= 1, `fraction ${value} in [0, 1]`); // a few pixels print as 0.0000
      fractions.set(name, v);
    }
    const sum = [...fractions.values()].reduce((a, b) => a + b, 0);
    assert.ok(Math.abs(sum - 1) < 0.002, `fractions of ${m[1]}#${m[2]} sum to ${sum}; expected ~1`);
    return { streamId: m[1] as string, seq: Number(m[2]), fractions };
  });
}

/** Fractions per class name computed here, from the mask's raw class ids. */
export function expectedFractions(ids: Uint8Array): Map<string, number> {
  const counts = new Array<number>(CARD.classes.length).fill(0);
  for (const id of ids) counts[id] = (counts[id] ?? 0) + 1;
  const out = new Map<string, number>();
  CARD.classes.forEach((c) => {
    const n = counts[c.id] ?? 0;
    if (n > 0) out.set(c.name, n / ids.length);
  });
  return out;
}

/** Same classes, values equal to the printed 4 decimals. */
export function assertSameFractions(got: ReadonlyMap<string, number>, expected: ReadonlyMap<string, number>, what: string): void {
  for (const [name, v] of expected) {
    if (v < 0.00005) continue; // prints as 0.0000 and may be left out
    assert.ok(Math.abs((got.get(name) ?? -1) - v) <= 0.00006, `${what}: ${name} = ${got.get(name)}; expected ${v.toFixed(6)}`);
  }
  for (const name of got.keys()) assert.ok(expected.has(name), `${what}: ${name} printed but absent from the mask`);
}

/**
 * The daemon both client tests run against (two clip streams at 5 fps) and an independent
 * reference client recording every mask by `${streamId}#${seq}`; all torn down with the test.
 */
export async function liveDaemonWithReference(t: TestContext): Promise<{ daemon: DaemonProcess; masks: Map<string, Uint8Array> }> {
  const tmp = makeTempDir();
  t.after(tmp.cleanup);
  const streams = [
    { id: 'cam1', url: SAMPLE_CLIP_VAL, maxFps: 5 },
    { id: 'cam2', url: SAMPLE_CLIP_TRAIN, maxFps: 5 },
  ];
  const daemon = await startDaemonProcess({ args: ['run', '--config', writeConfig(tmp.dir, testConfig(streams))] });
  t.after(() => daemon.stop());
  await daemon.waitForReady();

  const reference = await E2eClient.connect(daemon.wsUrl);
  t.after(() => reference.terminate());
  const masks = new Map<string, Uint8Array>();
  reference.keep = (m) => {
    masks.set(`${m.streamId}#${m.seq}`, Uint8Array.from(m.payload));
    return false;
  };
  return { daemon, masks };
}
