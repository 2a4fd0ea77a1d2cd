/**
 * A real Triton per test: PyTriton's tritonserver (test/helpers/triton-server.py, in the venv of
 * test/triton/setup_env.sh on Debian's /usr/bin/python3) serving a contract ONNX through
 * onnxruntime CPU, on 127.0.0.1 ports picked here. Started in its own process group, so `kill()`
 * takes down the Python process, tritonserver and its backend stubs together (SIGKILL: an outage,
 * not a shutdown); `restart()` serves again on the same ports.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { REPO_ROOT } from './paths.js';
import { freePort } from './mosquitto.js';

const SERVER_SCRIPT = join(REPO_ROOT, 'test', 'helpers', 'triton-server.py');

let venvPython: string | null = null;

/** The test venv's python (built once, then cached outside the clone; scripts/setup.sh --test builds it). */
export function tritonPython(): string {
  venvPython ??= join(execFileSync('bash', [join(REPO_ROOT, 'test', 'triton', 'setup_env.sh')], { encoding: 'utf8', timeout: 1_800_000 }).trim(), 'bin', 'python');
  return venvPython;
}

/** How long a server may take to start before the helper gives up on it (a hang guard, not an assertion). */
const START_GUARD_MS = 240_000;

const live = new Set<ChildProcess>();
process.on('exit', () => {
  for (const c of live) if (c.pid !== undefined) killGroup(c.pid);
});

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // already gone
  }
}

export interface TritonOptions {
  readonly model: string;
  readonly name: string;
  /** Put this card's JSON into the model config parameter segd_card. */
  readonly card?: string;
  readonly maxBatch?: number;
  /** ONNX Runtime inside the server: intra-op threads (1) and whether they spin (ORT's default: yes). */
  readonly threads?: number;
  /** Model instances, each its own onnxruntime session of `threads` threads (1). */
  readonly instances?: number;
  readonly allowSpinning?: boolean;
  /** Serve the tensors under other names (a contract mismatch). */
  readonly inputName?: string;
  readonly outputName?: string;
}

export interface TritonServer {
  readonly grpcUrl: string;
  /** KServe v2 REST (http://127.0.0.1:PORT). */
  readonly httpUrl: string;
  readonly httpPort: number;
  /** Triton's Prometheus endpoint (per-model request, queue and compute counters). */
  readonly metricsUrl: string;
  log(): string;
  /** SIGKILL to the whole process group; resolves once the Python process has exited. */
  kill(): Promise<void>;
  /** A new server on the same ports and model. */
  restart(): Promise<TritonServer>;
}

interface Ports {
  readonly http: number;
  readonly grpc: number;
  readonly metrics: number;
}

async function launch(opts: TritonOptions, ports: Ports): Promise<TritonServer> {
  const args = [SERVER_SCRIPT, '--model', opts.model, '--name', opts.name, '--http-port', String(ports.http), '--grpc-port', String(ports.grpc), '--metrics-port', String(ports.metrics), '--max-batch', String(opts.maxBatch ?? 4)];
  if (opts.card !== undefined) args.push('--card', opts.card);
  if (opts.threads !== undefined) args.push('--threads', String(opts.threads));
  if (opts.instances !== undefined) args.push('--instances', String(opts.instances));
  if (opts.allowSpinning !== undefined) args.push('--allow-spinning', opts.allowSpinning ? '1' : '0');
  if (opts.inputName !== undefined) args.push('--input-name', opts.inputName);
  if (opts.outputName !== undefined) args.push('--output-name', opts.outputName);
  const child = spawn(tritonPython(), args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  live.add(child);
  let log = '';
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    // A start that never finishes fails with the server's log, not a silent hang.
    const guard = setTimeout(() => {
      if (child.pid !== undefined) killGroup(child.pid);
      reject(new Error(`triton-server.py did not serve within ${START_GUARD_MS} ms:\n${log.slice(-3000)}`));
    }, START_GUARD_MS);
    // The token is looked for anywhere in stdout: tritonserver writes its log there too, sometimes a
    // line in pieces with the token in between, so it need not start a line.
    let out = '';
    const onData = (d: string): void => {
      log += d;
      out += d;
      if (out.includes('SEGD_TRITON_READY')) {
        clearTimeout(guard);
        resolve();
      }
    };
    child.stdout?.setEncoding('utf8').on('data', onData);
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (log += d));
    child.on('exit', (code) => {
      clearTimeout(guard);
      reject(new Error(`triton-server.py exited (${code}) before serving:\n${log.slice(-3000)}`));
    });
  });
  const server: TritonServer = {
    grpcUrl: `grpc://127.0.0.1:${ports.grpc}`,
    httpUrl: `http://127.0.0.1:${ports.http}`,
    httpPort: ports.http,
    metricsUrl: `http://127.0.0.1:${ports.metrics}/metrics`,
    log: () => log,
    kill: async () => {
      if (child.pid !== undefined) killGroup(child.pid);
      await exited;
      live.delete(child);
    },
    restart: async () => {
      await server.kill();
      return launch(opts, ports);
    },
  };
  return server;
}

/** The server's URL for a transport (the scheme picks it: triton-transport.ts). */
export function tritonUrl(server: TritonServer, protocol: 'grpc' | 'http'): string {
  return protocol === 'grpc' ? server.grpcUrl : server.httpUrl;
}

export async function startTriton(opts: TritonOptions): Promise<TritonServer> {
  return launch(opts, { http: await freePort(), grpc: await freePort(), metrics: await freePort() });
}
