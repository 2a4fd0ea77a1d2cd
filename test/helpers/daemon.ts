/**
 * Runs the built daemon (dist/daemon/cli.js) as a real child process: `run --port 0`, waits for
 * its "listening" log line to learn the bound port, and stops it (SIGTERM, SIGKILL as a last
 * resort). Every child started here is SIGKILLed when the test process exits, even on failure.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { REPO_ROOT, SHARED_DIR } from './paths.js';

export const CLI_PATH = join(REPO_ROOT, 'dist', 'daemon', 'cli.js');
export const MODEL_PATH = join(REPO_ROOT, 'models', 'sctnet-s-camvid.onnx');

/** One pino JSON line from the daemon's stdout. */
export type LogRecord = Record<string, unknown> & { msg?: string; level?: string };

export interface ExitInfo {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) {
    // A child started in a group of its own (SpawnOptions.command) takes its group with it.
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL');
    } catch {
      /* not a group leader */
    }
    c.kill('SIGKILL');
  }
});

/** A temp directory removed by the returned cleanup. */
export function makeTempDir(prefix = 'segd-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface TestStream {
  readonly id: string;
  readonly url: string;
  readonly [key: string]: unknown;
}

/**
 * A config object for tests: the real model (absolute path), CPU only (this machine has no GPU;
 * skipping tensorrt/cuda is covered by the engine tests), one warm-up run, the given streams.
 */
export function testConfig(streams: readonly TestStream[], extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: { host: '127.0.0.1', port: 0 },
    log: { level: 'info' },
    // One session (the default is two): lighter daemons for tests; test/e2e/sessions-daemon.test.ts runs two.
    model: { path: MODEL_PATH, providers: ['cpu'], warmupRuns: 1, sessions: 1, cpu: { intraOpThreads: 1, interOpThreads: 1 } },
    batching: { maxBatch: 2, maxDelayMs: 15, perStreamCap: 1 },
    // The shared test clips live outside the config's (temporary) directory.
    sources: { allowedDirs: [SHARED_DIR] },
    ...extra,
    streams,
  };
}

export function writeConfig(dir: string, config: unknown, name = 'segd.yaml'): string {
  const path = join(dir, name);
  writeFileSync(path, typeof config === 'string' ? config : stringify(config));
  return path;
}

export interface CliResult extends ExitInfo {
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs `node dist/daemon/cli.js ...args` to completion (for short commands: check-config, --help). */
export function runCli(
  args: readonly string[],
  opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number; cliPath?: string; cwd?: string } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [opts.cliPath ?? CLI_PATH, ...args], { cwd: opts.cwd ?? REPO_ROOT, env: opts.env ?? cleanEnv() });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`segd ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 20000} ms\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 20000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The test's environment without SEGD_* variables that would override the files under test. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // NODE_TEST_CONTEXT would make a child node think it runs under this test runner.
    if (k === 'NODE_TEST_CONTEXT' || (k.startsWith('SEGD_') && k !== 'SEGD_SHARED')) continue;
    env[k] = v;
  }
  return { ...env, ...extra };
}

export interface DaemonProcess {
  readonly child: ChildProcess;
  readonly port: number;
  readonly httpUrl: string;
  readonly wsUrl: string;
  /** Every JSON log line so far (grows while the daemon runs). */
  readonly logs: LogRecord[];
  stderr(): string;
  readonly exited: Promise<ExitInfo>;
  waitForLog(pred: (r: LogRecord) => boolean, what: string, timeoutMs?: number): Promise<LogRecord>;
  /** Polls GET /readyz until 200; returns its JSON body. */
  waitForReady(timeoutMs?: number): Promise<unknown>;
  /** Sends `signal` (default SIGTERM), waits for exit; SIGKILL after `killAfterMs`. Idempotent. */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<ExitInfo>;
}

export interface SpawnOptions {
  readonly args: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  /** Default: this checkout's dist/daemon/cli.js, run from the repository root. */
  readonly cliPath?: string;
  readonly cwd?: string;
  /** Node options before the script, e.g. `--expose-gc` and `--import` of a probe (test/helpers/leak-probe.ts). */
  readonly nodeArgs?: readonly string[];
  /** Open an IPC channel to the daemon (child.send / 'message'), for a probe loaded with nodeArgs. */
  readonly ipc?: boolean;
  /** Another command line instead of `node CLI args` (e.g. `npm start`): run in a process group of its own, signalled as a whole. */
  readonly command?: readonly [string, ...string[]];
}

/** Spawns the CLI with `args`; resolves once it logged "listening" (rejects if it exits first). */
export async function startDaemonProcess(opts: SpawnOptions, startTimeoutMs = 60000): Promise<DaemonProcess> {
  const group = opts.command !== undefined;
  const [file, ...argv] = opts.command ?? [process.execPath, ...(opts.nodeArgs ?? []), opts.cliPath ?? CLI_PATH, ...opts.args];
  const child = spawn(file, argv, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: opts.env ?? cleanEnv(),
    stdio: opts.ipc === true ? ['pipe', 'pipe', 'pipe', 'ipc'] : 'pipe',
    detached: group,
  });
  live.add(child);
  // npm and the like do not always pass a signal on: the whole process group gets it.
  const signal = (s: NodeJS.Signals): void => {
    if (!group || child.pid === undefined) child.kill(s);
    else {
      try {
        process.kill(-child.pid, s);
      } catch {
        child.kill(s);
      }
    }
  };
  const logs: LogRecord[] = [];
  const waiters = new Set<() => void>();
  let stderr = '';
  let pending = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => {
    pending += d;
    let nl: number;
    while ((nl = pending.indexOf('\n')) >= 0) {
      const line = pending.slice(0, nl);
      pending = pending.slice(nl + 1);
      try {
        logs.push(JSON.parse(line) as LogRecord);
      } catch {
        logs.push({ msg: line, level: 'raw' });
      }
    }
    for (const w of waiters) w();
  });
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<ExitInfo>((resolve) =>
    child.on('exit', (code, signal) => {
      live.delete(child);
      resolve({ code, signal });
      for (const w of waiters) w();
    }),
  );
  let exitInfo: ExitInfo | null = null;
  void exited.then((e) => (exitInfo = e));

  const tail = (): string =>
    `\n--- last log lines ---\n${logs.slice(-15).map((l) => JSON.stringify(l)).join('\n')}\n--- stderr ---\n${stderr.slice(-2000)}`;

  const waitForLog = (pred: (r: LogRecord) => boolean, what: string, timeoutMs = 30000): Promise<LogRecord> =>
    new Promise((resolve, reject) => {
      let from = 0;
      const check = (): void => {
        for (; from < logs.length; from++) {
          const r = logs[from];
          if (r !== undefined && pred(r)) return done(null, r);
        }
        if (exitInfo !== null) done(new Error(`daemon exited (${JSON.stringify(exitInfo)}) before: ${what}${tail()}`));
      };
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for: ${what}${tail()}`)), timeoutMs);
      const done = (err: Error | null, r?: LogRecord): void => {
        clearTimeout(timer);
        waiters.delete(check);
        if (err) reject(err);
        else resolve(r as LogRecord);
      };
      waiters.add(check);
      check();
    });

  let stopping: Promise<ExitInfo> | null = null;
  const stop = (sig: NodeJS.Signals = 'SIGTERM', killAfterMs = 10000): Promise<ExitInfo> => {
    stopping ??= (async () => {
      if (exitInfo === null) signal(sig);
      const timer = setTimeout(() => signal('SIGKILL'), killAfterMs);
      const e = await exited;
      clearTimeout(timer);
      return e;
    })();
    return stopping;
  };

  let listening: LogRecord;
  try {
    listening = await waitForLog((r) => r.msg === 'listening' && typeof r['port'] === 'number', 'the "listening" log line', startTimeoutMs);
  } catch (err) {
    await stop('SIGKILL');
    throw err;
  }
  const port = listening['port'] as number;
  const host = '127.0.0.1';

  const waitForReady = async (timeoutMs = 60000): Promise<unknown> => {
    const deadline = Date.now() + timeoutMs;
    let last = '';
    while (Date.now() < deadline) {
      if (exitInfo !== null) throw new Error(`daemon exited while waiting for /readyz${tail()}`);
      try {
        const res = await fetch(`http://${host}:${port}/readyz`);
        const body: unknown = await res.json();
        if (res.status === 200) return body;
        last = `${res.status} ${JSON.stringify(body)}`;
      } catch (err) {
        last = String(err);
      }
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`/readyz not 200 within ${timeoutMs} ms (last: ${last})${tail()}`);
  };

  return {
    child,
    port,
    httpUrl: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/ws`,
    logs,
    stderr: () => stderr,
    exited,
    waitForLog,
    waitForReady,
    stop,
  };
}

/** Writes `config` into `dir`, starts the built daemon on it and resolves once /readyz says ready. */
export async function startReadyDaemon(dir: string, config: unknown, spawnOptions: Omit<SpawnOptions, 'args'> = {}): Promise<DaemonProcess> {
  const daemon = await startDaemonProcess({ ...spawnOptions, args: ['run', '--config', writeConfig(dir, config)] });
  await daemon.waitForReady();
  return daemon;
}
