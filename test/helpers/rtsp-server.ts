/**
 * Starts/stops test/helpers/rtsp-server.py (GStreamer RTSP server, Debian python3) for tests.
 * The server is bound to 127.0.0.1; port 0 picks an ephemeral one, a fixed port restarts a
 * server where a killed one was (reconnect tests).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, renameSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { FFMPEG_PATH, REPO_ROOT, SAMPLE_CLIP_VAL, SYSTEM_PYTHON } from './paths.js';

export interface RtspServerOptions {
  /** MP4 with an H.264 track, served looped (see loopedCopy). Default: the shared val clip. */
  readonly file?: string;
  /** 0 (default) = ephemeral. */
  readonly port?: number;
  /** Default '/clip'. */
  readonly mount?: string;
  /** Require basic auth with these credentials. */
  readonly user?: string;
  readonly password?: string;
  /** Hang guard for startup. Default 15 s. */
  readonly readyTimeoutMs?: number;
}

export interface RtspServer {
  /** rtsp://127.0.0.1:<port><mount>, without credentials. */
  readonly url: string;
  readonly port: number;
  readonly mount: string;
  readonly pid: number;
  /** `url` with user:password@ inserted (percent-encoded). */
  urlWithCredentials(user: string, password: string): string;
  /** Kills the server (SIGTERM, SIGKILL after 3 s) and resolves once it has exited. Idempotent. */
  stop(): Promise<void>;
}

const SCRIPT = join(REPO_ROOT, 'test', 'helpers', 'rtsp-server.py');
/** Loops in the served copy: 30 × the 10 s sample clip = 5 min, longer than any test holds a server. */
const LOOPS = 30;

/**
 * A copy of `file` played LOOPS times back to back (stream copy, continuous timestamps), made once and
 * shared by every test process (keyed by the file's path, size and mtime; written to a temp name and
 * renamed, so concurrent makers cannot expose a half-written file). The server serves it without seeking.
 */
export function loopedCopy(file: string): string {
  const st = statSync(file);
  const key = `${basename(file).replace(/[^\w.-]/g, '_')}-${st.size}-${Math.floor(st.mtimeMs)}-x${LOOPS}.mp4`;
  const out = join(tmpdir(), `segd-rtsp-${key}`);
  if (existsSync(out)) return out;
  const part = `${out}.${process.pid}.part`;
  const r = spawnSync(FFMPEG_PATH, ['-hide_banner', '-loglevel', 'error', '-y', '-stream_loop', String(LOOPS - 1),
    '-i', file, '-map', '0:v:0', '-c', 'copy', '-f', 'mp4', part], { timeout: 60_000 });
  if (r.status !== 0) throw new Error(`rtsp-server: cannot make a looped copy of ${file}: ${r.stderr?.toString()}`);
  renameSync(part, out);
  return out;
}

export function startRtspServer(opts: RtspServerOptions = {}): Promise<RtspServer> {
  const mount = opts.mount ?? '/clip';
  const args = [SCRIPT, '--file', loopedCopy(opts.file ?? SAMPLE_CLIP_VAL), '--port', String(opts.port ?? 0), '--mount', mount];
  if (opts.user !== undefined) args.push('--user', opts.user, '--password', opts.password ?? '');
  // stdin stays an open pipe: the server exits when it closes, so it cannot outlive this process.
  const child = spawn(SYSTEM_PYTHON, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (s: string) => {
    if (stderr.length < 16_384) stderr += s;
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('close', () => resolve());
  });

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> => {
    if (stopping !== null) return stopping;
    stopping = (async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 3000);
        await exited;
        clearTimeout(killer);
      }
      child.stdin.destroy();
    })();
    return stopping;
  };

  return new Promise<RtspServer>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => {
      void stop();
      reject(new Error(`rtsp-server: no READY line within ${opts.readyTimeoutMs ?? 15_000} ms; stderr: ${stderr}`));
    }, opts.readyTimeoutMs ?? 15_000);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`rtsp-server exited before READY (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (s: string) => {
      out += s;
      const m = /READY port=(\d+)/.exec(out);
      if (m === null) return;
      clearTimeout(timer);
      child.stdout.removeAllListeners('data');
      child.stdout.resume();
      const port = Number(m[1]);
      const url = `rtsp://127.0.0.1:${port}${mount}`;
      resolve({
        url,
        port,
        mount,
        pid: child.pid as number,
        urlWithCredentials: (user, password) =>
          `rtsp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@127.0.0.1:${port}${mount}`,
        stop,
      });
    });
  });
}
